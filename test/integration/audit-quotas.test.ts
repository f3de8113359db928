// Audit devices record every request and response with secrets replaced by
// HMAC digests, refuse service when they cannot write; rate limit quotas
// answer RESOURCE_EXHAUSTED with a retry delay.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { clientFor, runCli, startServer, tempDir } from "../helpers/processes.js";
import { ListUsersCommand } from "@aws-sdk/client-iam";
import { EC2_POLICY, rootIam, startWithEmulator } from "../helpers/aws.js";
import { failure } from "../helpers/errors.js";

interface AuditLine {
  time: string;
  type: string;
  auth: { accessor?: string; client_token?: string };
  request: { id: string; path: string; operation: string; method: string; remote_address: string; data?: unknown };
  response?: { data?: Record<string, string>; secret?: { lease_id: string }; auth?: { client_token: string; accessor: string } };
  code?: string;
  error?: string;
}

test("audit: every request and response, HMAC'd, and no service when the device cannot write", async (t) => {
  const { emulator, server, client } = await startWithEmulator(t);
  const logDir = join(tempDir("audit"), "logs");
  mkdirSync(logDir);
  const logFile = join(logDir, "audit.log");
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken };

  let r = await runCli(["audit", "enable", "file", `file_path=${logFile}`], { env });
  assert.deepEqual([r.code, r.stdout], [0, "Success! Enabled the file audit device at: file/\n"], r.stderr);
  r = await runCli(["audit", "list"], { env });
  assert.equal(r.stdout, "Path     Type    Description\n----     ----    -----------\nfile/    file    n/a\n");

  await client.mounts.enable("aws");
  await client.mounts.enable("kv", { path: "secret" });
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const creds = await client.aws.creds("deploy");
  const child = await client.tokens.create({ policies: ["default"], ttlSeconds: 600 });
  await client.write("secret/app", { password: "kv-password-in-audit" });
  await failure(client.read("aws/roles/missing"));
  const bad = clientFor(server, "lsr.not-a-token");
  await failure(bad.tokens.lookupSelf());
  bad.close();

  const text = readFileSync(logFile, "utf8");
  const lines = text.trim().split("\n").map((l) => JSON.parse(l) as AuditLine);
  for (const secret of [emulator.rootSecretAccessKey, creds.secretAccessKey, child.token, server.rootToken!, "kv-password-in-audit", "lsr.not-a-token"]) {
    assert.ok(!text.includes(secret), "a secret value appears in clear in the audit log");
  }
  // The creds read: a request and a response, the response's secret key as its digest.
  const credsLines = lines.filter((l) => l.request?.path === "aws/creds/deploy");
  assert.deepEqual(credsLines.map((l) => l.type), ["request", "response"]);
  const [req, res] = credsLines as [AuditLine, AuditLine];
  assert.equal(req.request.id, res.request.id);
  assert.equal(req.request.operation, "read");
  assert.equal(req.request.method, "SecretsService/Read");
  assert.equal(req.request.remote_address, "127.0.0.1");
  assert.match(req.time, /^\d{4}-\d\d-\d\dT/);
  assert.equal(res.code, "OK");
  const rootLookup = await client.tokens.lookupSelf();
  assert.equal(req.auth.accessor, rootLookup.accessor);
  // Vault's response shape: the data, and the lease as `secret`.
  const data = res.response?.data ?? {};
  assert.equal(res.response?.secret?.lease_id, creds.lease.id);
  assert.equal(data.secret_key, await client.sys.hashAudit(creds.secretAccessKey));
  assert.equal(data.access_key, await client.sys.hashAudit(creds.accessKeyId));
  assert.equal(req.auth.client_token, await client.sys.hashAudit(server.rootToken!));
  r = await runCli(["audit", "hash", creds.secretAccessKey], { env });
  assert.equal(r.stdout.trim(), data.secret_key);
  // The token made by CreateToken is recorded only as its digest.
  const created = lines.find((l) => l.type === "response" && l.request.method === "TokenService/CreateToken");
  assert.equal(created?.response?.auth?.client_token, await client.sys.hashAudit(child.token));
  assert.equal(created?.response?.auth?.accessor, (await client.tokens.lookup({ token: child.token })).accessor);
  // Failures are recorded with their code, failed authentication too.
  const missing = lines.find((l) => l.type === "response" && l.request.path === "aws/roles/missing");
  assert.equal(missing?.code, "NOT_FOUND");
  const unauthenticated = lines.find((l) => l.type === "response" && l.code === "UNAUTHENTICATED");
  assert.ok(unauthenticated, "the failed authentication was recorded");

  // The device's directory disappears: requests are refused, nothing is served unaudited.
  const iam = rootIam(emulator);
  const usersBefore = (await iam.send(new ListUsersCommand({}))).Users?.length;
  rmSync(logDir, { recursive: true });
  const err = await failure(client.read("aws/creds/deploy"));
  assert.equal(err.codeName, "UNAVAILABLE");
  assert.equal(err.reason, "AUDIT_FAILED");
  assert.match(err.message, /audit device file\/ could not record it \(ENOENT\)/);
  // And no credential was issued: the refusal came before the handler.
  assert.equal((await iam.send(new ListUsersCommand({}))).Users?.length, usersBefore);
  iam.destroy();
  mkdirSync(logDir);
  await client.leases.lookup(creds.lease.id);
  assert.ok(readFileSync(logFile, "utf8").includes("LeaseService/LookupLease"), "service resumes once the device can write");

  r = await runCli(["audit", "disable", "file"], { env });
  assert.equal(r.stdout, "Success! Disabled audit device (if it was enabled) at: file/\n");
  r = await runCli(["audit", "list"], { env });
  assert.equal(r.stdout, "No audit devices are enabled.\n");
  rmSync(logDir, { recursive: true });
  await client.leases.revoke(creds.lease.id);
});

test("quotas: per path prefix and per token, RESOURCE_EXHAUSTED with a retry delay", async (t) => {
  const server = await startServer({ dev: true });
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    await server.stop();
  });
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken };
  await client.write("secret/a", { v: "1" });
  let r = await runCli(["quota", "write", "kv-reads", "rate=3", "interval=1h", "path=secret/"], { env });
  assert.deepEqual([r.code, r.stdout], [0, "Success! Data written to: sys/quotas/rate-limit/kv-reads\n"], r.stderr);
  r = await runCli(["quota", "read", "kv-reads"], { env });
  assert.match(r.stdout, /\ninterval {5}1h\nname {9}kv-reads\npath {9}secret\/\nper_token {4}false\nrate {9}3\n/);

  for (let i = 0; i < 3; i++) await client.read("secret/a");
  const err = await failure(client.read("secret/a"));
  assert.equal(err.codeName, "RESOURCE_EXHAUSTED");
  assert.equal(err.reason, "RATE_LIMITED");
  assert.ok(err.retryDelayMs !== undefined && err.retryDelayMs > 1_000_000 && err.retryDelayMs <= 1_200_000, `retry delay ${err.retryDelayMs}`);
  assert.match(err.message, /rate limit quota "kv-reads" exceeded \(3 requests per 3600s on "secret\/"\)/);
  // Other paths are not limited, and the quota paths are exempt.
  await client.mounts.list();
  await client.sys.listQuotas();

  // Per token: each token has its own bucket; a more specific quota wins.
  await client.sys.writeQuota({ name: "per-token", rate: 1, intervalSeconds: 3600, path: "secret/a", perToken: true });
  const one = clientFor(server, (await client.tokens.create({ ttlSeconds: 600 })).token);
  const two = clientFor(server, (await client.tokens.create({ ttlSeconds: 600 })).token);
  await one.read("secret/a");
  await two.read("secret/a");
  assert.equal((await failure(one.read("secret/a"))).codeName, "RESOURCE_EXHAUSTED");
  assert.equal((await failure(two.read("secret/a"))).codeName, "RESOURCE_EXHAUSTED");
  one.close();
  two.close();

  r = await runCli(["quota", "list"], { env });
  assert.equal(r.stdout, "Keys\n----\nkv-reads\nper-token\n");
  await client.sys.deleteQuota("per-token");
  await client.sys.deleteQuota("kv-reads");
  await client.read("secret/a");
  const bad = await failure(client.sys.writeQuota({ name: "x", rate: -1 }));
  assert.equal(bad.codeName, "INVALID_ARGUMENT");
  assert.deepEqual(bad.fieldViolations.map((v) => v.field), ["rate"]);
});
