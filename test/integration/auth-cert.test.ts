// The cert auth method over a real TLS listener that asks for, but does not
// require, a client certificate (-tls-request-client-cert): SPIFFE URI SAN
// globs, a certificate of another CA refused (trusted by the listener, not by
// the role), no certificate refused while the connection still serves other
// calls; the token reads aws/creds within its policy only and revoking it
// revokes its lease; over Vault's HTTP API the certificate logs in the same
// way. Certificates are made with openssl at test time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, LessorClient } from "@lessor/client";
import { z } from "zod";
import { awsSetup, rejects } from "../helpers/aws-engine.js";
import { ignoreIpServernameWarning, issueCertificate, issueServerCertificate, issueSvid, makeCa, type IssuedCertificate } from "../helpers/certificates.js";
import { checkLoginTokenScope, DEPLOY_POLICY, expectLogged, prepareCredsRoles } from "../helpers/login-scope.js";
import { runCli, tempDir, type ServerProcess } from "../helpers/processes.js";

ignoreIpServernameWarning();

/** Debian's curl; its standard output. */
function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile("curl", ["--max-time", "20", ...args], (err, stdout) => (err ? reject(err) : resolve(stdout))));
}

const REFUSED = /^permission denied: the login was refused$/;

test("cert: SPIFFE IDs log in by URI SAN glob; other CAs, other IDs and no certificate are refused", async (t) => {
  const dir = tempDir("cert-auth");
  const workloadCa = makeCa(dir, "workload-ca");
  const otherCa = makeCa(dir, "other-ca");
  const server = issueServerCertificate(dir, workloadCa);
  const payments = issueSvid(dir, workloadCa, "payments", "spiffe://example.org/ns/prod/sa/payments");
  const orders = issueSvid(dir, workloadCa, "orders", "spiffe://example.org/ns/prod/sa/orders");
  const impostor = issueSvid(dir, otherCa, "impostor", "spiffe://example.org/ns/prod/sa/payments");
  const serverOnly = issueCertificate(dir, workloadCa, "server-only", "/CN=payments", ["subjectAltName=URI:spiffe://example.org/ns/prod/sa/payments", "extendedKeyUsage=serverAuth"]);
  // The listener trusts both CAs, so the impostor's certificate reaches the method, whose role trusts only one.
  const listenerBundle = join(dir, "listener-bundle.pem");
  writeFileSync(listenerBundle, workloadCa.pem + otherCa.pem);

  const caCert = readFileSync(workloadCa.cert);
  const clients: LessorClient[] = [];
  const connect = (s: ServerProcess, options: { token?: string; as?: IssuedCertificate } = {}): LessorClient => {
    const c = new LessorClient({
      address: `https://${s.address}`,
      token: options.token ?? "",
      caCert,
      clientCert: options.as && readFileSync(options.as.cert),
      clientKey: options.as && readFileSync(options.as.key),
      retry: { maxAttempts: 1 },
    });
    clients.push(c);
    return c;
  };
  const setup = await awsSetup(t, {
    server: { args: [`-tls-cert-file=${server.cert}`, `-tls-key-file=${server.key}`, `-tls-client-ca-file=${listenerBundle}`, "-tls-request-client-cert"], http: true },
    connect: (s) => connect(s, { token: s.rootToken }),
  });
  t.after(() => clients.forEach((c) => c.close()));
  assert.match(setup.server.output(), /Listener: 127\.0\.0\.1:\d+ \(gRPC, TLS, client certificates optional\)/);
  const root = setup.client;
  await prepareCredsRoles(root);
  await root.write("sys/auth/cert", { type: "cert" });
  await root.write("auth/cert/certs/prod-payments", {
    certificate: workloadCa.pem,
    allowed_uri_sans: "spiffe://example.org/ns/*/sa/payments",
    token_policies: DEPLOY_POLICY,
    token_ttl: "1h",
  });
  assert.deepEqual(await root.list("auth/cert/certs"), ["prod-payments"]);
  assert.deepEqual((await root.read("auth/cert/certs/prod-payments")).data.allowed_uri_sans, ["spiffe://example.org/ns/*/sa/payments"]);

  // The workload's own certificate is its login: no token anywhere.
  const { token, info } = await connect(setup.server, { as: payments }).login("cert", {});
  assert.deepEqual(info.policies, ["default", DEPLOY_POLICY]);
  assert.equal(info.displayName, "cert-payments");
  assert.equal(info.meta.uri_san, "spiffe://example.org/ns/prod/sa/payments");
  assert.equal(info.meta.cert_name, "prod-payments");
  assert.equal(info.meta.common_name, "payments");
  assert.equal((await connect(setup.server, { as: payments }).login("cert", { name: "prod-payments" })).info.meta.cert_name, "prod-payments");

  // Another service of the same CA, the same ID from another CA, a certificate not for client auth: refused alike.
  await rejects(connect(setup.server, { as: orders }).login("cert", {}), Code.PERMISSION_DENIED, REFUSED);
  await rejects(connect(setup.server, { as: impostor }).login("cert", { name: "prod-payments" }), Code.PERMISSION_DENIED, REFUSED);
  await rejects(connect(setup.server, { as: serverOnly }).login("cert", {}), Code.PERMISSION_DENIED, REFUSED);
  await rejects(connect(setup.server, { as: payments }).login("cert", { name: "nope" }), Code.PERMISSION_DENIED, REFUSED);

  // Each for its own reason, in the server's log only.
  await expectLogged(setup.server, [
    /prod-payments: the certificate's URI SANs \(spiffe:\/\/example\.org\/ns\/prod\/sa\/orders\) match none allowed/,
    /prod-payments: the client certificate was not issued by a certificate this role trusts/,
    /nope: no such role/,
  ]);

  // No certificate: the login is refused, and the same connection serves token-authenticated calls.
  const anonymous = connect(setup.server);
  await rejects(anonymous.login("cert", {}), Code.PERMISSION_DENIED, REFUSED);
  await expectLogged(setup.server, [/no client certificate on the connection/]);
  const withToken = connect(setup.server, { token });
  assert.equal((await withToken.tokens.lookupSelf()).displayName, "cert-payments");

  // The CLI presents LESSOR_CLIENT_CERT/KEY: the generic write of the login path is accepted with them, refused without.
  const cliEnv = { LESSOR_ADDR: `https://${setup.server.address}`, LESSOR_CACERT: workloadCa.cert, LESSOR_TOKEN: "" };
  const cli = await runCli(["write", "auth/cert/login", "name=prod-payments"], { env: { ...cliEnv, LESSOR_CLIENT_CERT: payments.cert, LESSOR_CLIENT_KEY: payments.key } });
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /token_meta_uri_san +spiffe:\/\/example\.org\/ns\/prod\/sa\/payments\n/, "the written login prints its token");
  const home = tempDir("cert-login-home");
  const login = await runCli(["login", "-method=cert", "name=prod-payments"], { env: { ...cliEnv, HOME: home, LESSOR_CLIENT_CERT: payments.cert, LESSOR_CLIENT_KEY: payments.key } });
  assert.equal(login.code, 0, login.stderr);
  assert.equal(readFileSync(join(home, ".lessor-token"), "utf8").trim(), /^token +(\S+)$/m.exec(login.stdout)?.[1], "lessor login -method=cert stores its token");
  const cliRefused = await runCli(["write", "auth/cert/login", "name=prod-payments"], { env: cliEnv });
  assert.match(cliRefused.stderr, /login was refused/);

  // Vault's HTTP API, on the same listener settings: the certificate is the login there too (curl, no token).
  const httpLogin = (extra: string[]) =>
    curl([`${setup.server.httpUrl}/v1/auth/cert/login`, "-s", "-X", "POST", "-d", '{"name": "prod-payments"}', "--cacert", workloadCa.cert, ...extra]);
  const overHttp = z
    .object({ auth: z.object({ client_token: z.string(), metadata: z.record(z.string(), z.string()), policies: z.array(z.string()) }) })
    .parse(JSON.parse(await httpLogin(["--cert", payments.cert, "--key", payments.key])));
  assert.equal(overHttp.auth.metadata.uri_san, "spiffe://example.org/ns/prod/sa/payments");
  assert.deepEqual(overHttp.auth.policies, ["default", DEPLOY_POLICY]);
  assert.deepEqual(JSON.parse(await httpLogin([])), { errors: ["permission denied: the login was refused"] });
  assert.deepEqual(JSON.parse(await httpLogin(["--cert", impostor.cert, "--key", impostor.key])), { errors: ["permission denied: the login was refused"] });

  await checkLoginTokenScope(setup, withToken);
});
