// The expiry scheduler on the in-memory store, with an engine whose
// revocations the test controls (helpers/lease-rig.ts): leases expiring in
// milliseconds are revoked when due and never before, failures are retried
// with backoff then given up on, the pool bound holds while revocations hang,
// stop() waits for them, paused expiry runs only decided revocations, queued
// work wakes a sleeping scheduler, drift is not acted on, and each mount's
// rate limit spaces its revocations.
import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { ExpiryScheduler, type ExpiryOptions } from "../../src/leases/expiry.js";
import type { LeaseManagerOptions } from "../../src/leases/manager.js";
import { leaseRig, type LeaseRig } from "../helpers/lease-rig.js";
import { waitFor } from "../helpers/wait.js";

type Context = { after: (fn: () => Promise<void>) => void };

/** A rig and a started scheduler, stopped after the test. */
async function running(t: Context, options: { expiry?: ExpiryOptions; leases?: LeaseManagerOptions; expireActive?: boolean; logs?: string[] } = {}): Promise<LeaseRig & { scheduler: ExpiryScheduler }> {
  const rig = await leaseRig(options.leases);
  const logs = options.logs;
  const logger = logs ? pino({ level: "warn" }, { write: (line: string) => void logs.push(line) }) : rig.logger;
  const scheduler = new ExpiryScheduler(rig.store, rig.leases, logger, options.expiry);
  scheduler.start({ expireActive: options.expireActive ?? true });
  t.after(() => scheduler.stop());
  return { ...rig, scheduler };
}

const until = (what: string, check: () => boolean | Promise<boolean>) => waitFor(what, async () => (await check()) || undefined, 5_000, 5);

test("expired leases are revoked when they expire, in order, never before", async (t) => {
  const rig = await running(t);
  const base = Date.now();
  const at = (ms: number) => ({ expireTime: base + ms });
  const ids = [await rig.record(0, at(60)), await rig.record(0, at(20)), await rig.record(0, at(40))];
  await until("every lease revoked", () => rig.engine.revoked.length === 3);
  assert.deepEqual(rig.engine.calls.map((c) => c.leaseId), [ids[1], ids[2], ids[0]], "in expiry order");
  for (const call of rig.engine.calls) {
    const lease = await rig.leases.lookup(call.leaseId);
    assert.ok(call.at >= lease.expireTime, `${call.leaseId} revoked ${lease.expireTime - call.at} ms early`);
    assert.equal(lease.state, "revoked");
  }
  const ended = (await rig.store.events.after(0, "", 100)).filter((e) => e.type !== "created");
  assert.deepEqual(ended.map((e) => [e.type, e.leaseId]).sort(), ids.map((id) => ["expired", id]).sort());
});

test("a failing revocation is retried with backoff until it succeeds", async (t) => {
  const rig = await running(t);
  rig.engine.failNext(2);
  const id = await rig.record(0);
  await until("the lease revoked", () => rig.engine.revoked.includes(id));
  const calls = rig.engine.calls.map((c) => c.at);
  assert.equal(calls.length, 3);
  // After a failure, the next attempt waits at least half the doubled base delay (20 ms).
  for (let i = 1; i < calls.length; i++) assert.ok((calls[i] ?? 0) - (calls[i - 1] ?? 0) >= 20, `retry ${i} waited its delay`);
  const lease = await rig.leases.lookup(id);
  assert.deepEqual([lease.state, lease.attempts, lease.lastError], ["revoked", 2, null]);
});

test("after the last attempt a lease is irrevocable, and the scheduler leaves it alone", async (t) => {
  const rig = await running(t);
  rig.engine.failNext(100);
  const id = await rig.record(0);
  await until("the lease irrevocable", async () => (await rig.leases.lookup(id)).state === "irrevocable");
  assert.equal(rig.engine.attemptsOn(id), 3);
  assert.equal(await rig.store.leases.nextDueTime(), null, "nothing is due any more");
  await new Promise((r) => setTimeout(r, 120)); // several retry delays
  assert.equal(rig.engine.attemptsOn(id), 3, "not tried again unless someone asks");
});

test("no more revocations run at once than the pool allows, however long they hang; the rest start as they finish", async (t) => {
  const rig = await running(t, { expiry: { concurrency: 2, mountConcurrency: 2 } });
  rig.engine.hold();
  for (let i = 0; i < 5; i++) await rig.record(0);
  await until("two revocations under way", () => rig.engine.running === 2);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual([rig.engine.running, rig.engine.calls.length], [2, 2], "the others wait for a free slot");
  rig.engine.release();
  await until("every lease revoked", () => rig.engine.revoked.length === 5);
  assert.equal(rig.engine.maxRunning, 2);
});

test("a mount whose revocations hang holds only its lane: another mount's due leases are read and revoked meanwhile", async (t) => {
  // A small batch: the hung mount's backlog alone would fill every read of the due index.
  const rig = await running(t, { expiry: { concurrency: 4, mountConcurrency: 2, batchSize: 4 } });
  const other = await rig.mounts.enable("secret", "controlled", "other/", { defaultTtlSeconds: 3600, maxTtlSeconds: 7200 }, Date.now());
  rig.engine.hold((lease) => lease.mountAccessor === rig.mount.accessor);
  const hung: string[] = [];
  for (let i = 0; i < 10; i++) hung.push(await rig.record(0));
  await until("the hung mount's lane full", () => rig.engine.running === 2);
  const others: string[] = [];
  for (let i = 0; i < 3; i++) others.push(await rig.record(20, { mountAccessor: other.accessor }));
  await until("the other mount's leases revoked", () => others.every((id) => rig.engine.revoked.includes(id)));
  assert.equal(rig.engine.running, 2, "the hung mount holds no more than its lane");
  assert.deepEqual(hung.filter((id) => rig.engine.revoked.includes(id)), [], "(its revocations are still hanging)");
  rig.engine.release();
  await until("every lease revoked", () => rig.engine.revoked.length === hung.length + others.length);
  assert.ok(rig.engine.maxRunning <= 4, "never more than the pool");
});

test("stop() waits for the revocations under way, and nothing starts after it", async (t) => {
  const rig = await running(t);
  rig.engine.hold();
  const id = await rig.record(0);
  await until("the revocation under way", () => rig.engine.running === 1);
  let stopped = false;
  const stopping = rig.scheduler.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stopped, false, "still waiting for the engine");
  rig.engine.release();
  await stopping;
  assert.equal((await rig.leases.lookup(id)).state, "revoked");
  const later = await rig.record(0);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await rig.leases.lookup(later)).state, "active", "a stopped scheduler revokes nothing");
});

test("with expiry paused, expired leases stay active while revocations already decided still run", async (t) => {
  const rig = await running(t, { expireActive: false });
  const expired = await rig.record(0);
  const queued = await rig.issue();
  await rig.leases.enqueueRevoke(queued.id);
  await until("the queued lease revoked", () => rig.engine.revoked.includes(queued.id));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal((await rig.leases.lookup(expired)).state, "active");
  assert.equal(rig.engine.attemptsOn(expired), 0);
});

test("a revocation queued while the scheduler sleeps wakes it at once", async (t) => {
  // Nothing due: it would sleep a minute without the wake-up.
  const rig = await running(t, { expiry: { maxSleepMs: 60_000 } });
  const { id } = await rig.issue();
  await new Promise((r) => setTimeout(r, 20));
  await rig.leases.enqueueRevoke(id);
  await until("the queued lease revoked", () => rig.engine.revoked.includes(id));
});

test("a due time that disagrees with its lease is reported, never acted on early", async (t) => {
  const logs: string[] = [];
  const rig = await running(t, { logs });
  const id = await rig.record(3_600_000);
  // Drift: an active lease, an hour from expiry, due now.
  await rig.store.leases.recordRevokeFailure(id, "drift", Date.now(), false);
  await until("the drift reported", () => logs.some((l) => l.includes("run `lessor lease tidy`")));
  assert.equal(rig.engine.calls.length, 0);
  assert.equal((await rig.leases.lookup(id)).state, "active");
});

test("each mount's rate limit spaces its revocations", async (t) => {
  const rig = await running(t, { leases: { revokeRate: { perSecond: 10, burst: 1 } } });
  for (let i = 0; i < 3; i++) await rig.record(0);
  await until("every lease revoked", () => rig.engine.revoked.length === 3);
  const calls = rig.engine.calls.map((c) => c.at);
  // 10 per second: one every 100 ms. The engine sees each call a little after its turn came (the claim is
  // written first), by a varying few ms; unlimited, they would all come within a few ms.
  for (let i = 1; i < calls.length; i++) assert.ok((calls[i] ?? 0) - (calls[i - 1] ?? 0) >= 50, `revocation ${i} waited its turn`);
});

test("a mount with a full lane is read again before its queue empties, not walked past on every completion", async (t) => {
  // Record first, start after: the whole backlog is due at once, as in a mass expiry.
  const rig = await leaseRig();
  for (let i = 0; i < 40; i++) await rig.record(0);
  const reads: number[] = [];
  const due = rig.store.leases.due.bind(rig.store.leases);
  rig.store.leases.due = async (now, limit, skip) => {
    const rows = await due(now, limit, skip);
    reads.push(rows.length);
    return rows;
  };
  const scheduler = new ExpiryScheduler(rig.store, rig.leases, rig.logger, { concurrency: 2, mountConcurrency: 2, batchSize: 8 });
  scheduler.start();
  t.after(() => scheduler.stop());
  await until("every lease revoked", () => rig.engine.revoked.length === 40);
  // Empty reads come only at the end (each left a slot with nothing due);
  // leaving the busy mount out of reads while its queue drained made one per completion.
  assert.ok(reads.filter((n) => n === 0).length <= 4, `reads: ${reads.join(",")}`);
});
