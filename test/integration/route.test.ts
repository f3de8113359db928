// One route for every request: every RPC of the API is a request on one
// path, and the ACL, the quotas and the audit log all see that same path,
// cleaned. Checked from outside, per RPC: a token without grants is refused
// naming the path and capability; a quota on exactly that path stops the
// second call; the audit log records that path and capability. Then the
// fixes the one route brought: quotas count the cleaned path ("/x", "///x"),
// sudo alone is not enough for revoke-force and revoke-prefix, a write is
// audited as the create or update the ACL checked, and path-help describes
// sys/ like any engine.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import pino from "pino";
import { z } from "zod";
import { Code, LessorClient, LessorClientError } from "@lessor/client";
import { SecretsServiceService } from "@lessor/client/gen/lessor/v1/secrets.js";
import { API } from "../../src/server/rpc/services.js";
import { startLessor, type LessorServer } from "../../src/server/app.js";
import { failure, rejects } from "../helpers/errors.js";
import { registerTestLeaseEngine, TEST_LEASE_ENGINE } from "../helpers/lease-engine.js";
import { registerTestLoginMethod, TEST_LOGIN_METHOD } from "../helpers/login-method.js";
import { runCli, tempDir } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";
import type { JsonObject } from "../../src/util/json.js";

registerTestLeaseEngine();
registerTestLoginMethod();

interface Ctx {
  server: LessorServer;
  root: LessorClient;
  /** Makes what each call needs (its requests are left out of what the audit check reads). */
  admin: LessorClient;
  adminAccessor: string;
  /** A token whose policies grant nothing (the default policy is emptied). */
  nobody: LessorClient;
  nobodyToken: string;
  auditFile: string;
  /** A fresh token with every permission (a child of root), for calls that use up or revoke their caller. */
  actor(): Promise<LessorClient>;
  actorToken(): Promise<string>;
  /** Vault's HTTP API of the same server: "http://127.0.0.1:port". */
  httpUrl: string;
  /** A fresh lease on the test engine. */
  lease(name?: string): Promise<string>;
  client(token: string): LessorClient;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<Ctx> {
  const dataDir = tempDir("route");
  const server = await startLessor({
    dataDir,
    ...(await storeOptions(dataDir)),
    listenAddress: "127.0.0.1:0",
    httpListenAddress: "127.0.0.1:0",
    mountDefaultKv: true,
    logger: pino({ level: "silent" }),
  });
  const clients: LessorClient[] = [];
  const client = (token: string): LessorClient => {
    const c = new LessorClient({ address: server.address, token, retry: { maxAttempts: 1 } });
    clients.push(c);
    return c;
  };
  const root = client(server.rootToken as string);
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });
  await root.policies.write("default", `path "nothing/at/all" { capabilities = ["read"] }`);
  const nobodyToken = (await root.tokens.create({ policies: ["default"], ttlSeconds: 3600, renewable: true })).token;
  await root.mounts.enable(TEST_LEASE_ENGINE, { path: "lease" });
  await root.write("sys/auth/test", { type: TEST_LOGIN_METHOD });
  await root.write("auth/test/role/r", { password: "pw" });
  const auditFile = join(dataDir, "audit.log");
  await root.sys.enableAudit("file", { options: { file_path: auditFile } });
  const admin = await root.tokens.create({ policies: ["root"], ttlSeconds: 3600 });
  const adminClient = client(admin.token);
  const actorToken = async () => (await adminClient.tokens.create({ policies: ["root"], ttlSeconds: 3600, renewable: true })).token;
  return {
    server,
    root,
    admin: adminClient,
    adminAccessor: admin.info.accessor,
    nobody: client(nobodyToken),
    nobodyToken,
    auditFile,
    client,
    actor: async () => client(await actorToken()),
    actorToken,
    httpUrl: `http://${server.httpAddress}`,
    lease: async (name = "a") => {
      const res = await adminClient.read(`lease/creds/${name}`);
      assert.ok(res.lease, "the test engine issues a lease");
      return res.lease.id;
    },
  };
}

interface AuditLine {
  type: string;
  auth: { accessor?: string };
  request: { method: string; path: string; operation: string; transport: string };
  code?: string;
}

function auditLines(file: string): AuditLine[] {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Partial<AuditLine>)
    .filter((l): l is AuditLine => l.request !== undefined);
}

/** One RPC and the path it must act on. */
interface Row {
  method: string;
  /** The path, and the capability the ACL needs there ("help": none). */
  path: string;
  capability: "create" | "read" | "update" | "delete" | "list" | "help";
  /** Makes what the call needs; returns the call, made by the given client, and its HTTP body. */
  prepare(ctx: Ctx): Promise<Prepared>;
  /** Quota paths are exempt from quotas (an operator can always lift one). */
  quotaExempt?: boolean;
  /** A login: answered without a token, so there is no ACL to refuse it. */
  unauthenticated?: boolean;
}

/** A row's call, ready: over gRPC by a client, or over HTTP with this JSON body (writes). */
interface Prepared {
  grpc(c: LessorClient): Promise<unknown>;
  body?: JsonObject;
}

/** The call, and the same request's body over HTTP. */
function call(grpc: Prepared["grpc"], body?: JsonObject): Prepared {
  return { grpc, body };
}

/** Reads a stream until its headers (or an error) arrive, then cancels it. */
function openWatch(c: LessorClient, prefix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = c.raw.leases.watchLeases({ prefix, afterSequence: 0, fromOldest: false }, c.metadata(), {});
    stream.on("metadata", (m: Metadata) => {
      if (m.get("lessor-after-sequence").length > 0) {
        stream.cancel();
        resolve();
      }
    });
    stream.on("error", (err: Error & { code?: number }) => {
      if (err.code === Code.CANCELLED) resolve();
      else reject(LessorClientError.from(err, "LeaseService/WatchLeases"));
    });
  });
}

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of iterable);
}

const ROWS: Row[] = [
  { method: "SecretsService/Read", path: "secret/app/x", capability: "read", prepare: async (x) => (await x.admin.write("secret/app/x", { v: "1" }), call((c) => c.read("secret/app/x"))) },
  { method: "SecretsService/Write", path: "secret/app/w", capability: "update", prepare: async (x) => (await x.admin.write("secret/app/w", { v: "1" }), call((c) => c.write("secret/app/w", { v: "2" }), { v: "2" })) },
  // A write of nothing is refused after the ACL (nothing is created), so each call is a "create".
  { method: "SecretsService/Write", path: "secret/app/new", capability: "create", prepare: async () => call((c) => c.write("secret/app/new", {})) },
  { method: "SecretsService/Delete", path: "secret/app/y", capability: "delete", prepare: async (x) => (await x.admin.write("secret/app/y", { v: "1" }), call((c) => c.delete("secret/app/y"))) },
  { method: "SecretsService/List", path: "secret/app/", capability: "list", prepare: async (x) => (await x.admin.write("secret/app/z", { v: "1" }), call((c) => c.list("secret/app/"))) },
  { method: "SecretsService/PathHelp", path: "secret/app/x", capability: "help", prepare: async () => call((c) => c.pathHelp("secret/app/x")) },
  { method: "LeaseService/LookupLease", path: "sys/leases/lookup/ID", capability: "update", prepare: async () => call((c) => c.leases.lookup("ID")) },
  { method: "LeaseService/RenewLease", path: "sys/leases/renew/ID", capability: "update", prepare: async () => call((c) => c.leases.renew("ID")) },
  { method: "LeaseService/RevokeLease", path: "sys/leases/revoke/ID", capability: "update", prepare: async () => call((c) => c.leases.revoke("ID")) },
  { method: "LeaseService/RevokeLease", path: "sys/leases/revoke-force/ID", capability: "update", prepare: async () => call((c) => c.leases.revoke("ID", { force: true }), { lease_only: true }) },
  { method: "LeaseService/RevokeLeasePrefix", path: "sys/leases/revoke-prefix/lease/creds/p", capability: "update", prepare: async (x) => (await x.lease("p"), call((c) => drain(c.leases.revokePrefix("lease/creds/p")))) },
  { method: "LeaseService/RevokeLeasePrefix", path: "sys/leases/revoke-force/lease/creds/f", capability: "update", prepare: async (x) => (await x.lease("f"), call((c) => drain(c.leases.revokePrefix("lease/creds/f", { force: true })))) },
  { method: "LeaseService/ListLeases", path: "sys/leases/lookup/lease/", capability: "list", prepare: async () => call((c) => c.leases.list("lease/")) },
  { method: "LeaseService/TidyLeases", path: "sys/leases/tidy", capability: "update", prepare: async () => call((c) => c.leases.tidy()) },
  { method: "LeaseService/WatchLeases", path: "sys/leases/lookup/lease/", capability: "list", prepare: async () => call((c) => openWatch(c, "lease/")) },
  { method: "MountService/EnableMount", path: "sys/mounts/m1", capability: "update", prepare: async () => call((c) => c.mounts.enable("kv", { path: "m1" }), { type: "kv" }) },
  { method: "MountService/DisableMount", path: "sys/mounts/m2", capability: "delete", prepare: async (x) => (await ensureMount(x.admin, "m2"), call((c) => c.mounts.disable("m2"))) },
  { method: "MountService/ListMounts", path: "sys/mounts", capability: "read", prepare: async () => call((c) => c.mounts.list()) },
  { method: "TokenService/CreateToken", path: "auth/token/create", capability: "update", prepare: async () => call((c) => c.tokens.create({ ttlSeconds: 60 }), { ttl: "60s" }) },
  { method: "TokenService/CreateToken", path: "auth/token/create-orphan", capability: "update", prepare: async () => call((c) => c.tokens.create({ ttlSeconds: 60, orphan: true }), { ttl: "60s" }) },
  { method: "TokenService/LookupToken", path: "auth/token/lookup", capability: "update", prepare: tokenCall((c, t) => c.tokens.lookup({ token: t.token }), (t) => ({ token: t.token })) },
  { method: "TokenService/LookupToken", path: "auth/token/lookup-accessor", capability: "update", prepare: tokenCall((c, t) => c.tokens.lookup({ accessor: t.accessor }), (t) => ({ accessor: t.accessor })) },
  { method: "TokenService/LookupToken", path: "auth/token/lookup-self", capability: "read", prepare: async () => call((c) => c.tokens.lookup()) },
  { method: "TokenService/LookupSelfToken", path: "auth/token/lookup-self", capability: "read", prepare: async () => call((c) => c.tokens.lookupSelf()) },
  { method: "TokenService/RenewToken", path: "auth/token/renew", capability: "update", prepare: tokenCall((c, t) => c.tokens.renew({ token: t.token }), (t) => ({ token: t.token })) },
  { method: "TokenService/RenewToken", path: "auth/token/renew-accessor", capability: "update", prepare: tokenCall((c, t) => c.tokens.renew({ accessor: t.accessor }), (t) => ({ accessor: t.accessor })) },
  { method: "TokenService/RenewToken", path: "auth/token/renew-self", capability: "update", prepare: async () => call((c) => c.tokens.renew()) },
  { method: "TokenService/RevokeToken", path: "auth/token/revoke", capability: "update", prepare: tokenCall((c, t) => c.tokens.revoke({ token: t.token }), (t) => ({ token: t.token })) },
  { method: "TokenService/RevokeToken", path: "auth/token/revoke-accessor", capability: "update", prepare: tokenCall((c, t) => c.tokens.revoke({ accessor: t.accessor }), (t) => ({ accessor: t.accessor })) },
  { method: "TokenService/RevokeToken", path: "auth/token/revoke-self", capability: "update", prepare: async () => call((c) => c.tokens.revoke()) },
  { method: "TokenService/RevokeToken", path: "auth/token/revoke-orphan", capability: "update", prepare: tokenCall((c, t) => c.tokens.revoke({ accessor: t.accessor, orphan: true }), (t) => ({ accessor: t.accessor })) },
  { method: "PolicyService/WritePolicy", path: "sys/policies/acl/p1", capability: "update", prepare: async () => call((c) => c.policies.write("p1", `path "a" { capabilities = ["read"] }`), { policy: `path "a" { capabilities = ["read"] }` }) },
  { method: "PolicyService/ReadPolicy", path: "sys/policies/acl/default", capability: "read", prepare: async () => call((c) => c.policies.read("default")) },
  { method: "PolicyService/ListPolicies", path: "sys/policies/acl/", capability: "list", prepare: async () => call((c) => c.policies.list()) },
  { method: "PolicyService/DeletePolicy", path: "sys/policies/acl/p2", capability: "delete", prepare: async (x) => (await x.admin.policies.write("p2", `path "a" { capabilities = ["read"] }`), call((c) => c.policies.delete("p2"))) },
  { method: "SysService/EnableAuditDevice", path: "sys/audit/a2", capability: "update", prepare: async (x) => call((c) => c.sys.enableAudit("file", { path: "a2", options: { file_path: `${x.auditFile}.2` } }), { type: "file", options: { file_path: `${x.auditFile}.2` } }) },
  { method: "SysService/DisableAuditDevice", path: "sys/audit/a3", capability: "delete", prepare: async () => call((c) => c.sys.disableAudit("a3")) },
  { method: "SysService/ListAuditDevices", path: "sys/audit", capability: "read", prepare: async () => call((c) => c.sys.listAudit()) },
  { method: "SysService/HashAuditValue", path: "sys/audit-hash", capability: "update", prepare: async () => call((c) => c.sys.hashAudit("x"), { input: "x" }) },
  { method: "SysService/WriteRateLimitQuota", path: "sys/quotas/rate-limit/q9", capability: "update", quotaExempt: true, prepare: async () => call((c) => c.sys.writeQuota({ name: "q9", rate: 100 }), { rate: 100 }) },
  { method: "SysService/ReadRateLimitQuota", path: "sys/quotas/rate-limit/q9", capability: "read", quotaExempt: true, prepare: async (x) => (await x.admin.sys.writeQuota({ name: "q9", rate: 100 }), call((c) => c.sys.readQuota("q9"))) },
  { method: "SysService/ListRateLimitQuotas", path: "sys/quotas/rate-limit/", capability: "list", quotaExempt: true, prepare: async () => call((c) => c.sys.listQuotas()) },
  { method: "SysService/DeleteRateLimitQuota", path: "sys/quotas/rate-limit/q9", capability: "delete", quotaExempt: true, prepare: async () => call((c) => c.sys.deleteQuota("q9")) },
  { method: "SysService/RotateEncryptionKey", path: "sys/rotate", capability: "update", prepare: async () => call((c) => c.sys.rotateKey()) },
  { method: "SysService/GetEncryptionKeyStatus", path: "sys/key-status", capability: "read", prepare: async () => call((c) => c.sys.keyStatus()) },
  { method: "SysService/PruneEncryptionKeys", path: "sys/rotate/prune", capability: "update", prepare: async () => call((c) => c.sys.pruneKeys()) },
  { method: "AuthService/Login", path: "auth/test/login", capability: "update", unauthenticated: true, prepare: async () => call((c) => c.login("test", { role: "r", password: "pw" }), { role: "r", password: "pw" }) },
];

async function ensureMount(root: LessorClient, path: string): Promise<void> {
  if (!(await root.mounts.list()).some((m) => m.path === `${path}/`)) await root.mounts.enable("kv", { path });
}

/** A call on a fresh token made for it; over HTTP, the body names it. */
function tokenCall(
  grpc: (c: LessorClient, target: TokenTarget) => Promise<unknown>,
  body: (target: TokenTarget) => JsonObject,
): Row["prepare"] {
  return async (x) => {
    const made = await x.admin.tokens.create({ ttlSeconds: 600, renewable: true });
    const target = { token: made.token, accessor: made.info.accessor };
    return call((c) => grpc(c, target), body(target));
  };
}

interface TokenTarget {
  token: string;
  accessor: string;
}

test("every RPC acts on one path: the path the ACL checks is the path quota'd and the path audited", async (t) => {
  const ctx = await setup(t);
  const methods = new Set(API.flatMap((s) => Object.values(s.definition).map((m) => m.path.replace(/^\/lessor\.v1\./, ""))));
  assert.deepEqual([...new Set(ROWS.map((r) => r.method))].sort(), [...methods].sort(), "the table covers every RPC of the API");

  for (const row of ROWS) {
    // A lease id in a row's path is made for it.
    const leaseId = row.path.includes("ID") ? await ctx.lease() : "";
    const path = row.path.replace("ID", leaseId);
    const substitute = (c: LessorClient) => row.prepare(ctx).then((f) => f.grpc(withLease(c, leaseId)));
    const seen = auditLines(ctx.auditFile).length;

    // 1. The ACL: a token granted nothing is refused, naming the path and the capability.
    if (row.capability !== "help" && !row.unauthenticated) {
      const err = await failure(substitute(ctx.nobody));
      assert.equal(err.codeName, "PERMISSION_DENIED", `${row.method} (${path}): ${err.message}`);
      assert.match(err.message, new RegExp(`"${row.capability}" on path "${escape(path)}"`), row.method);
    }
    // 2. The quota: one call allowed on exactly this path, the next refused.
    if (!row.quotaExempt) {
      // Everything the two calls need is made first: the quota counts every request on the path.
      const actor = await ctx.actor();
      const [once, twice] = [(await row.prepare(ctx)).grpc, (await row.prepare(ctx)).grpc];
      await ctx.root.sys.writeQuota({ name: "route", path, rate: 1, intervalSeconds: 3600 });
      const first = await once(withLease(actor, leaseId)).then(() => undefined, (e: unknown) => e);
      if (first instanceof LessorClientError) assert.notEqual(first.codeName, "RESOURCE_EXHAUSTED", `${row.method}: the first call is within the quota`);
      const second = await failure(twice(withLease(ctx.root, leaseId)));
      assert.equal(second.codeName, "RESOURCE_EXHAUSTED", `${row.method} (${path}): ${second.message}`);
      assert.equal(second.metadata.quota, "route");
      await ctx.root.sys.deleteQuota("route");
    } else {
      await row.prepare(ctx).then(async (f) => f.grpc(await ctx.actor()));
    }
    // 3. The audit log: every record of this method since is on this path, with this capability.
    const lines = auditLines(ctx.auditFile)
      .slice(seen)
      .filter((l) => l.request.method === row.method && l.auth.accessor !== ctx.adminAccessor);
    assert.ok(lines.length >= 2, `${row.method} was audited`);
    for (const line of lines) {
      assert.equal(line.request.path, path, `${row.method}: audited path`);
      assert.equal(line.request.operation, row.capability, `${row.method}: audited operation`);
    }
  }
});

/** The HTTP verb of a row's request, by the capability it needs (Vault's mapping). */
const VERB: Record<Row["capability"], string> = { read: "GET", create: "POST", update: "POST", delete: "DELETE", list: "LIST", help: "GET" };

/** A row's request over Vault's HTTP API; its status, errors and Retry-After. */
async function overHttp(ctx: Ctx, token: string, row: Row, path: string, body: JsonObject | undefined) {
  const url = `${ctx.httpUrl}/v1/${path}${row.capability === "help" ? "?help=1" : ""}`;
  const res = await fetch(url, { method: VERB[row.capability], headers: { "X-Vault-Token": token }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const errors = res.status >= 400 && text !== "" ? z.object({ errors: z.array(z.string()) }).parse(JSON.parse(text)).errors : [];
  return { status: res.status, errors, retryAfter: res.headers.get("retry-after") };
}

test("over HTTP every row is the same request: refused, rate limited and audited on the same path", async (t) => {
  const ctx = await setup(t);
  for (const row of ROWS) {
    const leaseId = row.path.includes("ID") ? await ctx.lease() : "";
    const path = row.path.replace("ID", leaseId);
    const verb = VERB[row.capability];
    const seen = auditLines(ctx.auditFile).length;
    if (row.capability !== "help" && !row.unauthenticated) {
      const denied = await overHttp(ctx, ctx.nobodyToken, row, path, (await row.prepare(ctx)).body);
      assert.equal(denied.status, 403, `${verb} ${path}: ${denied.errors.join("; ")}`);
      assert.match(denied.errors.join(" "), new RegExp(`"${row.capability}" on path "${escape(path)}"`), `${verb} ${path}`);
    }
    if (!row.quotaExempt) {
      const actor = await ctx.actorToken();
      const [once, twice] = [await row.prepare(ctx), await row.prepare(ctx)];
      await ctx.root.sys.writeQuota({ name: "route", path, rate: 1, intervalSeconds: 3600 });
      const first = await overHttp(ctx, actor, row, path, once.body);
      assert.notEqual(first.status, 429, `${verb} ${path}: the first request is within the quota`);
      const second = await overHttp(ctx, ctx.server.rootToken as string, row, path, twice.body);
      assert.equal(second.status, 429, `${verb} ${path}: ${second.errors.join("; ")}`);
      assert.match(second.errors.join(" "), /rate limit quota "route" exceeded/);
      assert.ok(Number(second.retryAfter) > 0, "429 says when to retry");
      await ctx.root.sys.deleteQuota("route");
    } else {
      const done = await overHttp(ctx, await ctx.actorToken(), row, path, (await row.prepare(ctx)).body);
      assert.ok(done.status < 300, `${verb} ${path}: ${done.status} ${done.errors.join("; ")}`);
    }
    const lines = auditLines(ctx.auditFile)
      .slice(seen)
      .filter((l) => l.request.transport === "http" && l.auth.accessor !== ctx.adminAccessor);
    assert.ok(lines.length >= 2, `${verb} ${path} was audited`);
    for (const line of lines) {
      assert.deepEqual([line.request.method, line.request.path, line.request.operation], [verb, path, row.capability], `${verb} ${path}: audited`);
    }
  }
});

test("a login over HTTP needs no token and answers Vault's auth block; a refused one says only that", async (t) => {
  const ctx = await setup(t);
  const login = (body: JsonObject) => fetch(`${ctx.httpUrl}/v1/auth/test/login`, { method: "POST", body: JSON.stringify(body) });
  const res = await login({ role: "r", password: "pw" });
  assert.equal(res.status, 200);
  const auth = z
    .object({ auth: z.object({ client_token: z.string(), accessor: z.string(), policies: z.array(z.string()), lease_duration: z.number(), renewable: z.boolean(), token_type: z.literal("service") }) })
    .parse(await res.json()).auth;
  // The token authenticates (this test's default policy grants nothing, so it is refused on the path, not as a token).
  const used = await fetch(`${ctx.httpUrl}/v1/auth/token/lookup-self`, { headers: { "X-Vault-Token": auth.client_token } });
  assert.match(JSON.stringify(await used.json()), /permission denied: \\"read\\" on path \\"auth\/token\/lookup-self\\"/);
  const looked = await fetch(`${ctx.httpUrl}/v1/auth/token/lookup-accessor`, {
    method: "POST",
    headers: { "X-Vault-Token": ctx.server.rootToken as string },
    body: JSON.stringify({ accessor: auth.accessor }),
  });
  assert.deepEqual(z.object({ data: z.object({ meta: z.record(z.string(), z.string()) }) }).parse(await looked.json()).data.meta, { role: "r", namespace: "" });
  const refused = await login({ role: "r", password: "wrong" });
  assert.equal(refused.status, 403);
  assert.doesNotMatch(JSON.stringify(await refused.json()), /wrong/, "the refusal does not repeat the request");
});

/** The client whose lease-taking calls use `leaseId` for "ID". */
function withLease(c: LessorClient, leaseId: string): LessorClient {
  if (leaseId === "") return c;
  return new Proxy(c, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== "leases") return value;
      const leases = target.leases;
      return {
        ...leases,
        lookup: () => leases.lookup(leaseId),
        renew: () => leases.renew(leaseId),
        revoke: (_id: string, options?: { force?: boolean }) => leases.revoke(leaseId, options),
      };
    },
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

test("quotas count the cleaned path: /secret/x and ///secret/x are secret/x", async (t) => {
  const ctx = await setup(t);
  await ctx.root.write("secret/app/x", { v: "1" });
  const reader = await ctx.actor();
  await ctx.root.sys.writeQuota({ name: "per-token", path: "secret/app/", rate: 2, intervalSeconds: 3600, perToken: true });
  await reader.read("secret/app/x");
  await reader.read("/secret/app/x");
  await rejects(reader.read("///secret/app/x"), Code.RESOURCE_EXHAUSTED, /rate limit quota "per-token" exceeded/);
  await rejects(reader.read("//secret//app/x"), Code.INVALID_ARGUMENT, /path: contains an empty segment/);
  const paths = auditLines(ctx.auditFile).filter((l) => l.request.method === "SecretsService/Read").map((l) => l.request.path);
  assert.deepEqual([...new Set(paths)], ["secret/app/x"], "every spelling is audited as the one path the ACL checked");
});

test("sudo alone is not enough: revoke-force and revoke-prefix need update and sudo", async (t) => {
  const ctx = await setup(t);
  const sudoOnly = `path "sys/leases/revoke-force/*" { capabilities = ["sudo"] }\npath "sys/leases/revoke-prefix/*" { capabilities = ["sudo"] }`;
  const both = `path "sys/leases/revoke-force/*" { capabilities = ["update", "sudo"] }\npath "sys/leases/revoke-prefix/*" { capabilities = ["update", "sudo"] }`;
  const updateOnly = `path "sys/leases/revoke-force/*" { capabilities = ["update"] }\npath "sys/leases/revoke-prefix/*" { capabilities = ["update"] }`;
  await ctx.root.policies.write("sudo-only", sudoOnly);
  await ctx.root.policies.write("both", both);
  await ctx.root.policies.write("update-only", updateOnly);
  const as = async (policy: string) => ctx.client((await ctx.root.tokens.create({ policies: [policy], ttlSeconds: 600 })).token);
  const id = await ctx.lease("s");

  for (const policy of ["sudo-only", "update-only"]) {
    const c = await as(policy);
    const missing = policy === "sudo-only" ? "update" : "sudo";
    await rejects(c.leases.revoke(id, { force: true }), Code.PERMISSION_DENIED, new RegExp(`"${missing}" on path "sys/leases/revoke-force/`));
    await rejects(drain(c.leases.revokePrefix("lease/creds/s")), Code.PERMISSION_DENIED, new RegExp(`"${missing}" on path "sys/leases/revoke-prefix/lease/creds/s"`));
    await rejects(drain(c.leases.revokePrefix("lease/creds/s", { force: true })), Code.PERMISSION_DENIED, new RegExp(`"${missing}" on path "sys/leases/revoke-force/lease/creds/s"`));
  }
  assert.equal((await ctx.root.leases.lookup(id)).state, 1, "still active");
  const allowed = await as("both");
  await drain(allowed.leases.revokePrefix("lease/creds/s"));
  assert.notEqual((await ctx.root.leases.lookup(id)).state, 1, "revoked by a token with update and sudo");
});

test("a write is audited as the create or update the ACL decided", async (t) => {
  const ctx = await setup(t);
  await ctx.root.write("secret/app/new", { v: "1" });
  await ctx.root.write("secret/app/new", { v: "2" });
  const ops = auditLines(ctx.auditFile)
    .filter((l) => l.type === "request" && l.request.method === "SecretsService/Write")
    .map((l) => l.request.operation);
  assert.deepEqual(ops, ["create", "update"]);
});

test("path-help describes sys/ and auth/token/ paths from their declarations", async (t) => {
  const ctx = await setup(t);
  const env = { LESSOR_ADDR: ctx.server.address, LESSOR_TOKEN: ctx.server.rootToken };
  let r = await runCli(["path-help", "sys/mounts/aws"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Request: {8}sys\/mounts\/aws\nMatching Route: sys\/mounts\/\*path\n/);
  assert.match(r.stdout, /type \(string\)/);
  assert.match(r.stdout, /## PATHS OF THIS SYSTEM ENGINE[\s\S]*sys\/leases\/revoke-prefix\/\*prefix/);
  r = await runCli(["path-help", "auth/token/create"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Matching Route: auth\/token\/create\n/);
  assert.match(r.stdout, /explicit_max_ttl \(duration/);
  // The generic Read reaches the same backend as the typed method.
  const viaRead = await ctx.root.read("sys/mounts");
  assert.ok(Object.keys(viaRead.data).includes("secret/"), "sys/mounts read through SecretsService/Read lists the kv mount");
  assert.ok(SecretsServiceService.read.path.endsWith("/Read"));
});
