// The lease manager on the in-memory store, with an engine whose revocations
// the test controls (helpers/lease-rig.ts): issuance from intents, rollback,
// renewal, revocation with its retries and bookkeeping, queueing, force, and
// revoking by token or mount. No process, no network: milliseconds each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, LessorError } from "../../src/errors.js";
import { FORCE_REVOKE_NOTE } from "../../src/leases/manager.js";
import { FAST_RETRY, leaseRig, SECRET_TYPE } from "../helpers/lease-rig.js";

function isLessorError(code: Code, reason: string): (err: unknown) => boolean {
  return (err) => err instanceof LessorError && err.code === code && err.reason === reason;
}

async function eventTypes(rig: Awaited<ReturnType<typeof leaseRig>>, id: string): Promise<string[]> {
  return (await rig.store.events.after(0, id, 100)).filter((e) => e.leaseId === id).map((e) => e.type);
}

test("register records the lease its intent announced, within the mount's TTLs, and ends the intent", async () => {
  const rig = await leaseRig();
  const before = Date.now();
  const plain = await rig.issue();
  assert.deepEqual([plain.durationSeconds, plain.renewable], [3600, true], "the mount's default TTL");
  const lease = await rig.leases.lookup(plain.id);
  assert.deepEqual([lease.state, lease.ttlSeconds, lease.secretType, lease.mountAccessor, lease.tokenAccessor], ["active", 3600, SECRET_TYPE, rig.mount.accessor, "token-1"]);
  assert.ok(lease.issueTime >= before && lease.expireTime === lease.issueTime + 3600_000 && lease.maxExpireTime === lease.issueTime + 7200_000);
  assert.equal(await rig.store.intents.existsForLease(plain.id), false);
  // The engine's own TTL, within the mount's max.
  assert.equal((await rig.issue({ ttlSeconds: 60 })).durationSeconds, 60);
  assert.equal((await rig.issue({ ttlSeconds: 99_999 })).durationSeconds, 7200);
  const capped = await rig.leases.lookup((await rig.issue({ maxTtlSeconds: 600 })).id);
  assert.deepEqual([capped.expireTime - capped.issueTime, capped.maxExpireTime - capped.issueTime], [600_000, 600_000], "the engine's max TTL caps the TTL too");
  assert.deepEqual(await eventTypes(rig, plain.id), ["created"]);
});

test("register refuses once a rollback took the intent, and when the mount went away meanwhile", async () => {
  const rig = await leaseRig({ intentTimeoutMs: 0 });
  const id = "test/creds/role/late";
  const intent = await rig.leases.recordIntent(rig.mount.accessor, id, SECRET_TYPE, { user: id });
  // The sweep rolls it back first (the request was too slow).
  assert.equal(await rig.leases.rollbackAbandoned(0), 1);
  assert.deepEqual(rig.engine.rolledBack, [id]);
  const secret = { type: SECRET_TYPE, internal: { user: id }, renewable: true };
  await assert.rejects(rig.leases.register(rig.mount.accessor, id, secret, intent, "t", Date.now()), isLessorError(Code.UNAVAILABLE, "ISSUANCE_ROLLED_BACK"));
  await assert.rejects(rig.leases.lookup(id), isLessorError(Code.NOT_FOUND, "LEASE_NOT_FOUND"));

  await assert.rejects(rig.leases.register("gone_1", "gone/creds/x", secret, null, "t", Date.now()), isLessorError(Code.NOT_FOUND, "MOUNT_GONE"));
});

test("rollback: abandoned intents are undone through the engine; one whose rollback fails is kept for the next sweep", async () => {
  // The failed rollback's own retry waits a minute here: the sweeps below, not a retry timer racing them, take it.
  const rig = await leaseRig({ retry: { ...FAST_RETRY, baseMs: 60_000, capMs: 60_000 } });
  for (const n of [1, 2]) await rig.leases.recordIntent(rig.mount.accessor, `test/creds/role/i${n}`, SECRET_TYPE, {});
  rig.engine.failRollbacks(1);
  assert.equal(await rig.leases.rollbackAbandoned(0), 2, "both tried");
  assert.deepEqual(rig.engine.rolledBack, ["test/creds/role/i2"]);
  assert.equal(await rig.store.intents.existsForLease("test/creds/role/i1"), true, "released, not lost");
  assert.equal(await rig.leases.rollbackAbandoned(0), 1);
  assert.deepEqual(rig.engine.rolledBack, ["test/creds/role/i2", "test/creds/role/i1"]);
  assert.equal(await rig.leases.rollbackAbandoned(0), 0);
  // Younger than the timeout: left to the request that is still issuing it.
  await rig.leases.recordIntent(rig.mount.accessor, "test/creds/role/i3", SECRET_TYPE, {});
  assert.equal(await rig.leases.rollbackAbandoned(60_000), 0);
});

test("renew: by the increment, by the lease's own TTL without one, never past the max TTL; the engine may shorten it", async () => {
  const rig = await leaseRig();
  const { id } = await rig.issue({ ttlSeconds: 600 });
  assert.equal((await rig.leases.renew(id, 1800)).durationSeconds, 1800);
  const own = await rig.leases.renew(id, 0);
  assert.deepEqual([own.durationSeconds, own.clamped], [600, false], "its own TTL, not the last increment");
  assert.ok(own.lease.lastRenewalTime !== null);
  const clamped = await rig.leases.renew(id, 99_999);
  assert.equal(clamped.clamped, true);
  assert.equal(clamped.lease.expireTime, clamped.lease.maxExpireTime);
  rig.engine.renewTtlSeconds = 42;
  assert.equal((await rig.leases.renew(id, 1800)).durationSeconds, 42, "the engine's answer wins");
  assert.deepEqual(await eventTypes(rig, id), ["created", "renewed", "renewed", "renewed", "renewed"]);

  const fixed = await rig.issue({ renewable: false });
  await assert.rejects(rig.leases.renew(fixed.id, 60), isLessorError(Code.FAILED_PRECONDITION, "LEASE_NOT_RENEWABLE"));
  await rig.leases.revoke(id);
  await assert.rejects(rig.leases.renew(id, 60), isLessorError(Code.FAILED_PRECONDITION, "LEASE_NOT_ACTIVE"));
  await assert.rejects(rig.leases.renew("test/creds/role/none", 60), isLessorError(Code.NOT_FOUND, "LEASE_NOT_FOUND"));
});

test("revoke calls the engine once and records the revocation; revoking again changes nothing", async () => {
  const rig = await leaseRig();
  const { id } = await rig.issue();
  assert.deepEqual(await rig.leases.revoke(id), { leaseId: id, revokedNow: true });
  assert.deepEqual(await rig.leases.revoke(id), { leaseId: id, revokedNow: false });
  assert.deepEqual(rig.engine.revoked, [id]);
  const lease = await rig.leases.lookup(id);
  assert.deepEqual([lease.state, lease.attempts, lease.lastError, lease.nextAttemptTime], ["revoked", 0, null, null]);
  assert.ok(lease.revokeTime !== null);
  assert.deepEqual(await eventTypes(rig, id), ["created", "revoked"]);
});

test("two revokes of one lease at once share a single engine call", async () => {
  const rig = await leaseRig();
  const { id } = await rig.issue();
  rig.engine.hold();
  const first = rig.leases.revoke(id);
  const second = rig.leases.revoke(id);
  while (rig.engine.running === 0) await new Promise((r) => setImmediate(r));
  assert.equal((await rig.leases.lookup(id)).state, "revoking", "claimed before the engine is called");
  rig.engine.release();
  assert.deepEqual(await Promise.all([first, second]), [
    { leaseId: id, revokedNow: true },
    { leaseId: id, revokedNow: true },
  ]);
  assert.equal(rig.engine.attemptsOn(id), 1);
});

test("a failed revocation is kept: attempts counted, the retry scheduled, the error said; irrevocable after the last attempt", async () => {
  const rig = await leaseRig();
  const { id } = await rig.issue();
  rig.engine.failNext(3);
  const started = Date.now();
  await assert.rejects(rig.leases.revoke(id), /the owning system said no/);
  const once = await rig.leases.lookup(id);
  assert.deepEqual([once.state, once.attempts, once.lastError], ["revoking", 1, "internal error during revocation"], "an unknown error's text is not repeated");
  // The delay after one failure: 40 ms (FAST_RETRY's base doubled), with jitter down to half of it.
  assert.ok(once.nextAttemptTime !== null && once.nextAttemptTime >= started + FAST_RETRY.baseMs);

  rig.engine.failNext(2, () => new LessorError(Code.UNAVAILABLE, "throttled by the owning system", { reason: "THROTTLED", retryDelayMs: 60_000 }));
  const beforeSecond = Date.now();
  await assert.rejects(rig.leases.revoke(id), /throttled/);
  const twice = await rig.leases.lookup(id);
  assert.deepEqual([twice.attempts, twice.lastError], [2, "throttled by the owning system"]);
  assert.ok((twice.nextAttemptTime ?? 0) >= beforeSecond + 60_000, "never sooner than the owning system asked");

  await assert.rejects(rig.leases.revoke(id), /throttled/);
  const gaveUp = await rig.leases.lookup(id);
  assert.deepEqual([gaveUp.state, gaveUp.attempts, gaveUp.nextAttemptTime], ["irrevocable", 3, null]);
  // Asked again once the system recovered: revoked, the error cleared.
  assert.deepEqual(await rig.leases.revoke(id), { leaseId: id, revokedNow: true });
  assert.equal((await rig.leases.lookup(id)).lastError, null);
  assert.deepEqual(await eventTypes(rig, id), ["created", "irrevocable", "revoked"]);
});

test("a lease no engine can revoke (its mount is gone) fails REVOKER_MISSING and stays to be retried or forced", async () => {
  const rig = await leaseRig();
  const { id } = await rig.issue();
  await rig.mounts.remove("test/");
  await assert.rejects(rig.leases.revoke(id), isLessorError(Code.FAILED_PRECONDITION, "REVOKER_MISSING"));
  const lease = await rig.leases.lookup(id);
  assert.deepEqual([lease.state, lease.attempts], ["revoking", 1]);
  assert.deepEqual(await rig.leases.forceRevoke(id), { leaseId: id, revokedNow: true });
});

test("the scheduler's claim takes a lease only while it is due: one renewed since it was read is left alone", async () => {
  const rig = await leaseRig();
  const id = await rig.record(0);
  const stale = await rig.leases.lookup(id);
  await rig.leases.renew(id, 3600);
  assert.deepEqual(await rig.leases.revokeRecord(stale, undefined, "due"), { leaseId: id, revokedNow: false });
  assert.equal(rig.engine.calls.length, 0);
  assert.equal((await rig.leases.lookup(id)).state, "active");
  // A request takes it whatever its due time.
  assert.deepEqual(await rig.leases.revokeRecord(stale, "revoked", "request"), { leaseId: id, revokedNow: true });
});

test("enqueueRevoke queues for the scheduler and wakes it; force ends a lease without the engine", async () => {
  const rig = await leaseRig();
  const woken: number[] = [];
  rig.leases.onDue((at) => woken.push(at));
  const queued = await rig.issue();
  const before = Date.now();
  assert.deepEqual(await rig.leases.enqueueRevoke(queued.id), { leaseId: queued.id, revokedNow: false, queued: true });
  const lease = await rig.leases.lookup(queued.id);
  assert.equal(lease.state, "revoking");
  assert.ok(lease.nextAttemptTime !== null && lease.nextAttemptTime >= before && lease.nextAttemptTime <= Date.now(), "due now");
  assert.ok(woken.length >= 1 && (woken.at(-1) ?? 0) <= Date.now());

  const forced = await rig.issue();
  assert.deepEqual(await rig.leases.forceRevoke(forced.id), { leaseId: forced.id, revokedNow: true });
  assert.deepEqual(await rig.leases.forceRevoke(forced.id), { leaseId: forced.id, revokedNow: false });
  assert.equal((await rig.leases.lookup(forced.id)).lastError, FORCE_REVOKE_NOTE);
  assert.deepEqual(await rig.leases.enqueueRevoke(forced.id), { leaseId: forced.id, revokedNow: false, queued: false });
  assert.equal(rig.engine.calls.length, 0, "neither called the engine");
  assert.deepEqual(await eventTypes(rig, forced.id), ["created", "force_revoked"]);
});

test("a lease id that is not found is a plain NOT_FOUND; completion finds the one live lease it starts (a truncated paste)", async () => {
  const rig = await leaseRig();
  const { id } = await rig.issue({ tokenAccessor: "owner" });
  await assert.rejects(rig.leases.revoke(id.slice(0, -2)), (err: unknown) => {
    assert.ok(err instanceof LessorError && err.code === Code.NOT_FOUND);
    assert.equal(err.metadata.did_you_mean, undefined, "who may be told is the caller's to decide (sys/leases)");
    return true;
  });
  assert.deepEqual(await rig.leases.completion(id.slice(0, -2)), { id, tokenAccessor: "owner" });
  assert.equal(await rig.leases.completion("test/cr"), undefined, "too short to guess");
  await rig.issue(); // now two leases share the prefix: no guess
  assert.equal(await rig.leases.completion("test/creds/role/"), undefined);
});

test("revoking by token ends every live lease the token made, counting one that fails (left to the retries)", async () => {
  const rig = await leaseRig();
  const mine = [await rig.issue({ tokenAccessor: "a" }), await rig.issue({ tokenAccessor: "a" }), await rig.issue({ tokenAccessor: "a" })];
  const other = await rig.issue({ tokenAccessor: "b" });
  await rig.leases.revoke(mine[0]!.id);
  rig.engine.failNext(1);
  assert.equal(await rig.leases.revokeByToken("a"), 2);
  const states = await Promise.all(mine.map((g) => rig.leases.lookup(g.id).then((l) => l.state)));
  assert.deepEqual(states.sort(), ["revoked", "revoked", "revoking"]);
  assert.equal((await rig.leases.lookup(other.id)).state, "active");
});

test("revokeMount revokes every live lease of the mount", async () => {
  const rig = await leaseRig();
  const ids = [(await rig.issue()).id, (await rig.issue()).id];
  await rig.leases.forceRevoke(ids[0]!);
  assert.equal(await rig.leases.revokeMount(rig.mount.accessor, rig.mount.path), 1);
  assert.deepEqual(rig.engine.revoked, [ids[1]]);
});
