// aws/config/rotate-root through the generated client and the CLI (`write -f`): the old key stops
// working, the new one works (after IAM's propagation delay), issuance still
// works; and a clear refusal when the configured key is not an IAM user's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CreateAccessKeyCommand } from "@aws-sdk/client-iam";
import { Code } from "@lessor/client";
import { EC2_POLICY, whoAmI } from "../helpers/aws.js";
import { runCli } from "../helpers/processes.js";
import { awsSetup, lessorUsers, rejects } from "../helpers/aws-engine.js";

test("rotate-root: a new key for the configured IAM user, switched to once it works; the old key deleted", async (t) => {
  const { client, emulator, admin, server } = await awsSetup(t, { asIamUser: true });
  assert.ok(admin);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const before = await client.aws.creds("deploy");

  // New keys take a moment to work, as in AWS: the rotation waits for it.
  emulator.setKeyActivationDelay(2_000);
  const rotated = await client.write("aws/config/rotate-root", {});
  const newKeyId = String(rotated.data.access_key);
  assert.deepEqual(Object.keys(rotated.data), ["access_key"], "only the new access key id is returned");
  assert.match(newKeyId, /^AKIA[A-Z0-9]{16}$/);
  assert.notEqual(newKeyId, admin.accessKeyId);
  assert.deepEqual(
    emulator.getUser(admin.userName)?.accessKeys.map((k) => k.accessKeyId),
    [newKeyId],
    "the old key is deleted, the new one kept",
  );
  assert.deepEqual(await whoAmI(emulator, admin.accessKeyId, admin.secretAccessKey), { error: "InvalidClientTokenId" });

  // Lessor now signs with the new key: issuance and revocation still work.
  emulator.setKeyActivationDelay(0);
  emulator.resetCounts();
  const after = await client.aws.creds("deploy");
  assert.equal(emulator.counts().calls.CreateUser, 1);
  await client.leases.revoke(before.lease.id);
  await client.leases.revoke(after.lease.id);
  assert.deepEqual(lessorUsers(emulator, admin), []);

  // Again, from the CLI as Vault's users write it (-f: a write with no data): each rotation replaces the key in use.
  const cli = await runCli(["write", "-f", "aws/config/rotate-root"], { env: { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken } });
  assert.equal(cli.code, 0, cli.stderr);
  const again = /^Key\s+Value\n---\s+-----\naccess_key\s+(AKIA[A-Z0-9]{16})\n$/.exec(cli.stdout)?.[1];
  assert.ok(again, cli.stdout);
  assert.notEqual(again, newKeyId);
  assert.deepEqual(emulator.getUser(admin.userName)?.accessKeys.map((k) => k.accessKeyId), [again]);
  const last = await client.aws.creds("deploy");
  await client.leases.revoke(last.lease.id);
});

test("rotate-root refuses, clearly, keys that are not an IAM user's, and a user with no room for a second key", async (t) => {
  const { client, emulator, iam, admin } = await awsSetup(t, { asIamUser: true });
  assert.ok(admin);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });

  // The user already has two keys (IAM's limit).
  await iam.send(new CreateAccessKeyCommand({ UserName: admin.userName }));
  let err = await rejects(
    client.write("aws/config/rotate-root", {}),
    Code.FAILED_PRECONDITION,
    new RegExp(`IAM user lessor-admin already has two access keys, IAM's limit: delete the one that is not ${admin.accessKeyId}`),
  );
  assert.equal(err.reason, "AWS_ROOT_TOO_MANY_KEYS");
  assert.equal(emulator.getUser(admin.userName)?.accessKeys.length, 2);
  const still = await client.aws.creds("deploy");
  await client.leases.revoke(still.lease.id);

  // The account root user's key.
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  err = await rejects(client.write("aws/config/rotate-root", {}), Code.FAILED_PRECONDITION, /belongs to the AWS account's root user.*Create an IAM user for Lessor/);
  assert.equal(err.reason, "AWS_ROOT_NOT_IAM_USER");
  assert.deepEqual(emulator.state().rootAccessKeys.map((k) => k.accessKeyId), [emulator.rootAccessKeyId]);

  // Temporary STS credentials.
  await client.write("aws/config/root", { access_key: "ASIAIOSFODNN7EXAMPLE", secret_key: "not-used" });
  await rejects(client.write("aws/config/rotate-root", {}), Code.FAILED_PRECONDITION, /\(ASIAIOSFODNN7EXAMPLE\) is a temporary STS key/);

  // No key at all: the SDK's default chain is not Lessor's to rotate.
  await client.write("aws/config/root", { access_key: "", secret_key: "" });
  await rejects(client.write("aws/config/rotate-root", {}), Code.FAILED_PRECONDITION, /there is no access key in aws\/config\/root to rotate/);
});
