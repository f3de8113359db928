// Bad input gets a clear error naming what was wrong; the server keeps
// serving and what was stored stays stored.
import { test } from "node:test";
import assert from "node:assert/strict";
import { clientFor, startServer } from "../helpers/processes.js";
import { EC2_POLICY, startWithEmulator } from "../helpers/aws.js";
import { failure } from "../helpers/errors.js";

test("bad input is refused with the right code and a message naming the problem", async (t) => {
  const { emulator, client } = await startWithEmulator(t);
  await client.mounts.enable("aws");

  // creds with no root config: FAILED_PRECONDITION saying what to write.
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  let err = await failure(client.read("aws/creds/deploy"));
  assert.equal(err.codeName, "FAILED_PRECONDITION");
  assert.match(err.message, /write access_key, secret_key and region to aws\/config\/root/);
  assert.equal(err.reason, "AWS_NOT_CONFIGURED");

  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });

  err = await failure(client.read("nothing/here"));
  assert.equal(err.codeName, "NOT_FOUND");
  assert.match(err.message, /no secrets engine is mounted at nothing\//);

  err = await failure(client.read("aws/no/such/path"));
  assert.equal(err.codeName, "NOT_FOUND");
  assert.match(err.message, /unknown path aws\/no\/such\/path; the aws engine answers: .*aws\/creds\/:name/);

  err = await failure(client.write("aws/roles/x", { policy_document: EC2_POLICY, polcy: "typo" }));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.deepEqual(err.fieldViolations.map((v) => v.field), ["polcy"]);
  assert.match(err.message, /polcy: unknown field/);

  err = await failure(client.write("aws/roles/x", { policy_document: EC2_POLICY, credential_type: "root_user" }));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.match(err.message, /credential_type: "root_user" is not one of: iam_user/);

  err = await failure(client.write("aws/config/root", { region: 42 }));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.match(err.message, /region: must be an AWS region name/);

  err = await failure(client.write("aws/roles/x", { policy_document: "{ not json" }));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.match(err.message, /policy_document: is not valid JSON/);
  assert.deepEqual(err.fieldViolations.map((v) => v.field), ["policy_document"]);

  err = await failure(client.write("aws/roles/x", { policy_document: EC2_POLICY.replace("2012-10-17", "2023-11-12") }));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.match(err.message, /"2023-11-12".*"2012-10-17".*"2008-10-17"/);

  err = await failure(client.read("aws/creds/missing"));
  assert.equal(err.codeName, "NOT_FOUND");
  assert.match(err.message, /role "missing" not found/);

  err = await failure(client.read("aws/config/root"));
  assert.equal(err.codeName, "UNIMPLEMENTED");
  assert.equal(err.message, "unsupported operation");

  err = await failure(client.read("aws/../secret/x"));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.match(err.message, /path: contains a "\.\." segment/);

  // None of that disturbed the server or what it holds.
  assert.deepEqual(await client.list("aws/roles"), ["deploy"]);
  const creds = await client.aws.creds("deploy");
  assert.match(creds.accessKeyId, /^AKIA/);
  await client.leases.revoke(creds.lease.id);
});

test("a call without a valid token is UNAUTHENTICATED", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  // "" sends no token at all (undefined would fall back to LESSOR_TOKEN / ~/.lessor-token).
  for (const token of ["", "lsr.not-a-real-token", server.rootToken + "x"]) {
    const client = clientFor(server, token);
    const err = await failure(client.mounts.list());
    client.close();
    assert.equal(err.codeName, "UNAUTHENTICATED");
    assert.match(err.message, /token/);
  }
});
