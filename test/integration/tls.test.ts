// TLS and mTLS on the gRPC port, with certificates made by openssl at test
// time: the client trusts the server only through the CA it is given, with a
// client CA the server refuses a client without a certificate, and SIGHUP
// makes the server read renewed certificate files without dropping
// connections. Clients connect to "localhost" (in the certificates): a TLS
// server name may not be an IP address (RFC 6066; Node warns, DEP0123).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { LessorClient, watchLeases } from "@lessor/client";
import { runCli, startServer, tempDir, type ServerProcess } from "../helpers/processes.js";
import { failure } from "../helpers/errors.js";
import { waitFor } from "../helpers/wait.js";

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/**
 * A CA, two server certificates for 127.0.0.1/localhost (the second one a
 * renewal), and a client certificate, all signed by the CA; and another CA,
 * with a client certificate of its own ("stranger").
 */
function makeCertificates() {
  const dir = tempDir("tls");
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Lessor Test CA"]);
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=Other CA"]);
  for (const [name, cn, ext, ca] of [
    ["server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth", "ca"],
    ["renewed", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth", "ca"],
    ["client", "ci-client", "extendedKeyUsage=clientAuth", "ca"],
    ["stranger", "ci-client", "extendedKeyUsage=clientAuth", "other"],
  ] as const) {
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
  }
  return {
    dir,
    ca: join(dir, "ca.pem"),
    otherCa: join(dir, "other.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    renewedCert: join(dir, "renewed.pem"),
    renewedKey: join(dir, "renewed.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
    strangerCert: join(dir, "stranger.pem"),
    strangerKey: join(dir, "stranger.key"),
  };
}

/** The server's address by a name its certificate holds. */
function tlsAddress(server: ServerProcess): string {
  return `https://localhost:${server.address.slice(server.address.lastIndexOf(":") + 1)}`;
}

test("TLS: trusted with the CA, refused without it; the CLI takes LESSOR_CACERT and https://", async (t) => {
  const certs = makeCertificates();
  const server = await startServer({ args: [`-tls-cert-file=${certs.serverCert}`, `-tls-key-file=${certs.serverKey}`] });
  t.after(() => server.stop());
  assert.match(server.output(), /Listener: 127\.0\.0\.1:\d+ \(gRPC, TLS\)/);
  const address = tlsAddress(server);

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
  assert.match(r.stderr, /^Error looking up token: could not connect to https:\/\/localhost:\d+: unable to verify the first certificate\n$/);
});

test("mTLS: a client without a certificate (or with one from another CA) is refused", async (t) => {
  const certs = makeCertificates();
  const server = await startServer({
    args: [`-tls-cert-file=${certs.serverCert}`, `-tls-key-file=${certs.serverKey}`, `-tls-client-ca-file=${certs.ca}`],
  });
  t.after(() => server.stop());
  assert.match(server.output(), /Listener: 127\.0\.0\.1:\d+ \(gRPC, mTLS\)/);
  const address = tlsAddress(server);
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
  // A well-formed client certificate, for the same name, but from a CA the server does not trust.
  const stranger = new LessorClient({
    address,
    token: server.rootToken,
    caCert: ca,
    clientCert: readFileSync(certs.strangerCert),
    clientKey: readFileSync(certs.strangerKey),
    deadlineMs: 5000,
  });
  assert.equal((await failure(stranger.tokens.lookupSelf())).codeName, "UNAVAILABLE");
  stranger.close();

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
  assert.match(r.stderr, /^Error listing secrets engines: could not connect to https:\/\/localhost:\d+: .*alert certificate required.*\n$/);
  r = await runCli(["secrets", "list"], { env: { ...env, LESSOR_CLIENT_CERT: certs.strangerCert, LESSOR_CLIENT_KEY: certs.strangerKey } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^Error listing secrets engines: could not connect to https:\/\/localhost:\d+: /);
});

/** The SHA-256 fingerprint of the certificate a new TLS connection to the server is shown. */
function servedCertificate(server: ServerProcess, ca: Buffer): Promise<string> {
  const port = Number(server.address.slice(server.address.lastIndexOf(":") + 1));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ca, ALPNProtocols: ["h2"] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

test("SIGHUP: renewed certificate files are served to new connections; open ones are not dropped", async (t) => {
  const certs = makeCertificates();
  const certFile = join(certs.dir, "live.pem");
  const keyFile = join(certs.dir, "live.key");
  copyFileSync(certs.serverCert, certFile);
  copyFileSync(certs.serverKey, keyFile);
  const server = await startServer({ args: [`-tls-cert-file=${certFile}`, `-tls-key-file=${keyFile}`] });
  t.after(() => server.stop());
  const ca = readFileSync(certs.ca);
  const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
  assert.equal(await servedCertificate(server, ca), fingerprint(certs.serverCert));

  // A connection opened before the renewal, held by a stream.
  const client = new LessorClient({ address: tlsAddress(server), token: server.rootToken, caCert: ca, deadlineMs: 5000 });
  const stop = new AbortController();
  let reconnects = 0;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const watching = (async () => {
    for await (const event of watchLeases(client, { signal: stop.signal, onStart: () => opened(), onReconnect: () => reconnects++ })) void event;
  })();
  t.after(async () => {
    stop.abort();
    await watching;
    client.close();
  });
  await open;

  copyFileSync(certs.renewedCert, certFile);
  copyFileSync(certs.renewedKey, keyFile);
  server.proc.kill("SIGHUP");
  await waitFor("the reload to be logged", () => /reloaded the TLS certificate and key/.test(server.output()));
  assert.equal(await servedCertificate(server, ca), fingerprint(certs.renewedCert), "a new connection gets the renewed certificate");
  assert.deepEqual((await client.tokens.lookupSelf()).policies, ["root"]);
  assert.equal(reconnects, 0, "the stream opened before the reload was not broken");

  // Unusable files (a key that is not PEM) are refused; the renewed certificate stays in use.
  writeFileSync(keyFile, "not a key\n");
  server.proc.kill("SIGHUP");
  await waitFor("the refusal to be logged", () => /the TLS files were not reloaded; the previous certificate stays in use/.test(server.output()));
  assert.equal(await servedCertificate(server, ca), fingerprint(certs.renewedCert));
  assert.equal(server.proc.exitCode, null, "the server still runs");
});

test("plaintext is refused off loopback unless -tls-disable, which warns loudly", async () => {
  // 0.0.0.0 is not loopback: without TLS the server must not start.
  const refused = await runCli(["server", `-data-dir=${tempDir("data")}`, "-listen-address=0.0.0.0:0"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /refusing to serve plaintext gRPC on 0\.0\.0\.0:0, which is not a loopback address/);
  const server = await startServer({ listenAddress: "0.0.0.0:0", args: ["-tls-disable"] });
  try {
    assert.match(server.output(), /Listener: 0\.0\.0\.0:\d+ \(gRPC, plaintext, NOT ENCRYPTED \(-tls-disable\)\)/);
    // Logged while starting, printed right after the banner.
    await waitFor("the warning", () => /WARNING: TLS IS DISABLED on a non-loopback address/.test(server.output()));
  } finally {
    await server.stop();
  }
});
