// The TypeScript client logging in by itself, as a service on Kubernetes
// does: jwtAuth reads a projected token file at every login. The program
// makes calls without pause while its Lessor token is renewed, runs out its
// max TTL and is replaced by a login with the rotated file (the old JWT has
// expired by then), and is revoked under it; no call fails. Concurrent first
// calls share one login, and lessorAwsCredentials works with no token
// anywhere in the program.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { awsAuth, Code, jwtAuth, lessorAwsCredentials, LessorClient, type AuthEvent } from "@lessor/client";
import { rootIam } from "../helpers/aws.js";
import { createAdminUser } from "../helpers/aws-engine.js";
import { rejects } from "../helpers/errors.js";
import { startJwtIssuer } from "../helpers/jwt-issuer.js";
import { runCli, tempDir } from "../helpers/processes.js";
import { waitFor } from "../helpers/wait.js";
import { awsSetup } from "./setup.js";

test("jwtAuth: logs in on first use (once for concurrent calls), renews, logs in again with the rotated token file, survives revocation", async (t) => {
  const { client: root, server, emulator } = await awsSetup(t);
  const issuer = await startJwtIssuer();
  t.after(() => issuer.close());
  await root.write("sys/auth/jwt", { type: "jwt" });
  await root.write("auth/jwt/config", { jwks_url: issuer.jwksUrl, jwks_ca_pem: issuer.caPem });
  // Short-lived Lessor tokens: renewed at ~1.3 s, out of max TTL at 3 s.
  await root.write("auth/jwt/role/payments", {
    role_type: "jwt",
    bound_audiences: "lessor",
    user_claim: "sub",
    clock_skew_leeway: "-1",
    token_policies: "payments",
    token_ttl: "2s",
    token_max_ttl: "3s",
  });
  await root.policies.write("payments", `path "aws/creds/deploy" { capabilities = ["read"] }\npath "sys/leases/revoke/aws/creds/deploy/*" { capabilities = ["update"] }`);

  const tokenFile = join(tempDir("projected"), "token");
  const claims = { aud: "lessor", sub: "system:serviceaccount:payments:api" };
  const now = Math.floor(Date.now() / 1000);
  const firstJwt = await issuer.sign({ ...claims, iat: now, exp: now + 2 });
  writeFileSync(tokenFile, `${firstJwt}\n`);

  const events: AuthEvent[] = [];
  const service = new LessorClient({ address: server.address, auth: jwtAuth({ role: "payments", tokenFile }), onAuthEvent: (e) => events.push(e), retry: { maxAttempts: 1 } });
  t.after(() => service.close());
  const logins = () => events.filter((e) => e.type === "login");

  const first = await Promise.all(Array.from({ length: 5 }, () => service.tokens.lookupSelf()));
  assert.equal(logins().length, 1, "five concurrent first calls shared one login");
  assert.equal(new Set(first.map((i) => i.accessor)).size, 1);
  assert.equal(first[0]?.displayName, "jwt-system:serviceaccount:payments:api");

  // Kubernetes rotates the projected token; the first JWT expires within two seconds.
  writeFileSync(tokenFile, await issuer.sign({ ...claims, exp: now + 600 }));

  // Calls without pause until the client has logged in again (its first token ran out of max TTL).
  let calls = 0;
  await waitFor(
    "a second login",
    async () => {
      await service.tokens.lookupSelf();
      calls++;
      return logins().length >= 2;
    },
    20_000,
    100,
  );
  assert.ok(events.some((e) => e.type === "renewed"), "the token was renewed before being replaced");
  assert.deepEqual(events.filter((e) => e.type === "error"), [], "no background login failed");
  await rejects(root.login("jwt", { role: "payments", jwt: firstJwt }), Code.PERMISSION_DENIED, /login was refused/);
  t.diagnostic(`${calls} calls across the re-login, none failed`);

  // Revoked under the program: the next call logs in again and succeeds.
  const before = (await service.tokens.lookupSelf()).accessor;
  await root.tokens.revoke({ accessor: before });
  assert.notEqual((await service.tokens.lookupSelf()).accessor, before);
  assert.equal(logins().length, 3);

  // AWS credentials through a client that holds no token: only the token file.
  const credentials = lessorAwsCredentials({ role: "deploy", address: server.address, auth: jwtAuth({ role: "payments", tokenFile }) });
  const sts = new STSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials, maxAttempts: 1 });
  try {
    const who = await sts.send(new GetCallerIdentityCommand({}));
    assert.match(who.Arn ?? "", /:user\/lessor-jwt-system-.*-deploy-/, "an IAM user named after the workload");
  } finally {
    sts.destroy();
    await credentials.close({ revoke: true });
  }
  assert.equal(emulator.listUsers().length, 0, "closing revoked the keys: no IAM user is left");
});

test("jwtAuth and appRoleAuth: exactly one source of the credential; an unreadable token file is a clear error", async () => {
  assert.throws(() => jwtAuth({ role: "r" }), /jwtAuth: tokenFile or jwt: give exactly one of the two/);
  assert.throws(() => new LessorClient({ token: "t", auth: jwtAuth({ role: "r", jwt: "x" }) }), /give a token or auth, not both/);
  const client = new LessorClient({ address: "127.0.0.1:1", auth: jwtAuth({ role: "r", tokenFile: "/nonexistent/token" }) });
  try {
    await rejects(client.tokens.lookupSelf(), Code.UNAUTHENTICATED, /could not read the JWT from \/nonexistent\/token: ENOENT/);
  } finally {
    client.close();
  }
});

test("awsAuth and lessor login -method=aws: a GetCallerIdentity signed with the AWS SDK's credentials, anew at each login", async (t) => {
  const { client: root, server, emulator } = await awsSetup(t);
  const iam = rootIam(emulator);
  t.after(() => iam.destroy());
  const key = await createAdminUser(iam, "svc-payments");
  await root.write("sys/auth/aws", { type: "aws" });
  await root.write("auth/aws/config/client", { sts_endpoint: emulator.endpoint, iam_server_id_header_value: "lessor.test" });
  await root.write("auth/aws/role/payments", { bound_iam_principal_arn: `arn:aws:iam::${emulator.accountId}:user/svc-*`, token_policies: "default" });

  const credentials = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  const service = new LessorClient({
    address: server.address,
    auth: awsAuth({ role: "payments", endpoint: emulator.endpoint, credentials, serverIdHeaderValue: "lessor.test" }),
    retry: { maxAttempts: 1 },
  });
  t.after(() => service.close());
  const self = await service.tokens.lookupSelf();
  assert.equal(self.displayName, "aws-svc-payments");
  // Revoked: the next call signs a new request and logs in again.
  await root.tokens.revoke({ accessor: self.accessor });
  assert.notEqual((await service.tokens.lookupSelf()).accessor, self.accessor);

  // The CLI signs with the SDK's default chain (here: the environment), as `vault login -method=aws`.
  const home = tempDir("aws-login-home");
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: "", HOME: home, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_ENDPOINT_URL_STS: emulator.endpoint };
  const r = await runCli(["login", "-method=aws", "role=payments", "header_value=lessor.test"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /token_meta_arn +arn:aws:iam::\d+:user\/svc-payments\n/);
  assert.match(readFileSync(join(home, ".lessor-token"), "utf8"), /^lsr\./);
});
