// TLS and mTLS on the gRPC port (and Vault's HTTP API, with the same files),
// with certificates made by openssl at test time: the client trusts the
// server only through the CA it is given, and with a client CA the server
// refuses a client without a certificate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LessorClient } from "@lessor/client";
import { runCli, startServer, tempDir } from "../helpers/processes.js";
import { failure } from "../helpers/errors.js";

/** Debian's curl, for Vault's HTTP API over TLS. */
function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("curl", ["--max-time", "20", ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA, a server certificate for 127.0.0.1/localhost, and a client certificate, all signed by the CA. */
function makeCertificates(): { dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string } {
  const dir = tempDir("tls");
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Lessor Test CA"]);
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=Other CA"]);
  for (const [name, cn, ext] of [
    ["server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"],
    ["client", "ci-client", "extendedKeyUsage=clientAuth"],
  ] as const) {
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    execFileSync("sh", ["-c", `printf '%s\\n' "${ext}" > ${name}.ext`], { cwd: dir });
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
  }
  return {
    dir,
    ca: join(dir, "ca.pem"),
    otherCa: join(dir, "other.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
  };
}

test("TLS: trusted with the CA, refused without it; the CLI takes LESSOR_CACERT and https://", async (t) => {
  const certs = makeCertificates();
  const server = await startServer({ args: [`-tls-cert-file=${certs.serverCert}`, `-tls-key-file=${certs.serverKey}`] });
  t.after(() => server.stop());
  assert.match(server.output(), /Listener: 127\.0\.0\.1:\d+ \(gRPC, TLS\)/);
  const address = `https://${server.address}`;

  const trusted = new LessorClient({ address, token: server.rootToken, caCert: readFileSync(certs.ca), deadlineMs: 5000 });
  assert.deepEqual((await trusted.tokens.lookupSelf()).policies, ["root"]);
  trusted.close();

  for (const caCert of [undefined, readFileSync(certs.otherCa)]) {
    const untrusted = new LessorClient({ address, token: server.rootToken, caCert, deadlineMs: 5000 });
    const err = await failure(untrusted.tokens.lookupSelf());
    untrusted.close();
    assert.equal(err.codeName, "UNAVAILABLE", err.message);
  }
  const plaintext = new LessorClient({ address: server.address, token: server.rootToken, deadlineMs: 5000 });
  assert.equal((await failure(plaintext.tokens.lookupSelf())).codeName, "UNAVAILABLE");
  plaintext.close();

  const env = { LESSOR_ADDR: address, LESSOR_TOKEN: server.rootToken, LESSOR_CACERT: certs.ca };
  let r = await runCli(["token", "lookup", "-format=json"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { data: { policies: string[] } }).data.policies, ["root"]);
  r = await runCli(["token", "lookup"], { env: { ...env, LESSOR_CACERT: certs.otherCa } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Code: UNAVAILABLE/);
});

test("mTLS: a client without a certificate (or with one from another CA) is refused", async (t) => {
  const certs = makeCertificates();
  const server = await startServer({
    args: [`-tls-cert-file=${certs.serverCert}`, `-tls-key-file=${certs.serverKey}`, `-tls-client-ca-file=${certs.ca}`],
    http: true,
  });
  t.after(() => server.stop());
  assert.match(server.output(), /Listener: 127\.0\.0\.1:\d+ \(gRPC, mTLS\)/);
  assert.match(server.output(), /Vault API: https:\/\/127\.0\.0\.1:\d+ \(HTTP, mTLS\)/);

  // Vault's HTTP API takes the same files: curl with the client certificate gets in, without it does not.
  const lookupSelf = [`${server.httpUrl}/v1/auth/token/lookup-self`, "-s", "-H", `X-Vault-Token: ${server.rootToken}`, "--cacert", certs.ca];
  const withClientCert = await curl([...lookupSelf, "--cert", certs.clientCert, "--key", certs.clientKey]);
  assert.equal(withClientCert.code, 0, withClientCert.stderr);
  assert.deepEqual((JSON.parse(withClientCert.stdout) as { data: { policies: string[] } }).data.policies, ["root"]);
  assert.notEqual((await curl(lookupSelf)).code, 0, "no client certificate: refused in the handshake");
  assert.notEqual((await curl([...lookupSelf.slice(0, -2), "--cacert", certs.otherCa, "--cert", certs.clientCert, "--key", certs.clientKey])).code, 0, "the server is not trusted without its CA");
  const address = `https://${server.address}`;
  const ca = readFileSync(certs.ca);

  const withCert = new LessorClient({
    address,
    token: server.rootToken,
    caCert: ca,
    clientCert: readFileSync(certs.clientCert),
    clientKey: readFileSync(certs.clientKey),
    deadlineMs: 5000,
  });
  assert.deepEqual((await withCert.tokens.lookupSelf()).policies, ["root"]);
  withCert.close();

  const noCert = new LessorClient({ address, token: server.rootToken, caCert: ca, deadlineMs: 5000 });
  assert.equal((await failure(noCert.tokens.lookupSelf())).codeName, "UNAVAILABLE");
  noCert.close();

  const env = {
    LESSOR_ADDR: address,
    LESSOR_TOKEN: server.rootToken,
    LESSOR_CACERT: certs.ca,
    LESSOR_CLIENT_CERT: certs.clientCert,
    LESSOR_CLIENT_KEY: certs.clientKey,
  };
  let r = await runCli(["secrets", "list", "-format=json"], { env });
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(["secrets", "list"], { env: { ...env, LESSOR_CLIENT_CERT: "", LESSOR_CLIENT_KEY: "" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Code: UNAVAILABLE/);
});

test("plaintext is refused off loopback unless -tls-disable, which warns loudly", async () => {
  // 0.0.0.0 is not loopback: without TLS the server must not start.
  const refused = await runCli(["server", `-data-dir=${tempDir("data")}`, "-listen-address=0.0.0.0:0"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refusing to serve plaintext gRPC on 0\.0\.0\.0:0, which is not a loopback address/);
  // The same rule for Vault's HTTP API, whatever the gRPC listener does.
  const httpRefused = await runCli(["server", `-data-dir=${tempDir("data")}`, "-listen-address=127.0.0.1:0", "-http-listen-address=0.0.0.0:0"]);
  assert.equal(httpRefused.code, 1);
  assert.match(httpRefused.stderr, /refusing to serve plaintext HTTP on 0\.0\.0\.0:0, which is not a loopback address/);
  const server = await startServer({ listenAddress: "0.0.0.0:0", args: ["-tls-disable"] });
  try {
    assert.match(server.output(), /Listener: 0\.0\.0\.0:\d+ \(gRPC, plaintext, NOT ENCRYPTED \(-tls-disable\)\)/);
    assert.match(server.output(), /WARNING: TLS IS DISABLED on a non-loopback address/);
  } finally {
    await server.stop();
  }
});
