// The aws auth method against the emulator's STS, which checks SigV4: an IAM
// user and an assumed role log in with GetCallerIdentity requests signed by
// the real AWS SDK; a wrong or missing server-ID header, a signed request for
// another action and one naming another host are refused; the emulators'
// counters show Lessor sent nothing anywhere but the configured STS endpoint.
// The tokens read aws/creds within their policy only, and revoking one
// revokes its lease.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { SignatureV4 } from "@smithy/signature-v4";
import type { SourceData } from "@smithy/types";
import { awsIamLoginData, Code, LessorClient, type AwsIamLoginOptions } from "@lessor/client";
import { awsSetup, createAdminUser, createAssumableRole, rejects } from "../helpers/aws-engine.js";
import { startAwsEmulator } from "../helpers/aws.js";
import { checkLoginTokenScope, DEPLOY_POLICY, expectLogged, prepareCredsRoles } from "../helpers/login-scope.js";

const REFUSED = /^permission denied: the login was refused$/;
const SERVER_ID = "lessor.test.example";

const bytes = (d: SourceData): string | Uint8Array => (typeof d === "string" ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d));

/** node:crypto as the SDK signer's hash (what @smithy/hash-node does). */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {}
}

/** A request for another STS action, signed by the SDK's SigV4 signer, in the login's format. */
async function signedOtherAction(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const body = "Action=GetSessionToken&Version=2011-06-15";
  const signer = new SignatureV4({ credentials, region: "us-east-1", service: "sts", sha256: Sha256 });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: "/",
    query: {},
    headers: { host: url.host, "content-type": "application/x-www-form-urlencoded", "x-lessor-aws-iam-server-id": SERVER_ID },
    body,
  });
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return {
    role: "deploy",
    iam_http_request_method: "POST",
    iam_request_url: b64(`${endpoint}/`),
    iam_request_body: b64(body),
    iam_request_headers: b64(JSON.stringify(signed.headers)),
  };
}

test("aws: an IAM user and an assumed role log in; forged, foreign and other-action requests are refused unsent", async (t) => {
  const setup = await awsSetup(t);
  const { emulator, iam, client: root } = setup;
  const elsewhere = await startAwsEmulator({ port: 0 });
  t.after(() => elsewhere.close());
  const clients: LessorClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));
  const as = (token = ""): LessorClient => {
    const c = new LessorClient({ address: setup.server.address, token, retry: { maxAttempts: 1 } });
    clients.push(c);
    return c;
  };

  // Two principals: an IAM user, and a session of a role it assumes.
  const user = await createAdminUser(iam, "svc-deploy");
  const userKeys = { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey };
  await createAssumableRole(iam, emulator, "ci-deploy");
  const sts = new STSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials: userKeys });
  t.after(() => Promise.resolve(sts.destroy()));
  const session = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${emulator.accountId}:role/ci-deploy`, RoleSessionName: "build-42" }))).Credentials;
  assert.ok(session?.AccessKeyId && session.SecretAccessKey && session.SessionToken);
  const sessionKeys = { accessKeyId: session.AccessKeyId, secretAccessKey: session.SecretAccessKey, sessionToken: session.SessionToken };

  await prepareCredsRoles(root);
  await root.write("sys/auth/aws", { type: "aws" });
  await root.write("auth/aws/config/client", { sts_endpoint: emulator.endpoint, iam_server_id_header_value: SERVER_ID });
  await root.write("auth/aws/role/deploy", { bound_iam_principal_arn: `arn:aws:iam::${emulator.accountId}:user/svc-*`, token_policies: DEPLOY_POLICY });
  // A path in the bound ARN: a session's ARN carries none, and the role's name decides.
  await root.write("auth/aws/role/ci", { bound_iam_principal_arn: `arn:aws:iam::${emulator.accountId}:role/teams/ci-deploy`, bound_account_id: emulator.accountId, token_policies: DEPLOY_POLICY });
  assert.deepEqual(await root.list("auth/aws/role"), ["ci", "deploy"]);
  await rejects(root.write("auth/aws/role/open", { token_policies: DEPLOY_POLICY }), Code.INVALID_ARGUMENT, /bound_iam_principal_arn: is required/);

  const login = (options: AwsIamLoginOptions) => awsIamLoginData({ endpoint: emulator.endpoint, serverIdHeaderValue: SERVER_ID, ...options });
  const calls = () => emulator.counts().calls.GetCallerIdentity ?? 0;
  const anonymous = as();

  const byUser = await anonymous.login("aws", await login({ role: "deploy", credentials: userKeys }));
  assert.equal(byUser.info.displayName, "aws-svc-deploy");
  assert.deepEqual(byUser.info.policies, ["default", DEPLOY_POLICY]);
  assert.equal(byUser.info.meta.arn, `arn:aws:iam::${emulator.accountId}:user/svc-deploy`);
  assert.equal(byUser.info.meta.account_id, emulator.accountId);

  // The session logs in as its role (no role named: the role ARN's name picks "ci-deploy", which does not exist here).
  const bySession = await anonymous.login("aws", await login({ role: "ci", credentials: sessionKeys, serverIdHeader: "X-Vault-AWS-IAM-Server-ID" }));
  assert.equal(bySession.info.meta.arn, `arn:aws:sts::${emulator.accountId}:assumed-role/ci-deploy/build-42`);
  assert.equal(bySession.info.meta.canonical_arn, `arn:aws:iam::${emulator.accountId}:role/ci-deploy`);
  assert.equal(bySession.info.displayName, "aws-ci-deploy");
  await rejects(anonymous.login("aws", await login({ credentials: sessionKeys })), Code.PERMISSION_DENIED, REFUSED);
  await rejects(anonymous.login("aws", await login({ role: "deploy", credentials: sessionKeys })), Code.PERMISSION_DENIED, REFUSED);
  await rejects(anonymous.login("aws", await login({ role: "deploy", credentials: { ...userKeys, secretAccessKey: "wrong-secret" } })), Code.PERMISSION_DENIED, REFUSED);
  assert.equal(calls(), 5, "each of these was replayed to STS once");

  // Refused before anything is sent: the server-ID header wrong or missing, another action, another host.
  for (const data of [
    await login({ role: "deploy", credentials: userKeys, serverIdHeaderValue: "other.server" }),
    await login({ role: "deploy", credentials: userKeys, serverIdHeaderValue: "" }),
    await signedOtherAction(emulator.endpoint, userKeys),
    await login({ role: "deploy", credentials: userKeys, endpoint: elsewhere.endpoint }),
  ]) {
    await rejects(anonymous.login("aws", data), Code.PERMISSION_DENIED, REFUSED);
  }
  assert.equal(calls(), 5, "no refused request reached STS");
  assert.equal(elsewhere.counts().totalCalls, 0, "nothing was sent to the host the request named");
  await expectLogged(setup.server, [
    /x-lessor-aws-iam-server-id is not this mount's iam_server_id_header_value/, /has no server-ID header/, /is not sts:GetCallerIdentity/, /names another host than the configured STS endpoint http:\/\/127\.0\.0\.1:\d+/, /STS refused the signed request: HTTP 403 SignatureDoesNotMatch/, /is not among role deploy's bound_iam_principal_arn/,
  ]);

  await checkLoginTokenScope(setup, as(bySession.token));
  await checkLoginTokenScope(setup, as(byUser.token));
});
