// The aws engine through the generated client: roles, creds, revoke, restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, type LessorClient } from "@lessor/client";
import { clientFor, startServer, type ServerProcess } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator, whoAmI, type AwsEmulator, startWithEmulator } from "../helpers/aws.js";
import { rejects } from "../helpers/errors.js";

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{ emulator: AwsEmulator; server: ServerProcess; client: LessorClient }> {
  const { emulator, server, client } = await startWithEmulator(t);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", {
    access_key: emulator.rootAccessKeyId,
    secret_key: emulator.rootSecretAccessKey,
    region: "us-east-1",
  });
  return { emulator, server, client };
}

test("role create, read, list, update, delete", async (t) => {
  const { client } = await setup(t);
  await client.write("aws/roles/deploy", { credential_type: "iam_user", policy_document: EC2_POLICY });
  await client.write("aws/roles/other", { policy_document: EC2_POLICY });
  const read = await client.read("aws/roles/deploy");
  assert.deepEqual(read.data.credential_type, ["iam_user"]);
  assert.deepEqual(JSON.parse(String(read.data.policy_document)), JSON.parse(EC2_POLICY));
  assert.deepEqual(await client.list("aws/roles"), ["deploy", "other"]);

  const legacy = await client.write("aws/roles/deploy", { policy: EC2_POLICY.replace("ec2:*", "s3:*") });
  assert.match(legacy.warnings.join("\n"), /"policy" is deprecated/);
  assert.match(String((await client.read("aws/roles/deploy")).data.policy_document), /s3:\*/);

  await client.delete("aws/roles/other");
  assert.deepEqual(await client.list("aws/roles"), ["deploy"]);
  await rejects(client.read("aws/roles/other"), Code.NOT_FOUND, /role "other" not found/);
});

test("each creds read makes a new IAM user and key; revoke destroys them", async (t) => {
  const { client, emulator } = await setup(t);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });

  const first = await client.aws.creds("deploy");
  const second = await client.aws.creds("deploy");
  assert.match(first.lease.id, /^aws\/creds\/deploy\/[0-9a-f-]{36}$/);
  assert.equal(first.lease.durationSeconds, 768 * 3600);
  assert.equal(first.lease.renewable, true);
  assert.notEqual(first.accessKeyId, second.accessKeyId);
  assert.notEqual(first.lease.id, second.lease.id);
  assert.equal(first.sessionToken, undefined);

  const users = emulator.listUsers();
  assert.equal(users.length, 2, "two reads, two users");
  const [u1, u2] = users.map((u) => u.userName);
  assert.notEqual(u1, u2);
  for (const u of users) {
    assert.match(u.userName, /^lessor-root-deploy-\d+-[a-z0-9]{10}$/);
    assert.deepEqual(u.inlinePolicyNames, ["lessor-role-policy"]);
  }

  const who = await whoAmI(emulator, first.accessKeyId, first.secretAccessKey);
  assert.ok("arn" in who && who.arn.includes(":user/lessor-root-deploy-"), JSON.stringify(who));

  const lookup = await client.leases.lookup(first.lease.id);
  assert.equal(lookup.id, first.lease.id);
  assert.ok(lookup.ttlSeconds > 768 * 3600 - 60);

  assert.deepEqual(await client.leases.revoke(first.lease.id), { leaseId: first.lease.id, revokedNow: true, queued: false, warnings: [] });
  assert.deepEqual(await whoAmI(emulator, first.accessKeyId, first.secretAccessKey), { error: "InvalidClientTokenId" });
  assert.equal(emulator.listUsers().length, 1);
  // Revoking again is quiet success.
  assert.deepEqual(await client.leases.revoke(first.lease.id), { leaseId: first.lease.id, revokedNow: false, queued: false, warnings: [] });

  await client.leases.revoke(second.lease.id);
  assert.deepEqual(emulator.listUsers(), []);
  assert.deepEqual(await whoAmI(emulator, second.accessKeyId, second.secretAccessKey), { error: "InvalidClientTokenId" });
});

test("a truncated lease id is NOT_FOUND and names the lease it probably meant", async (t) => {
  const { client } = await setup(t);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const creds = await client.aws.creds("deploy");
  const err = await rejects(client.leases.revoke(creds.lease.id.slice(0, -1)), Code.NOT_FOUND, /did you mean/);
  assert.equal(err.metadata.did_you_mean, creds.lease.id);
  await rejects(client.leases.revoke("aws/creds/deploy/nope"), Code.NOT_FOUND, /^lease not found: aws\/creds\/deploy\/nope$/);
});

test("leases survive a restart, and revoking after it deletes the IAM user", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  const first = await startServer({ env: awsEnv(emulator) });
  const token = first.rootToken;
  assert.ok(token);
  let client = clientFor(first);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const creds = await client.aws.creds("deploy");
  client.close();
  await first.stop();

  const second = await startServer({ env: awsEnv(emulator), dataDir: first.dataDir });
  t.after(() => second.stop());
  assert.equal(second.rootToken, undefined, "the root token is made only on the first start");
  client = clientFor(second, token);
  t.after(() => client.close());
  const lease = await client.leases.lookup(creds.lease.id);
  assert.equal(lease.id, creds.lease.id);
  assert.equal(emulator.listUsers().length, 1);
  assert.deepEqual((await client.read("aws/roles/deploy")).data.credential_type, ["iam_user"]);
  await client.leases.revoke(creds.lease.id);
  assert.deepEqual(emulator.listUsers(), []);
});

test("renew extends a lease but never past its max TTL", async (t) => {
  const { emulator, client } = await startWithEmulator(t);
  await client.mounts.enable("aws", { defaultLeaseTtlSeconds: 60, maxLeaseTtlSeconds: 120 });
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const creds = await client.aws.creds("deploy");
  assert.equal(creds.lease.durationSeconds, 60);

  const within = await client.leases.renew(creds.lease.id, 90);
  assert.equal(within.clamped, false);
  assert.ok(within.durationSeconds >= 89 && within.durationSeconds <= 90, String(within.durationSeconds));
  assert.ok(within.lease?.lastRenewalTime);

  const beyond = await client.leases.renew(creds.lease.id, 3600);
  assert.equal(beyond.clamped, true);
  assert.ok(beyond.durationSeconds <= 120 && beyond.durationSeconds >= 118, String(beyond.durationSeconds));
  assert.equal(beyond.lease?.expireTime?.getTime(), beyond.lease?.maxExpireTime?.getTime());

  await client.leases.revoke(creds.lease.id);
  await rejects(client.leases.renew(creds.lease.id, 10), Code.FAILED_PRECONDITION, /is revoked; only an active lease can be renewed/);
});
