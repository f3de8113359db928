// The AWS SDK's own configuration is honoured (AWS_ENDPOINT_URL_IAM,
// AWS_ENDPOINT_URL, region), and what aws/config/root sets overrides it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LessorClientError } from "@lessor/client";
import { clientFor, startServer } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator } from "../helpers/aws.js";

/** A loopback URL where nothing listens. */
const DEAD_ENDPOINT = "http://127.0.0.1:9";

test("AWS_ENDPOINT_URL_IAM beats AWS_ENDPOINT_URL, and iam_endpoint in config/root beats both", async (t) => {
  const used = await startAwsEmulator({ port: 0 });
  const other = await startAwsEmulator({ port: 0, rootAccessKeyId: used.rootAccessKeyId, rootSecretAccessKey: used.rootSecretAccessKey });
  const server = await startServer({
    env: { ...awsEnv(used), AWS_ENDPOINT_URL: DEAD_ENDPOINT, AWS_ENDPOINT_URL_IAM: used.endpoint, AWS_REGION: "eu-west-1", AWS_MAX_ATTEMPTS: "1" },
  });
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    await server.stop();
    await used.close();
    await other.close();
  });
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: used.rootAccessKeyId, secret_key: used.rootSecretAccessKey });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });

  // The service-specific variable wins over the general one.
  const first = await client.aws.creds("deploy");
  assert.equal(used.listUsers().length, 1);
  assert.equal(other.listUsers().length, 0);
  await client.leases.revoke(first.lease.id);

  // config/root overrides the environment.
  await client.write("aws/config/root", { iam_endpoint: other.endpoint });
  const second = await client.aws.creds("deploy");
  assert.equal(other.listUsers().length, 1);
  assert.equal(used.listUsers().length, 0);
  await client.leases.revoke(second.lease.id);
  assert.equal(other.listUsers().length, 0);

  // An endpoint where nothing answers is UNAVAILABLE, naming the action.
  await client.write("aws/config/root", { iam_endpoint: DEAD_ENDPOINT });
  const err = await client.aws.creds("deploy").then(
    () => assert.fail("expected UNAVAILABLE"),
    (e: unknown) => e as LessorClientError,
  );
  assert.equal(err.codeName, "UNAVAILABLE");
  assert.match(err.message, /AWS could not be reached for iam:CreateUser/);
  assert.equal(used.listUsers().length + other.listUsers().length, 0);

  // A host name that does not resolve (as iam.amazonaws.com without network): the error says where the endpoint is set.
  await client.write("aws/config/root", { iam_endpoint: "http://iam.lessor-test.invalid" });
  const unresolved = await client.aws.creds("deploy").then(
    () => assert.fail("expected UNAVAILABLE"),
    (e: unknown) => e as LessorClientError,
  );
  assert.equal(unresolved.codeName, "UNAVAILABLE");
  assert.match(unresolved.message, /AWS could not be reached for iam:CreateUser: .*ENOTFOUND iam\.lessor-test\.invalid.*iam_endpoint in aws\/config\/root, or AWS_ENDPOINT_URL in the server's environment/);
});
