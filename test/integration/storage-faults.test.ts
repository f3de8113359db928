// The store's files and failures (issue 14): the data directory and
// SQLite's files are owner-only whatever the umask, a missing data directory
// is created, a lost key file is a clear error that changes nothing, a full
// disk is RESOURCE_EXHAUSTED saying so (and the server keeps running), and
// health is NOT_SERVING while the store cannot be reached.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Code } from "@lessor/client";
import { rejects } from "../helpers/errors.js";
import { HealthClient } from "../helpers/health.js";
import { databaseName, startPostgres } from "../helpers/postgres.js";
import { clientFor, runCli, startServer, tempDir } from "../helpers/processes.js";
import { databaseFor, onPostgres, storageArgs, storageUrlFor, testCluster } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const mode = (path: string) => statSync(path).mode & 0o777;

test("files are owner-only whatever the umask, a missing data directory is created, a lost key file changes nothing", async () => {
  // A data directory that does not exist yet, under a permissive umask.
  const dataDir = join(tempDir("files"), "not", "yet");
  const umask = process.umask(0o022);
  let server;
  try {
    server = await startServer({ dataDir });
  } finally {
    process.umask(umask);
  }
  const client = clientFor(server);
  await client.mounts.enable("kv", { path: "kv" });
  await client.write("kv/app", { password: "sealed" });
  const files = onPostgres() ? ["lessor.key"] : ["lessor.key", "lessor.db", "lessor.db-wal", "lessor.db-shm"];
  assert.equal(mode(dataDir), 0o700, "the data directory is owner-only");
  for (const f of files) assert.equal(mode(join(dataDir, f)), 0o600, `${f} is owner-only`);
  client.close();
  await server.stop();

  // The key file is lost: the next start names it, and creates or changes nothing.
  const keyFile = join(dataDir, "lessor.key");
  rmSync(keyFile);
  const before = readdirSync(dataDir).sort();
  const r = await runCli(["server", `-data-dir=${dataDir}`, "-listen-address=127.0.0.1:0", ...(await storageArgs(dataDir))]);
  assert.equal(r.code, 1, r.stdout);
  // SQLite: the database file is there, so the key file was lost. PostgreSQL: the shared database refuses the key a new file would hold.
  const why = onPostgres()
    ? "and the encryption key does not match this database \\(it was sealed with another key\\): copy the key file"
    : "but the database .* exists and was sealed with it: restore the key file";
  assert.match(r.stderr, new RegExp(`the key file ${keyFile} is missing, ${why}`));
  assert.doesNotMatch(r.stderr, /ENOENT/);
  assert.equal(existsSync(keyFile), false, "no new key file was made");
  assert.deepEqual(readdirSync(dataDir).sort(), before, "nothing was created in the data directory");
});

/** A tmpfs of `size` at a new directory, or the reason it cannot be made here (it needs root). */
function smallDisk(size: string): { dir: string } | { skip: string } {
  const dir = tempDir("small-disk");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir], { stdio: "pipe" });
    return { dir };
  } catch (err) {
    return { skip: `a small disk needs mounting a tmpfs, which this environment refuses (${String(err).split("\n")[0]})` };
  }
}

/** Fills the disk at `dir` to its last byte; returns the filler file. */
function fill(dir: string): string {
  const path = join(dir, "filler");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeFileSync(path, chunk, { flag: "a" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  }
  try {
    for (;;) writeFileSync(path, Buffer.alloc(512, 1), { flag: "a" });
  } catch {
    // full
  }
  return path;
}

test("a full disk is RESOURCE_EXHAUSTED saying so; the server keeps running and nothing stored is lost", async (t) => {
  const disk = smallDisk("16m");
  if ("skip" in disk) return t.skip(disk.skip);
  const cleanups: Array<() => Promise<void> | void> = [() => void execFileSync("umount", ["-l", disk.dir])];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  let dataDir: string;
  if (onPostgres()) {
    // PostgreSQL: the server's database in a tablespace on the small disk (owned by the cluster's user).
    dataDir = tempDir("full-data");
    const cluster = testCluster();
    const [setting] = await cluster.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
    const owner = statSync(setting?.dir ?? "/");
    execFileSync("chown", [`${owner.uid}:${owner.gid}`, disk.dir]);
    const space = databaseName(`ts_${randomBytes(4).toString("hex")}`);
    await cluster.query(`CREATE TABLESPACE ${space} LOCATION '${disk.dir}'`);
    const db = databaseFor(dataDir);
    await cluster.query(`CREATE DATABASE ${db} TABLESPACE ${space}`);
    cleanups.push(async () => {
      await cluster.dropDatabase(db);
      await cluster.query(`DROP TABLESPACE IF EXISTS ${space}`);
    });
    assert.ok(await storageUrlFor(dataDir));
  } else {
    dataDir = join(disk.dir, "data");
  }
  const server = await startServer({ dataDir });
  const client = clientFor(server);
  cleanups.push(async () => {
    client.close();
    await server.stop();
  });
  await client.mounts.enable("kv", { path: "kv" });
  await client.write("kv/kept", { value: "written before the disk filled" });

  const filler = fill(disk.dir);
  const big = { value: "x".repeat(256 * 1024) };
  let err;
  for (let i = 0; i < 20 && err === undefined; i++) {
    // PostgreSQL may still find room in pages it has; a few writes fill them.
    err = await client.write(`kv/big-${i}`, big).then(
      () => undefined,
      (e: unknown) => e,
    );
  }
  assert.ok(err, "a write failed once the disk was full");
  await rejects(Promise.reject(err), Code.RESOURCE_EXHAUSTED, /the store's disk is full: the change was not saved/);

  // Room again: the server never stopped, writes work, and what was stored is all there.
  rmSync(filler);
  await client.write("kv/after", { value: "written after" });
  assert.deepEqual((await client.read("kv/kept")).data, { value: "written before the disk filled" });
  assert.deepEqual((await client.read("kv/after")).data, { value: "written after" });
});

test("health is NOT_SERVING while PostgreSQL is down, and SERVING again when it is back", { skip: onPostgres() ? false : "PostgreSQL only: an SQLite file cannot become unreachable under a running server" }, async (t) => {
  // A cluster of its own: this test stops it.
  const pg = await startPostgres();
  t.after(() => pg.stop());
  const url = await pg.createDatabase("health");
  const server = await startServer({ args: [`-storage-url=${url}`] });
  const client = clientFor(server);
  const health = new HealthClient(server.address);
  t.after(async () => {
    health.close();
    client.close();
    await server.stop();
  });
  assert.equal(await health.check(), "SERVING");

  await (pg.halt as () => Promise<void>)();
  await waitFor("health to turn NOT_SERVING", async () => (await health.check()) === "NOT_SERVING", 15_000, 100);
  assert.equal(await health.check("lessor.v1.SecretsService"), "NOT_SERVING");
  await rejects(client.tokens.lookupSelf(), Code.UNAVAILABLE, /the storage is unavailable/);

  await (pg.resume as () => Promise<void>)();
  await waitFor("health to turn SERVING again", async () => (await health.check()) === "SERVING", 20_000, 100);
  assert.deepEqual((await client.tokens.lookupSelf()).policies, ["root"]);
  assert.match(server.output(), /the store cannot be reached: health is NOT_SERVING/);
});
