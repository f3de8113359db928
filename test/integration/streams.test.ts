// Hardening of what a caller holds: streams are bounded per token and per
// server and counted by quotas; a flood of them cancelled one by one leaves
// the server answering; a stream ends with its token (revoked or expired);
// an issuance whose caller gave up leaves no IAM user and no lease; and the
// "did you mean" hint of an unknown lease id goes only to who may list there
// or owns the lease.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ClientReadableStream } from "@grpc/grpc-js";
import pino from "pino";
import { Code, LessorClient, LessorClientError } from "@lessor/client";
import { startLessor, type LessorServer } from "../../src/server/app.js";
import { EC2_POLICY, startAwsEmulator } from "../helpers/aws.js";
import { failure, rejects } from "../helpers/errors.js";
import { registerTestLeaseEngine, TEST_LEASE_ENGINE } from "../helpers/lease-engine.js";
import { tempDir } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

registerTestLeaseEngine();

async function setup(t: { after: (fn: () => Promise<void>) => void }, streams = {}) {
  const dataDir = tempDir("streams");
  const server: LessorServer = await startLessor({
    dataDir,
    ...(await storeOptions(dataDir)),
    listenAddress: "127.0.0.1:0",
    logger: pino({ level: "silent" }),
    streams: { tokenCheckIntervalMs: 200, ...streams },
  });
  const clients: LessorClient[] = [];
  const client = (token: string, deadlineMs?: number): LessorClient => {
    const c = new LessorClient({ address: server.address, token, retry: { maxAttempts: 1 }, deadlineMs });
    clients.push(c);
    return c;
  };
  const root = client(server.rootToken as string);
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });
  await root.mounts.enable(TEST_LEASE_ENGINE, { path: "lease" });
  await root.policies.write("watcher", `path "sys/leases/lookup/lease/*" { capabilities = ["list", "sudo"] }`);
  const watcher = async (ttlSeconds = 3600) => {
    const made = await root.tokens.create({ policies: ["watcher"], ttlSeconds });
    return { client: client(made.token), accessor: made.info.accessor };
  };
  return { server, root, client, watcher, quickRoot: client(server.rootToken as string, 2_000) };
}

/** Opens a WatchLeases stream; resolves once the server has started it (or with its error). */
function watch(c: LessorClient, prefix = "lease/"): Promise<{ stream: ClientReadableStream<unknown>; ended: Promise<LessorClientError> }> {
  return new Promise((resolve, reject) => {
    const stream = c.raw.leases.watchLeases({ prefix, afterSequence: 0, fromOldest: false }, c.metadata(), {});
    const ended = new Promise<LessorClientError>((done) => stream.on("error", (err) => done(LessorClientError.from(err, "LeaseService/WatchLeases"))));
    stream.on("metadata", () => resolve({ stream, ended }));
    void ended.then(reject);
  });
}

test("streams are bounded per token and per server, quotas count them, and a cancelled flood leaves the server answering", async (t) => {
  const { root, watcher, quickRoot } = await setup(t, { maxPerToken: 5, maxTotal: 12 });
  const a = await watcher();
  const open = [];
  for (let i = 0; i < 5; i++) open.push(await watch(a.client));
  const perToken = await failure(watch(a.client));
  assert.equal(perToken.codeName, "RESOURCE_EXHAUSTED");
  assert.match(perToken.message, /this token already holds 5 open streams \(at most 5\)/);
  const b = await watcher();
  const c = await watcher();
  for (let i = 0; i < 5; i++) open.push(await watch(b.client));
  for (let i = 0; i < 2; i++) open.push(await watch(c.client));
  const server = await failure(watch(c.client));
  assert.match(server.message, /the server holds 12 open streams \(at most 12\)/);

  // Cancelled one by one, each frees its place; the server answers a root call in its deadline throughout.
  for (const [i, s] of open.entries()) {
    s.stream.cancel();
    if (i % 4 === 0) assert.ok((await quickRoot.tokens.lookupSelf()).accessor, "a root call answers within its 2 s deadline");
  }
  await waitFor("every stream's place to be free", async () => watch(a.client).then((s) => (s.stream.cancel(), true), () => false), 5_000, 50);

  // Opening a stream counts against the quota on its path.
  await root.sys.writeQuota({ name: "watches", path: "sys/leases/lookup/lease/", rate: 2, intervalSeconds: 3600 });
  const d = await watcher();
  (await watch(d.client)).stream.cancel();
  (await watch(d.client)).stream.cancel();
  const limited = await failure(watch(d.client));
  assert.equal(limited.codeName, "RESOURCE_EXHAUSTED");
  assert.match(limited.message, /rate limit quota "watches" exceeded/);
});

test("a stream ends when its token is revoked or expires, and watching needs what listing needs", async (t) => {
  const { root, client, watcher } = await setup(t);
  const revoked = await watcher();
  const first = await watch(revoked.client);
  await root.tokens.revoke({ accessor: revoked.accessor });
  const gone = await first.ended;
  assert.equal(gone.codeName, "UNAUTHENTICATED");
  assert.match(gone.message, /the stream's token was revoked/);

  const brief = await watcher(2);
  const second = await watch(brief.client);
  const expired = await second.ended;
  assert.equal(expired.codeName, "UNAUTHENTICATED");
  assert.match(expired.message, /the stream's token (has expired|was revoked or has expired)/);

  // from_oldest shows lease ids: it needs exactly what ListLeases needs (list and sudo).
  await root.policies.write("lister", `path "sys/leases/lookup/lease/*" { capabilities = ["list"] }`);
  const lister = client((await root.tokens.create({ policies: ["lister"] })).token);
  await rejects(lister.leases.list("lease/"), Code.PERMISSION_DENIED, /"sudo" on path "sys\/leases\/lookup\/lease\/"/);
  const denied = await failure(
    new Promise((resolve, reject) => {
      const s = lister.raw.leases.watchLeases({ prefix: "lease/", afterSequence: 0, fromOldest: true }, lister.metadata(), {});
      s.on("error", reject);
      s.on("metadata", resolve);
    }).catch((err: unknown) => Promise.reject(LessorClientError.from(err, "LeaseService/WatchLeases"))),
  );
  assert.match(denied.message, /"sudo" on path "sys\/leases\/lookup\/lease\/"/);
});

test("an issuance whose caller gave up (deadline) leaves no IAM user and no lease", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  const { root } = await setup(t);
  await root.mounts.enable("aws");
  await root.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1", iam_endpoint: emulator.endpoint, sts_endpoint: emulator.endpoint });
  await root.write("aws/roles/slow", { credential_type: "iam_user", policy_document: EC2_POLICY });
  emulator.addFault({ action: "CreateAccessKey", latencyMs: 1_500, count: 1 });
  const err = await failure(root.read("aws/creds/slow", undefined, { deadlineMs: 500 }));
  assert.equal(err.codeName, "DEADLINE_EXCEEDED");
  await waitFor("the half-made IAM user to be rolled back", async () => emulator.listUsers().length === 0, 10_000, 100);
  assert.deepEqual((await root.leases.list("aws/")).leases, [], "no lease without a holder");
  // The same read with time to finish works.
  assert.ok((await root.read("aws/creds/slow")).lease);
});

test("the hint naming a truncated lease id goes only to who may list there or owns the lease", async (t) => {
  const { root, client } = await setup(t);
  await root.policies.write("issuer", `path "lease/creds/*" { capabilities = ["read"] }`);
  const owner = client((await root.tokens.create({ policies: ["issuer"] })).token);
  const stranger = client((await root.tokens.create({ policies: ["default"] })).token);
  const lease = (await owner.read("lease/creds/a")).lease;
  assert.ok(lease);
  const truncated = lease.id.slice(0, -3);
  const hinted = new RegExp(`did you mean ${lease.id.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\?`);
  await rejects(root.leases.lookup(truncated), Code.NOT_FOUND, hinted);
  await rejects(owner.leases.renew(truncated), Code.NOT_FOUND, hinted);
  const plain = await failure(stranger.leases.renew(truncated));
  assert.equal(plain.codeName, "NOT_FOUND");
  assert.equal(plain.message, `lease not found: ${truncated}`, "no lease id for a token that could not list it");
  assert.equal(plain.metadata.did_you_mean, undefined);
});
