// No secret value in the database (SQLite: the file and its WAL; PostgreSQL:
// every row, the database's files, and the cluster's write-ahead log), or in
// anything the server prints (JSON log lines and plain-text lines alike).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LessorClientError } from "@lessor/client";
import { clientFor, runCli, startServer } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator } from "../helpers/aws.js";
import { openRawDb, storedBytes, walBytes } from "../helpers/raw-db.js";
import { onPostgres } from "../helpers/store.js";

test("the root secret key and issued secret keys are never stored or logged in plaintext", async (t) => {
  const began = Date.now();
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  const server = await startServer({ env: awsEnv(emulator), args: ["-log-level=trace"] });
  const client = clientFor(server);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const issued = [await client.aws.creds("deploy"), await client.aws.creds("deploy")];
  await client.leases.revoke(issued[0]!.lease.id);
  await client.mounts.enable("kv", { path: "kv" });
  await client.write("kv/app", { password: "kv-value-must-be-sealed" });

  // Read the database while the server runs (SQLite: WAL not yet checkpointed) and after it stops.
  const whileRunning = await storedBytes(server.dataDir);
  client.close();
  await server.stop();
  const afterStop = await storedBytes(server.dataDir);
  const wal = onPostgres() ? await walBytes(began) : "";
  // Everything the server printed, JSON log lines and plain text alike, but the banner's one line that shows the root token, by design.
  const lines = server.output().split("\n");
  const logs = lines.filter((line) => !/^\s*Root Token: /.test(line)).join("\n");
  assert.equal(lines.length - logs.split("\n").length, 1, "one banner line shows the root token");

  const secrets = [emulator.rootSecretAccessKey, ...issued.map((c) => c.secretAccessKey), "kv-value-must-be-sealed", server.rootToken!];
  const places = [["database while running", whileRunning], ["database after stop", afterStop], ["PostgreSQL's write-ahead log", wal], ["server output", logs]] as const;
  for (const secret of secrets) {
    for (const [where, text] of places) assert.ok(!text.includes(secret), `a secret value appears in the ${where}`);
  }
  // The checks can fail: non-secret values are in the files, the WAL and the output in clear.
  assert.ok(whileRunning.includes("aws/creds/deploy/") || afterStop.includes("aws/creds/deploy/"));
  if (onPostgres()) assert.ok(wal.includes(issued[1]!.lease.id), "the WAL holds the lease ids in clear");
  assert.ok(logs.includes("lessor listening"));
  assert.ok(/^==> Lessor server started/m.test(logs), "the plain-text banner lines are read too");
  assert.ok(server.output().includes(server.rootToken!), "the banner did show the root token once");
});

test("a sealed value copied to another row fails to open; the row it belongs to still reads", async (t) => {
  const server = await startServer({ dev: false });
  const client = clientFor(server);
  await client.mounts.enable("kv", { path: "secret" });
  await client.write("secret/a", { password: "value-of-a" });
  await client.write("secret/b", { password: "value-of-b" });
  client.close();
  await server.stop();

  const db = await openRawDb(server.dataDir);
  const rows = await db.all<{ key: string; value: Buffer }>("SELECT key, value FROM engine_entries ORDER BY key");
  assert.deepEqual(rows.map((r) => r.key), ["a", "b"]);
  await db.run("UPDATE engine_entries SET value = ? WHERE key = 'b'", rows[0]!.value);
  await db.close();

  const again = await startServer({ dataDir: server.dataDir });
  const c2 = clientFor(again, server.rootToken);
  t.after(async () => {
    c2.close();
    await again.stop();
  });
  assert.deepEqual((await c2.read("secret/a")).data, { password: "value-of-a" });
  await assert.rejects(c2.read("secret/b"), (err: unknown) => {
    assert.ok(err instanceof LessorClientError);
    assert.equal(err.codeName, "DATA_LOSS");
    assert.match(err.message, /failed authentication \(wrong key, or moved between rows\)/);
    return true;
  });
});

test("key rotation: new writes use the new key, old rows are re-encrypted, the old key can be dropped", async (t) => {
  const server = await startServer();
  const client = clientFor(server);
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken };
  await client.mounts.enable("kv", { path: "secret" });
  for (let i = 0; i < 450; i++) await client.write(`secret/k${i}`, { value: `rotation-secret-${i}` });
  const child = await client.tokens.create({ ttlSeconds: 600 });
  await client.sys.enableAudit("file", { options: { file_path: join(server.dataDir, "audit.log") } });

  const keyFile = join(server.dataDir, "lessor.key");
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  let r = await runCli(["operator", "rotate-key"], { env });
  assert.equal(r.stdout, "Success! Rotated key: new writes are sealed with key 2; older values are re-encrypted in the background.\n", r.stderr);
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(keyFile, "utf8")) as { keys: object }).keys), ["1", "2"]);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  await client.write("secret/new", { value: "written-after-rotation" });

  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await client.sys.keyStatus();
    const old = status.keys.find((k) => k.id === 1);
    if (old && old.sealedValues === 0 && !status.reencrypting) break;
    assert.ok(Date.now() < deadline, `re-encryption did not finish: ${JSON.stringify(status)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  r = await runCli(["operator", "key-status"], { env });
  assert.match(r.stdout, /^Key ID {4}Active {4}Sealed Values\n------ {4}------ {4}-------------\n1 {9}false {5}0\n2 {9}true {6}\d+\n/);
  r = await runCli(["operator", "prune-keys"], { env });
  assert.equal(r.stdout, "Success! Dropped keys: 1\n");
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(keyFile, "utf8")) as { keys: object }).keys), ["2"]);

  const running = await storedBytes(server.dataDir);
  client.close();
  await server.stop();
  const stopped = await storedBytes(server.dataDir);
  for (const text of [running, stopped]) {
    for (const secret of ["rotation-secret-0", "rotation-secret-449", "written-after-rotation", child.token, server.rootToken!]) {
      assert.ok(!text.includes(secret), "a secret value appears in the database or its WAL");
    }
  }

  // Only key 2 is left, and everything reads after a restart.
  const again = await startServer({ dataDir: server.dataDir });
  const c2 = clientFor(again, server.rootToken);
  t.after(async () => {
    c2.close();
    await again.stop();
  });
  assert.deepEqual((await c2.read("secret/k0")).data, { value: "rotation-secret-0" });
  assert.deepEqual((await c2.read("secret/k449")).data, { value: "rotation-secret-449" });
  assert.deepEqual((await c2.read("secret/new")).data, { value: "written-after-rotation" });
  assert.equal((await c2.sys.listAudit())[0]?.path, "file/");
});
