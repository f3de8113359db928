// Expiry and revocation in real time against the IAM emulator: short leases
// expire and their users are deleted; failing revocations are retried, then
// marked irrevocable and left alone until someone asks; revocations pending
// when the server dies are finished by the next start, even with expiry paused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseState, LessorClientError, type AwsCredentials, type LessorClient } from "@lessor/client";
import { clientFor, startServer, type ServerProcess } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator, whoAmI, type AwsEmulator, startWithEmulator } from "../helpers/aws.js";
import { openServerStore, waitFor } from "../helpers/leases.js";

/** Short retry settings so a test sees several attempts in about a second. */
const FAST_RETRY = ["-revoke-retry-base=100ms", "-revoke-retry-max=300ms", "-revoke-max-attempts=3"];

async function configureAws(client: LessorClient, emulator: AwsEmulator, path: string, ttlSeconds = 0): Promise<void> {
  await client.mounts.enable("aws", { path, defaultLeaseTtlSeconds: ttlSeconds });
  await client.write(`${path}/config/root`, { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  await client.write(`${path}/roles/deploy`, { policy_document: EC2_POLICY });
}

test("short leases expire in real time and their IAM users are deleted", async (t) => {
  const { emulator, client } = await startWithEmulator(t);
  await configureAws(client, emulator, "aws", 2);
  const issued: AwsCredentials[] = [];
  for (let i = 0; i < 4; i++) issued.push(await client.aws.creds("deploy"));
  assert.equal(issued[0]?.lease.durationSeconds, 2);
  assert.equal(emulator.listUsers().length, 4);

  await waitFor("every lease to expire and be revoked", 30_000, async () => Promise.all(issued.map((c) => client.leases.lookup(c.lease.id))), (leases) =>
    leases.every((l) => l.state === LeaseState.LEASE_STATE_REVOKED),
  );
  assert.deepEqual(emulator.listUsers(), [], "no IAM user outlives its lease");
  for (const c of issued) assert.deepEqual(await whoAmI(emulator, c.accessKeyId, c.secretAccessKey), { error: "InvalidClientTokenId" });
  const lease = await client.leases.lookup(issued[0]!.lease.id);
  assert.equal(lease.ttlSeconds, 0);
  assert.equal(lease.lastError, "");
});

test("failed revocations are retried, then irrevocable with their error, and retried again only when asked", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({ env: awsEnv(emulator), args: FAST_RETRY });
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    await server.stop();
    await emulator.close();
  });
  await configureAws(client, emulator, "aws");
  const creds = await client.aws.creds("deploy");
  const keep = await client.aws.creds("deploy");
  emulator.addFault({ action: "DeleteUser", code: "ServiceFailure", status: 500, message: "IAM is having a bad day" });

  const queued = await client.leases.revoke(creds.lease.id, { enqueue: true });
  assert.deepEqual(queued, { leaseId: creds.lease.id, revokedNow: false, queued: true, warnings: [] });

  // Retrying: revoking, attempts counted, the last error kept.
  const retrying = await waitFor("a failed attempt", 20_000, () => client.leases.lookup(creds.lease.id), (l) => l.revokeAttempts >= 1);
  assert.ok(retrying.state === LeaseState.LEASE_STATE_REVOKING || retrying.state === LeaseState.LEASE_STATE_IRREVOCABLE);
  assert.match(retrying.lastError, /iam:DeleteUser failed: ServiceFailure: IAM is having a bad day/);

  const gaveUp = await waitFor("the lease to become irrevocable", 30_000, () => client.leases.lookup(creds.lease.id), (l) =>
    l.state === LeaseState.LEASE_STATE_IRREVOCABLE,
  );
  assert.equal(gaveUp.revokeAttempts, 3);
  assert.match(gaveUp.lastError, /DeleteUser/);
  assert.equal(gaveUp.ttlSeconds, 0);
  assert.equal(gaveUp.renewable, false);

  // Visible in a listing filtered on the state, with its error; the healthy lease is not.
  const irrevocable = await client.leases.list("aws/", { state: LeaseState.LEASE_STATE_IRREVOCABLE });
  assert.deepEqual(irrevocable.leases.map((l) => l.id), [creds.lease.id]);
  assert.match(irrevocable.leases[0]!.lastError, /ServiceFailure/);

  // Left alone: the scheduler does not try it again by itself.
  const callsAtGiveUp = emulator.counts().calls.DeleteUser ?? 0;
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(emulator.counts().calls.DeleteUser ?? 0, callsAtGiveUp, "an irrevocable lease is not retried unless asked");
  assert.ok(emulator.getUser(emulator.listUsers()[0]!.userName), "its IAM user still exists");

  // Asked while IAM still fails: one more attempt, the error comes back, still irrevocable.
  await assert.rejects(client.leases.revoke(creds.lease.id), (err: unknown) => {
    assert.ok(err instanceof LessorClientError);
    assert.equal(err.codeName, "UNAVAILABLE");
    assert.match(err.message, /DeleteUser/);
    return true;
  });
  assert.ok((emulator.counts().calls.DeleteUser ?? 0) > callsAtGiveUp);
  assert.equal((await client.leases.lookup(creds.lease.id)).state, LeaseState.LEASE_STATE_IRREVOCABLE);

  // IAM recovers; asking again revokes it.
  emulator.clearFaults();
  assert.deepEqual(await client.leases.revoke(creds.lease.id), { leaseId: creds.lease.id, revokedNow: true, queued: false, warnings: [] });
  const done = await client.leases.lookup(creds.lease.id);
  assert.equal(done.state, LeaseState.LEASE_STATE_REVOKED);
  assert.equal(done.lastError, "");
  assert.deepEqual(await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey), { error: "InvalidClientTokenId" });
  assert.equal(emulator.listUsers().length, 1, "the other lease's user is untouched");
  assert.equal((await client.leases.lookup(keep.lease.id)).state, LeaseState.LEASE_STATE_ACTIVE);

  // The lease's events, written with each change: issued, given up on (twice: once more when asked), revoked.
  await server.stop();
  const store = await openServerStore(server.dataDir);
  try {
    const events = (await store.events.after(0, creds.lease.id, 100)).filter((e) => e.leaseId === creds.lease.id);
    assert.deepEqual(events.map((e) => e.type), ["created", "irrevocable", "irrevocable", "revoked"]);
    assert.match(events[1]?.detail ?? "", /DeleteUser/);
  } finally {
    await store.close();
  }
});

test("revocations pending when the server dies are finished by the next start, even with expiry paused", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  // Slow retries before the crash: IAM is up for a moment below (to issue one more lease), and
  // a retry in that moment would revoke a pending lease early. Retries come 5-10 s after a failure.
  let server: ServerProcess = await startServer({ env: awsEnv(emulator), args: ["-revoke-retry-base=10s", "-revoke-retry-max=10s"] });
  const dataDir = server.dataDir;
  const token = server.rootToken;
  let client = clientFor(server);
  await configureAws(client, emulator, "aws");
  await configureAws(client, emulator, "short", 3);
  const pending: AwsCredentials[] = [];
  for (let i = 0; i < 6; i++) pending.push(await client.aws.creds("deploy"));

  // IAM unreachable: queued revocations fail and wait for their retry.
  emulator.setDown(true);
  for (const c of pending) assert.equal((await client.leases.revoke(c.lease.id, { enqueue: true })).queued, true);
  await waitFor("every queued revocation to have failed once", 30_000, async () => Promise.all(pending.map((c) => client.leases.lookup(c.lease.id))), (leases) =>
    leases.every((l) => l.revokeAttempts >= 1 && l.state === LeaseState.LEASE_STATE_REVOKING),
  );
  // A lease that will expire while the server is down.
  emulator.setDown(false);
  const expiring = await client.aws.creds("deploy", { mount: "short" });
  emulator.setDown(true);
  client.close();
  await server.kill();
  assert.equal(emulator.listUsers().length, 7);

  // Restored-backup mode: expiry paused. Decided revocations still run; the expired active lease is left alone.
  emulator.setDown(false);
  await new Promise((r) => setTimeout(r, 3_200));
  server = await startServer({ env: awsEnv(emulator), dataDir, args: ["-no-expire", ...FAST_RETRY.slice(0, 2)] });
  t.after(() => server.stop());
  client = clientFor(server, token);
  t.after(() => client.close());
  assert.match(server.output(), /expiry is paused/);
  await waitFor("the pending revocations to finish after the restart", 30_000, async () => Promise.all(pending.map((c) => client.leases.lookup(c.lease.id))), (leases) =>
    leases.every((l) => l.state === LeaseState.LEASE_STATE_REVOKED),
  );
  for (const c of pending) assert.deepEqual(await whoAmI(emulator, c.accessKeyId, c.secretAccessKey), { error: "InvalidClientTokenId" });
  const paused = await client.leases.lookup(expiring.lease.id);
  assert.equal(paused.state, LeaseState.LEASE_STATE_ACTIVE, "expired, but expiry is paused");
  assert.ok(paused.expireTime!.getTime() < Date.now());
  assert.equal(emulator.listUsers().length, 1);
  const who = await whoAmI(emulator, expiring.accessKeyId, expiring.secretAccessKey);
  assert.ok("arn" in who, "the paused lease's credentials still work");
  // Each user was deleted once: nothing revoked twice.
  for (const [user, n] of Object.entries(emulator.counts().deleteUserSuccesses)) assert.equal(n, 1, user);
});
