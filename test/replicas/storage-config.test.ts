// Starting a replica on PostgreSQL with the wrong settings (issue 8): a key
// other than the one the database was sealed with, an sslmode that could fall
// back to plaintext, a malformed URL, a database that is not there. Each is
// refused at start with a message that says what is wrong, never quoting
// the password, and a refused start changes nothing in the database.
//
// PostgreSQL only: runs in the suite's PostgreSQL pass (test/run-suite.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { LessorClient } from "@lessor/client";
import { databaseName, freePort } from "../helpers/postgres.js";
import { startServer, tempDir, type ServerProcess, type StartServerOptions } from "../helpers/processes.js";
import { onPostgres, testCluster } from "../helpers/store.js";

const PG_ONLY = onPostgres() ? false : "PostgreSQL only: storage URL checks (runs in the suite's PostgreSQL pass)";
const PASSWORD = "Sup3r-s3cret-pw";

/** Starts a server that must refuse to start; returns everything it printed. */
async function refusedStart(options: StartServerOptions): Promise<string> {
  let server: ServerProcess | undefined;
  try {
    server = await startServer(options);
  } catch (err) {
    const message = (err as Error).message;
    assert.match(message, /^server did not start:/, message);
    return message.replace(/^server did not start:\n/, "");
  }
  await server.stop();
  assert.fail(`the server started, but should have refused:\n${server.output()}`);
}

/** Every row of every table (and every sequence's position) in a database, as text to compare. */
async function dump(db: string): Promise<string> {
  const pg = testCluster();
  const tables = await pg.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_name",
    [],
    db,
  );
  const out: Record<string, unknown> = {};
  for (const { name } of tables) {
    out[name] = await pg.query(`SELECT * FROM "${name.replace(/"/g, '""')}" AS t ORDER BY t::text`, [], db);
  }
  out["(sequences)"] = await pg.query("SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2", [], db);
  return JSON.stringify(out, null, 1);
}

test("a replica with the wrong encryption key refuses to start, says why, and changes nothing", { skip: PG_ONLY, timeout: 60_000 }, async (t) => {
  const pg = testCluster();
  const db = databaseName(`keycheck_${randomBytes(4).toString("hex")}`);
  const url = await pg.createDatabase(db);
  const args = [`-storage-url=${url}`];

  // The first replica seals the database with the key in its data directory, and leaves some state.
  const firstDir = tempDir("key-first");
  const first = await startServer({ dataDir: firstDir, args });
  t.after(() => first.stop());
  const token = first.rootToken;
  assert.ok(token);
  const client = new LessorClient({ address: first.address, token });
  await client.mounts.enable("kv", { path: "secret" });
  await client.write("secret/app", { password: "hunter2" });
  client.close();
  await first.stop();
  const before = await dump(db);
  assert.match(before, /"schema_migrations"/, "the dump sees the store's tables");

  // Another data directory, with no key file: refused, naming the key file to copy there, and none is made.
  const otherDir = tempDir("key-other");
  const out = await refusedStart({ dataDir: otherDir, args });
  assert.match(
    out,
    /Error starting the server: the key file \S+\/lessor\.key is missing, and the encryption key does not match this database \(it was sealed with another key\): copy the key file the other replicas use/,
  );
  assert.equal(existsSync(join(otherDir, "lessor.key")), false, "no key file was made");
  // The key given as LESSOR_SEAL_KEY instead of a file: refused the same way.
  const fromEnv = await refusedStart({ dataDir: tempDir("key-env"), args, env: { LESSOR_SEAL_KEY: randomBytes(32).toString("base64") } });
  assert.match(fromEnv, /the encryption key does not match this database/);
  assert.equal(await dump(db), before, "the refused starts wrote nothing to the database");

  // The right key (a copy of the first replica's key file) starts, and reads what the first wrote.
  const secondDir = tempDir("key-copy");
  copyFileSync(join(firstDir, "lessor.key"), join(secondDir, "lessor.key"));
  const second = await startServer({ dataDir: secondDir, args });
  t.after(() => second.stop());
  assert.equal(second.rootToken, undefined, "no second root token");
  const again = new LessorClient({ address: second.address, token });
  t.after(() => Promise.resolve(again.close()));
  assert.deepEqual((await again.read("secret/app")).data, { password: "hunter2" });
});

test("sslmode=prefer (and allow) is refused: it can silently fall back to plaintext", { skip: PG_ONLY, timeout: 60_000 }, async () => {
  const pg = testCluster();
  const db = databaseName(`sslmode_${randomBytes(4).toString("hex")}`);
  const url = new URL(await pg.createDatabase(db));
  url.password = PASSWORD;
  for (const mode of ["prefer", "allow"]) {
    url.searchParams.set("sslmode", mode);
    const out = await refusedStart({ args: [`-storage-url=${url.toString()}`] });
    assert.match(out, new RegExp(`sslmode=${mode} is refused: .*fall back to plaintext.*say sslmode=disable, require, verify-ca or verify-full`));
    assert.ok(!out.includes(PASSWORD), `the password is not printed:\n${out}`);
  }
  // Nothing was made in the database: the URL was refused before connecting.
  assert.deepEqual(await pg.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", [], db), []);
});

test("a malformed storage URL, an unreachable database and a missing one give clear errors without the password", { skip: PG_ONLY, timeout: 60_000 }, async () => {
  const pg = testCluster();

  const malformed = await refusedStart({ args: [`-storage-url=postgres://lessor:${PASSWORD}@127.0.0.1:99999/lessor`] });
  assert.match(malformed, /Error starting the server: .*(not a valid URL|invalid port)/);
  assert.ok(!malformed.includes(PASSWORD), `the password is not printed:\n${malformed}`);

  const wrongScheme = await refusedStart({ args: [`-storage-url=mysql://lessor:${PASSWORD}@127.0.0.1/lessor`] });
  assert.match(wrongScheme, /the storage URL must start with postgres:\/\/ or postgresql:\/\//);
  assert.ok(!wrongScheme.includes(PASSWORD));

  // Nothing listens on the port; the URL comes from the environment this time.
  const port = await freePort();
  const started = Date.now();
  const unreachable = await refusedStart({ env: { LESSOR_STORAGE_URL: `postgres://lessor:${PASSWORD}@127.0.0.1:${port}/lessor` } });
  assert.match(unreachable, new RegExp(`the storage \\(PostgreSQL at 127\\.0\\.0\\.1:${port}/lessor\\) is unavailable: .*ECONNREFUSED`));
  assert.ok(!unreachable.includes(PASSWORD), `the password is not printed:\n${unreachable}`);
  assert.ok(Date.now() - started < 30_000, "a refused connection fails the start at once, not after retrying for long");

  // The server is there, the database is not.
  const missing = new URL(pg.url(databaseName(`missing_${randomBytes(4).toString("hex")}`)));
  missing.password = PASSWORD;
  const noDb = await refusedStart({ args: [`-storage-url=${missing.toString()}`] });
  assert.match(noDb, /database "missing_[0-9a-f]+" does not exist/);
  assert.ok(!noDb.includes(PASSWORD), `the password is not printed:\n${noDb}`);
});
