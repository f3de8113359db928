// What every auth method shares, checked with the test login method (a
// password per role): a login needs no token, mints a token from the role's
// token fields with the identity's metadata, refuses every failed check with
// the same message (the reason in the audit log only), is subject to quotas;
// the token's metadata fills templated policies, and token_bound_cidrs
// keeps it to its network.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import pino from "pino";
import { Code, LessorClient } from "@lessor/client";
import { startLessor } from "../../src/server/app.js";
import { rejects } from "../helpers/errors.js";
import { registerTestLoginMethod, TEST_LOGIN_METHOD } from "../helpers/login-method.js";
import { tempDir } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";

registerTestLoginMethod();

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dataDir = tempDir("login");
  const server = await startLessor({ dataDir, ...(await storeOptions(dataDir)), listenAddress: "127.0.0.1:0", mountDefaultKv: true, logger: pino({ level: "silent" }) });
  const clients: LessorClient[] = [];
  const client = (token?: string): LessorClient => {
    const c = new LessorClient({ address: server.address, token: token ?? "", retry: { maxAttempts: 1 } });
    clients.push(c);
    return c;
  };
  const root = client(server.rootToken);
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });
  const auditFile = join(dataDir, "audit.log");
  await root.sys.enableAudit("file", { options: { file_path: auditFile } });
  await root.write("sys/auth/test", { type: TEST_LOGIN_METHOD });
  return { server, root, client, auditFile };
}

test("a login needs no token, mints one from the role, and refuses every failed check alike", async (t) => {
  const { root, client, auditFile } = await setup(t);
  assert.deepEqual(Object.keys((await root.read("sys/auth")).data), ["test/"], "sys/auth lists the method");
  await root.policies.write("team", `path "secret/{{token.metadata.namespace}}/*" { capabilities = ["read", "create", "update"] }`);
  await root.write("auth/test/role/payments", { password: "right", namespace: "payments", token_policies: "team", token_ttl: "1h", token_max_ttl: "2h", token_num_uses: 0 });
  await root.write("secret/payments/db", { password: "p" });
  await root.write("secret/orders/db", { password: "o" });

  const anonymous = client();
  const wrong = await rejects(anonymous.login("test", { role: "payments", password: "wrong" }), Code.PERMISSION_DENIED, /^permission denied: the login was refused$/);
  const unknown = await rejects(anonymous.login("auth/test", { role: "nobody", password: "right" }), Code.PERMISSION_DENIED, /^permission denied: the login was refused$/);
  assert.equal(wrong.message, unknown.message, "the caller cannot tell which check failed");

  const { token, info } = await anonymous.login("test", { role: "payments", password: "right" });
  assert.deepEqual(info.policies, ["default", "team"]);
  assert.equal(info.displayName, "test-payments");
  assert.deepEqual(info.meta, { role: "payments", namespace: "payments" });
  assert.equal(info.parentAccessor, "", "a login's token has no parent");
  assert.ok(info.ttlSeconds > 3500 && info.ttlSeconds <= 3600, String(info.ttlSeconds));

  // The generic Write of the login path hands the token back too (grpcurl, other languages).
  const viaWrite = await anonymous.write("auth/test/login", { role: "payments", password: "right" });
  const written = viaWrite.auth;
  assert.ok(written, "the token in the Write response");
  assert.match(written.token, /^lsr\./);
  assert.deepEqual(written.info.policies, ["default", "team"]);
  assert.equal((await client(written.token).tokens.lookupSelf()).displayName, "test-payments");

  // The templated policy: this service's own path, nobody else's.
  const svc = client(token);
  assert.equal((await svc.read("secret/payments/db")).data.password, "p");
  await rejects(svc.read("secret/orders/db"), Code.PERMISSION_DENIED, /"read" on path "secret\/orders\/db"/);
  assert.deepEqual((await svc.tokens.lookupSelf()).meta, { role: "payments", namespace: "payments" });

  // The audit log holds why each login failed; the caller never saw it.
  const lines = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; request?: { path: string }; error_detail?: string; code?: string });
  const refusals = lines.filter((l) => l.type === "response" && l.request?.path === "auth/test/login" && l.code === "PERMISSION_DENIED").map((l) => l.error_detail);
  assert.deepEqual(refusals, ["wrong password for role payments", "no role named nobody"]);
});

test("login paths take quotas (guessing can be throttled) and a token bound to CIDRs works only there", async (t) => {
  const { root, client } = await setup(t);
  await root.write("auth/test/role/bound", { password: "right", token_bound_cidrs: "10.0.0.0/8" });
  await root.write("auth/test/role/local", { password: "right", token_bound_cidrs: ["127.0.0.0/8", "::1"] });
  await rejects(root.write("auth/test/role/bad", { password: "x", token_bound_cidrs: "10.0.0.0/33" }), Code.INVALID_ARGUMENT, /token_bound_cidrs: "10.0.0.0\/33" is not a CIDR block/);
  const anonymous = client();
  const bound = client((await anonymous.login("test", { role: "bound", password: "right" })).token);
  await rejects(bound.tokens.lookupSelf(), Code.UNAUTHENTICATED, /may not be used from this address \(token_bound_cidrs\)/);
  const local = client((await anonymous.login("test", { role: "local", password: "right" })).token);
  assert.equal((await local.tokens.lookupSelf()).displayName, "test-local");

  await root.sys.writeQuota({ name: "logins", path: "auth/test/login", rate: 2, intervalSeconds: 3600 });
  await rejects(anonymous.login("test", { role: "local", password: "guess-1" }), Code.PERMISSION_DENIED, /login was refused/);
  await rejects(anonymous.login("test", { role: "local", password: "guess-2" }), Code.PERMISSION_DENIED, /login was refused/);
  await rejects(anonymous.login("test", { role: "local", password: "right" }), Code.RESOURCE_EXHAUSTED, /rate limit quota "logins" exceeded/);
});
