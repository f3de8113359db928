// Revoke-prefix over a thousand leases (two batches), with the server killed in the
// middle: the job is recorded, so the next start continues it from its cursor
// by itself, and every IAM user is deleted exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseState, LessorClientError, type RevokeLeasePrefixResponse } from "@lessor/client";
import { clientFor, runCli, startServer, type ServerProcess } from "../helpers/processes.js";
import { awsEnv, startAwsEmulator } from "../helpers/aws.js";
import { countStates, mountAccessor, seedAwsLeases, waitFor } from "../helpers/leases.js";

/** Two of the job's batches (500 each), so progress comes batch by batch. */
const LEASES = 1_000;
/** Revocations followed before the stream is left and the server killed. */
const FOLLOWED = 200;
/** Fast enough to finish in seconds, slow enough to stop it half-way. */
const RATE = ["-revoke-rate=400", "-revoke-burst=50"];

test("revoke-prefix over a thousand leases survives a restart in the middle and finishes by itself", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  let server: ServerProcess = await startServer({ env: awsEnv(emulator), args: RATE });
  const { dataDir, rootToken: token } = server;
  let client = clientFor(server);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  const accessor = await mountAccessor(client, "aws/");
  client.close();
  await server.stop();

  const ids = await seedAwsLeases({
    dataDir,
    emulator,
    mountAccessor: accessor,
    idPrefix: "aws/creds/bulk/",
    userPrefix: "bulk-",
    count: LEASES,
    ttlMs: 3_600_000,
  });
  // Leases outside the prefix (a sibling whose name starts the same) must survive.
  const others = await seedAwsLeases({
    dataDir,
    emulator,
    mountAccessor: accessor,
    idPrefix: "aws/creds/bulky/",
    userPrefix: "other-",
    count: 20,
    ttlMs: 3_600_000,
  });
  assert.equal(emulator.listUsers().length, LEASES + 20);

  server = await startServer({ env: awsEnv(emulator), dataDir, args: RATE });
  client = clientFor(server, token);
  const seen: RevokeLeasePrefixResponse[] = [];
  try {
    for await (const progress of client.leases.revokePrefix("aws/creds/bulk")) {
      seen.push(progress);
      if (progress.revoked >= FOLLOWED) break; // stop following: the job goes on without us
    }
  } finally {
    client.close();
  }
  assert.ok(seen.length >= 2, "progress is streamed");
  assert.ok(seen.every((p, i) => i === 0 || (p.revoked >= seen[i - 1]!.revoked && p.matched >= seen[i - 1]!.matched)), "progress only grows");
  assert.ok(seen.at(-1)!.matched < LEASES, `batches, not everything at once (matched ${seen.at(-1)!.matched})`);
  await server.kill(); // a crash, mid-job

  const users = emulator.listUsers().length;
  assert.ok(users > 20 && users < LEASES + 20 - FOLLOWED + 1, `the crash came mid-job (${users} users left)`);

  // The next start resumes the job with nobody asking.
  server = await startServer({ env: awsEnv(emulator), dataDir, args: RATE });
  t.after(() => server.stop());
  assert.match(server.output(), /resuming revoke-prefix job/);
  client = clientFor(server, token);
  t.after(() => client.close());
  await waitFor(
    "the resumed job to revoke every lease under the prefix",
    90_000,
    () => countStates(client, "aws/creds/bulk/"),
    (c) => c.revoked === LEASES,
    500,
  );
  assert.deepEqual(
    emulator.listUsers().map((u) => u.userName).sort(),
    others.map((_, i) => `other-${i}`).sort(),
    "every IAM user under the prefix is gone; the others are untouched",
  );
  const deletions = emulator.counts().deleteUserSuccesses;
  assert.equal(Object.keys(deletions).length, LEASES);
  for (const [user, n] of Object.entries(deletions)) assert.equal(n, 1, `${user} deleted once`);
  assert.equal((await client.leases.lookup(ids[LEASES - 1]!)).state, LeaseState.LEASE_STATE_REVOKED);
  assert.equal((await client.leases.lookup(others[0]!)).state, LeaseState.LEASE_STATE_ACTIVE);

  // Force over the rest, through the CLI: loud, and the secrets stay.
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: token ?? "" };
  const forced = await runCli(["lease", "revoke", "-prefix", "-force", "aws/creds/bulky/"], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /Dropped 20 leases under aws\/creds\/bulky\/ without revoking their secrets\.\nSuccess! Force revoked any leases with prefix: aws\/creds\/bulky\/\n$/);
  assert.match(forced.stderr, /WARNING!.*\n\n {2}\* the leases were dropped without revoking their secrets; the secrets, if they still exist, were NOT destroyed/);
  assert.equal(emulator.listUsers().length, 20, "force deletes nothing in IAM");
  assert.equal((await countStates(client, "aws/creds/bulky/")).revoked, 20);

  // An empty prefix is refused, naming the field.
  const empty = await (async () => {
    try {
      for await (const _ of client.leases.revokePrefix("")) void _;
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  assert.ok(empty instanceof LessorClientError);
  assert.equal(empty.codeName, "INVALID_ARGUMENT");
  assert.match(empty.message, /^prefix: is empty/);
});

test("revoke -prefix -sync=false returns once the leases are queued; the CLI shows progress and a summary", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  const first = await startServer({ env: awsEnv(emulator) });
  let client = clientFor(first);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  const accessor = await mountAccessor(client, "aws/");
  client.close();
  await first.stop();
  await seedAwsLeases({ dataDir: first.dataDir, emulator, mountAccessor: accessor, idPrefix: "aws/creds/a/", userPrefix: "a-", count: 300, ttlMs: 3_600_000 });
  await seedAwsLeases({ dataDir: first.dataDir, emulator, mountAccessor: accessor, idPrefix: "aws/creds/b/", userPrefix: "b-", count: 200, ttlMs: 3_600_000 });

  const server = await startServer({ env: awsEnv(emulator), dataDir: first.dataDir, args: ["-revoke-rate=0"] });
  t.after(() => server.stop());
  client = clientFor(server, first.rootToken);
  t.after(() => client.close());
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: first.rootToken ?? "" };

  const queued = await runCli(["lease", "revoke", "-prefix", "-sync=false", "aws/creds/a"], { env });
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stdout, /Queued 300 leases under aws\/creds\/a\/ for revocation\.\nAll revocation operations queued successfully!\n$/);
  await waitFor("the queued revocations", 60_000, () => countStates(client, "aws/creds/a/"), (c) => c.revoked === 300, 250);

  const sync = await runCli(["lease", "revoke", "-prefix", "aws/creds/b/"], { env });
  assert.equal(sync.code, 0, sync.stderr);
  // Not a terminal: plain progress lines, then the summary and Vault's success line.
  assert.match(sync.stdout, /^matched \d+, revoked \d+, failed 0\n/);
  assert.match(sync.stdout, /Revoked 200 of 200 leases under aws\/creds\/b\/; 0 failed and are being retried\.\nSuccess! Revoked any leases with prefix: aws\/creds\/b\/\n$/);
  assert.equal(emulator.listUsers().length, 0);
});
