// An IAM endpoint that hangs, then is down, during expiry (issue 14): two
// emulators, aws/ on one and aws2/ on the other. While the first hangs, the
// second mount's short leases are still revoked on time (the first holds only
// its own lane of the expiry pool, and its calls time out instead of
// stalling); its own revocations fail and are retried with backoff, through
// the hang and the outage that follows, and finish once IAM answers again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseState, type AwsCredentials, type LessorClient } from "@lessor/client";
import { awsEnv, EC2_POLICY, startAwsEmulator, type AwsEmulator } from "../helpers/aws.js";
import { clientFor, startServer } from "../helpers/processes.js";
import { waitFor } from "../helpers/wait.js";

async function mountOn(client: LessorClient, emulator: AwsEmulator, path: string, ttlSeconds: number): Promise<void> {
  await client.mounts.enable("aws", { path, defaultLeaseTtlSeconds: ttlSeconds, maxLeaseTtlSeconds: ttlSeconds });
  await client.write(`${path}/config/root`, {
    access_key: emulator.rootAccessKeyId,
    secret_key: emulator.rootSecretAccessKey,
    region: "us-east-1",
    iam_endpoint: emulator.endpoint,
    sts_endpoint: emulator.endpoint,
    // One attempt per call, and a hung request given up after a second.
    max_retries: 0,
    connection_timeout: "1s",
    request_timeout: "1s",
  });
  await client.write(`${path}/roles/deploy`, { policy_document: EC2_POLICY });
}

test("one hung IAM endpoint delays no other mount's expiry; its own revocations are retried through the hang and an outage", async (t) => {
  const [first, second] = await Promise.all([startAwsEmulator({ port: 0 }), startAwsEmulator({ port: 0 })]);
  // A pool of 4, 2 per mount; fast retries that never give up within the test.
  const server = await startServer({
    env: awsEnv(first),
    args: ["-expiry-concurrency=4", "-expiry-mount-concurrency=2", "-revoke-retry-base=200ms", "-revoke-retry-max=1s", "-revoke-max-attempts=1000"],
  });
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    await server.stop();
    await Promise.all([first.close(), second.close()]);
  });
  await mountOn(client, first, "aws", 2);
  await mountOn(client, second, "aws2", 4);

  // More leases on the hung mount than the whole pool.
  const hung: AwsCredentials[] = [];
  for (let i = 0; i < 6; i++) hung.push(await client.aws.creds("deploy", { mount: "aws" }));
  first.addFault({ action: "iam:*", latencyMs: 30_000 });
  const healthy: AwsCredentials[] = [];
  for (let i = 0; i < 3; i++) healthy.push(await client.aws.creds("deploy", { mount: "aws2" }));
  const issuedAt = Date.now();

  const lookup = (list: AwsCredentials[]) => Promise.all(list.map((c) => client.leases.lookup(c.lease.id)));
  // Due 4 s after issue; revoked within a few seconds of that, not when the other endpoint answers (30 s).
  await waitFor("aws2/ leases to be revoked while aws/'s endpoint hangs", async () => (await lookup(healthy)).every((l) => l.state === LeaseState.LEASE_STATE_REVOKED), 12_000, 100);
  t.diagnostic(`aws2/ leases revoked ${((Date.now() - issuedAt) / 1000).toFixed(1)} s after issue (TTL 4 s)`);
  assert.deepEqual(second.listUsers(), [], "aws2/'s IAM users are gone");

  // The hung endpoint's revocations time out and are retried, not stalled.
  const timedOut = await waitFor(
    "every aws/ lease to have failed attempts that timed out",
    async () => {
      const leases = await lookup(hung);
      return leases.every((l) => l.revokeAttempts >= 2) && leases;
    },
    15_000,
    100,
  );
  for (const l of timedOut) {
    assert.equal(l.state, LeaseState.LEASE_STATE_REVOKING);
    assert.match(l.lastError, /AWS did not answer iam:\w+ in time|revocation attempt took longer/);
  }

  // Then an outage: connections dropped with no answer. Still retried.
  first.clearFaults();
  first.setDown(true);
  await waitFor("a revocation to fail on the outage", async () => (await lookup(hung)).some((l) => /AWS could not be reached/.test(l.lastError)), 10_000, 100);
  assert.equal(first.listUsers().length, hung.length, "no aws/ user was deleted while its endpoint was out");

  // IAM answers again: every aws/ lease is revoked by the retries, none given up.
  first.setDown(false);
  const ended = await waitFor(
    "every aws/ lease to be revoked once IAM answers",
    async () => {
      const leases = await lookup(hung);
      return leases.every((l) => l.state === LeaseState.LEASE_STATE_REVOKED) && leases;
    },
    15_000,
    100,
  );
  assert.ok(ended.every((l) => l.lastError === ""));
  assert.deepEqual(first.listUsers(), [], "aws/'s IAM users are gone");
});
