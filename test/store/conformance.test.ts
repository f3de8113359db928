// The store conformance suite: the same cases against every Store
// implementation, so SQLite, PostgreSQL and the in-memory store (which the
// fast unit tests stand on) keep one meaning. The SQLite pass runs SQLite and
// the in-memory store; the PostgreSQL pass runs PostgreSQL (on the runner's
// cluster): each store runs once overall. Every case gets a fresh store.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Keyring } from "../../src/store/encryption.js";
import { openMemoryStore } from "../../src/store/memory.js";
import { openStore } from "../../src/store/open.js";
import type { LeaseRecord, LeaseState, NewLease, Store, TokenRecord } from "../../src/store/types.js";
import { tempDir } from "../helpers/processes.js";
import { storedBytes } from "../helpers/raw-db.js";
import { MINUTE, newLease, T } from "../helpers/lease-fixture.js";
import { onPostgres, storeOptions } from "../helpers/store.js";

type Kind = "sqlite" | "postgres" | "memory";

interface Subject {
  store: Store;
  keyring: Keyring;
  /** Everything the store keeps, as bytes (to look for secrets in clear). */
  storedBytes(): Promise<string>;
}

async function open(kind: Kind): Promise<Subject> {
  const keyring = Keyring.generate();
  if (kind === "memory") {
    const store = openMemoryStore({ keyring });
    return { store, keyring, storedBytes: async () => store.storedBytes() };
  }
  const dataDir = tempDir("conformance");
  const { storageUrl } = await storeOptions(dataDir);
  // PostgreSQL holds a claimed revocation for at least its claim timeout (replicas): made short here, so a
  // claim's next attempt is the one asked for, as on the other stores.
  const url = storageUrl === undefined ? undefined : new URL(storageUrl);
  url?.searchParams.set("revoke_claim_timeout", "1");
  const store = await openStore({ dataDir, storageUrl: url?.toString(), keyring });
  return { store, keyring, storedBytes: () => storedBytes(dataDir) };
}


async function insert(store: Store, ...leases: NewLease[]): Promise<void> {
  for (const l of leases) assert.equal(await store.leases.insertFromIntent(l, null), true);
}

async function get(store: Store, id: string): Promise<LeaseRecord> {
  const found = await store.leases.get(id);
  assert.ok(found, `lease ${id} is stored`);
  return found;
}

async function eventsOf(store: Store, prefix = ""): Promise<Array<[string, string]>> {
  return (await store.events.after(0, prefix, 1000)).map((e) => [e.type, e.leaseId]);
}

function token(accessor: string, fields: Partial<TokenRecord> = {}): TokenRecord {
  return {
    accessor,
    policies: ["default"],
    displayName: `token-${accessor}`,
    parentAccessor: null,
    createdAt: T,
    expireTime: null,
    ttlSeconds: 0,
    maxExpireTime: null,
    renewable: false,
    numUses: 0,
    usesLeft: 0,
    meta: {},
    boundCidrs: [],
    ...fields,
  };
}

const CASES: Record<string, (s: Subject) => Promise<void>> = {
  async "mounts: listed by path; deleting one takes its engine entries with it"({ store }) {
    for (const [path, accessor] of [["kv/", "kv_1"], ["aws/", "aws_1"]] as const) {
      await store.mounts.insert({ path, accessor, type: path.slice(0, -1), description: "d", defaultTtlSeconds: 60, maxTtlSeconds: 120, createdAt: T });
    }
    await assert.rejects(store.mounts.insert({ path: "aws/", accessor: "aws_2", type: "aws", description: "", defaultTtlSeconds: 0, maxTtlSeconds: 0, createdAt: T }));
    assert.deepEqual(
      (await store.mounts.list()).map((m) => [m.path, m.accessor, m.defaultTtlSeconds, m.maxTtlSeconds, m.createdAt]),
      [
        ["aws/", "aws_1", 60, 120, T],
        ["kv/", "kv_1", 60, 120, T],
      ],
    );
    await store.entries.put("aws_1", "config/root", { region: "us-east-1" });
    await store.entries.put("kv_1", "a", "kept");
    await store.mounts.delete("aws/");
    await store.mounts.delete("nothing/");
    assert.deepEqual((await store.mounts.list()).map((m) => m.path), ["kv/"]);
    assert.equal(await store.entries.get("aws_1", "config/root"), undefined);
    assert.equal(await store.entries.get("kv_1", "a"), "kept");
  },

  async "engine entries: put overwrites, delete says whether it removed, list folds keys into files and folders"({ store }) {
    await store.entries.put("kv_1", "app/db", { user: "u" });
    await store.entries.put("kv_1", "app/db", { user: "v", n: [1, null, true] });
    await store.entries.put("kv_1", "app/tls/cert", "c");
    await store.entries.put("kv_1", "app/tls/key", "k");
    await store.entries.put("kv_1", "apple", 1);
    await store.entries.put("kv_2", "app/other", 2);
    assert.deepEqual(await store.entries.get("kv_1", "app/db"), { user: "v", n: [1, null, true] });
    assert.deepEqual(await store.entries.list("kv_1", "app/"), ["db", "tls/"]);
    assert.deepEqual(await store.entries.list("kv_1", ""), ["app/", "apple"]);
    assert.deepEqual(await store.entries.list("kv_1", "app"), ["/", "le"]);
    assert.equal(await store.entries.delete("kv_1", "app/db"), true);
    assert.equal(await store.entries.delete("kv_1", "app/db"), false);
    assert.equal(await store.entries.get("kv_1", "app/db"), undefined);
  },

  async "engine entries: compareAndSwap changes a value only from the one expected, and of racing swaps exactly one wins"({ store }) {
    // Create only where absent; replace and delete only from the value read.
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", { left: 9 }, { left: 8 }), false, "nothing there to swap from");
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", undefined, { left: 3, at: [1, null] }), true);
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", undefined, { left: 99 }), false, "already there");
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", { at: [1, null], left: 3 }, { left: 2 }), true, "key order does not matter");
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", { left: 3 }, { left: 1 }), false, "a stale expectation changes nothing");
    assert.deepEqual(await store.entries.get("m_1", "uses"), { left: 2 });
    await store.entries.put("m_1", "uses", { left: 2 }); // rewritten with the same value: the swap still goes by value
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", { left: 2 }, { left: 1 }), true);
    assert.equal(await store.entries.compareAndSwap("m_2", "uses", { left: 1 }, undefined), false, "another mount's key is another key");

    // Ten swaps from the same value at once (on PostgreSQL, over several connections): one wins.
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.entries.compareAndSwap("m_1", "uses", { left: 1 }, { left: 0, by: i })));
    assert.equal(results.filter(Boolean).length, 1, String(results));
    const after = await store.entries.get("m_1", "uses");
    assert.deepEqual(after, { left: 0, by: results.indexOf(true) });
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", after, undefined), true, "deletes");
    assert.equal(await store.entries.get("m_1", "uses"), undefined);
    assert.equal(await store.entries.compareAndSwap("m_1", "uses", undefined, undefined), true, "absent stays absent");
  },

  async "insertFromIntent records the lease with its created event and ends its intent; false, recording nothing, once a rollback claimed the intent"({
    store,
  }) {
    const data = { user: "half-made" };
    await store.intents.insert({ id: "i1", leaseId: "aws/creds/r/1", mountAccessor: "aws_1", secretType: "access_keys", data, createdAt: T });
    await store.intents.insert({ id: "i2", leaseId: "aws/creds/r/2", mountAccessor: "aws_1", secretType: "access_keys", data, createdAt: T });
    assert.equal(await store.intents.existsForLease("aws/creds/r/1"), true);

    assert.equal(await store.leases.insertFromIntent(newLease("aws/creds/r/1", { tokenAccessor: "tok" }), "i1"), true);
    assert.equal(await store.intents.existsForLease("aws/creds/r/1"), false);
    const recorded = await get(store, "aws/creds/r/1");
    assert.deepEqual(recorded, {
      id: "aws/creds/r/1",
      mountAccessor: "aws_1",
      secretType: "access_keys",
      internal: { username: "user-aws/creds/r/1" },
      issueTime: T,
      expireTime: T + 10 * MINUTE,
      maxExpireTime: T + 60 * MINUTE,
      ttlSeconds: 600,
      lastRenewalTime: null,
      renewable: true,
      state: "active",
      attempts: 0,
      nextAttemptTime: null,
      lastError: null,
      tokenAccessor: "tok",
      revokeTime: null,
    });

    assert.equal(await store.intents.claim("i2", T, T - MINUTE), true);
    assert.equal(await store.leases.insertFromIntent(newLease("aws/creds/r/2"), "i2"), false);
    assert.equal(await store.leases.get("aws/creds/r/2"), undefined);
    assert.equal(await store.intents.existsForLease("aws/creds/r/2"), true, "the rollback still owns the intent");
    // An intent already gone (rolled back and deleted) is refused the same way.
    assert.equal(await store.leases.insertFromIntent(newLease("aws/creds/r/3"), "never-was"), false);
    assert.deepEqual(await eventsOf(store), [["created", "aws/creds/r/1"]]);
  },

  async "a write that fails is undone entirely: the intent it would have ended stays, no event is written"({ store }) {
    await insert(store, newLease("aws/creds/r/1"));
    await store.intents.insert({ id: "i1", leaseId: "aws/creds/r/1", mountAccessor: "aws_1", secretType: "access_keys", data: {}, createdAt: T });
    // The same lease id again: the insert fails after the intent was deleted in the same transaction.
    await assert.rejects(store.leases.insertFromIntent(newLease("aws/creds/r/1", { expireTime: T + 99 * MINUTE }), "i1"));
    assert.equal(await store.intents.existsForLease("aws/creds/r/1"), true);
    assert.equal((await get(store, "aws/creds/r/1")).expireTime, T + 10 * MINUTE);
    assert.deepEqual(await eventsOf(store), [["created", "aws/creds/r/1"]]);
    // The store goes on working.
    await insert(store, newLease("aws/creds/r/2"));
    assert.equal((await store.leases.countByState()).active, 2);
    // Writes arriving together (one group commit, one multi-row statement), one of them failing: only that one fails.
    const together = await Promise.allSettled(["aws/creds/r/3", "aws/creds/r/1", "aws/creds/r/4"].map((id) => store.leases.insertFromIntent(newLease(id), null)));
    assert.deepEqual(together.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.deepEqual((await store.leases.page("aws/creds/r/", null, 10)).leases.map((l) => l.id), ["aws/creds/r/1", "aws/creds/r/2", "aws/creds/r/3", "aws/creds/r/4"]);
    assert.deepEqual((await eventsOf(store)).map(([, id]) => id).sort(), ["aws/creds/r/1", "aws/creds/r/2", "aws/creds/r/3", "aws/creds/r/4"], "one created event each");
  },

  async "idsWithPrefix: ids under the prefix in the given states, in id order, at most limit"({ store }) {
    await insert(store, newLease("aws/creds/b"), newLease("aws/creds/a"), newLease("aws/creds/c"), newLease("aws/credsX"), newLease("kv/x"));
    await store.leases.forceRevoke("aws/creds/b", T, "gone");
    assert.deepEqual(await store.leases.idsWithPrefix("aws/creds/", ["active", "revoking", "irrevocable"], 10), ["aws/creds/a", "aws/creds/c"]);
    assert.deepEqual(await store.leases.idsWithPrefix("aws/creds/", ["revoked"], 10), ["aws/creds/b"]);
    assert.deepEqual(await store.leases.idsWithPrefix("aws/creds", ["active"], 2), ["aws/creds/a", "aws/creds/c"]);
    assert.deepEqual(await store.leases.idsWithPrefix("aws/creds", ["active"], 3), ["aws/creds/a", "aws/creds/c", "aws/credsX"]);
    assert.deepEqual(await store.leases.idsWithPrefix("aws/", [], 10), []);
  },

  async "page and pageInState: keyset paging after an id, neither skipping nor repeating when leases come and go between pages"({ store }) {
    for (const n of [1, 3, 5, 7, 9]) await insert(store, newLease(`aws/creds/p/${n}`));
    await insert(store, newLease("aws/creds/q/1"), newLease("aws/other"));
    const first = await store.leases.page("aws/creds/p/", null, 2);
    assert.deepEqual(first.leases.map((l) => l.id), ["aws/creds/p/1", "aws/creds/p/3"]);
    assert.equal(first.next, "aws/creds/p/3");
    // Between pages: one added before the cursor (not seen), one after (seen), one ahead revoked (still listed by page()).
    await insert(store, newLease("aws/creds/p/2"), newLease("aws/creds/p/6"));
    await store.leases.forceRevoke("aws/creds/p/5", T, "gone");
    const second = await store.leases.page("aws/creds/p/", first.next, 2);
    assert.deepEqual(second.leases.map((l) => l.id), ["aws/creds/p/5", "aws/creds/p/6"]);
    const third = await store.leases.page("aws/creds/p/", second.next, 2);
    assert.deepEqual(third.leases.map((l) => l.id), ["aws/creds/p/7", "aws/creds/p/9"]);
    assert.equal(third.next, null, "an exactly full last page says it is the last");
    // A cursor before the prefix starts at the prefix.
    assert.deepEqual((await store.leases.page("aws/creds/q/", "aws/creds/p/9", 5)).leases.map((l) => l.id), ["aws/creds/q/1"]);

    const active = await store.leases.pageInState("aws/creds/p/", "active", "aws/creds/p/3", 2);
    assert.deepEqual(active.leases.map((l) => l.id), ["aws/creds/p/6", "aws/creds/p/7"]);
    assert.equal(active.next, "aws/creds/p/7");
    assert.deepEqual((await store.leases.pageInState("aws/creds/p/", "revoked", null, 5)).leases.map((l) => [l.id, l.state, l.lastError]), [
      ["aws/creds/p/5", "revoked", "gone"],
    ]);
  },

  async "due, nextDueTime, countDue and dueRevocations follow each lease's due time"({ store }) {
    await insert(store, newLease("a", { expireTime: T + 3 * MINUTE }), newLease("b", { expireTime: T + MINUTE }), newLease("c", { expireTime: T + 2 * MINUTE }));
    assert.equal(await store.leases.nextDueTime(), T + MINUTE);
    assert.deepEqual((await store.leases.due(T, 10)).map((l) => l.id), []);
    assert.deepEqual((await store.leases.due(T + 2 * MINUTE, 10)).map((l) => l.id), ["b", "c"]);
    assert.deepEqual((await store.leases.due(T + 5 * MINUTE, 2)).map((l) => l.id), ["b", "c"]);
    assert.equal(await store.leases.countDue(T + 2 * MINUTE), 2);
    // Revoking leases are due at their next attempt; only they are due revocations.
    assert.equal(await store.leases.enqueueRevocation("a", T + 30_000), true);
    assert.equal(await store.leases.nextDueTime(), T + 30_000);
    assert.deepEqual((await store.leases.dueRevocations(T + 5 * MINUTE, 10)).map((l) => [l.id, l.state]), [["a", "revoking"]]);
    assert.deepEqual((await store.leases.due(T + 5 * MINUTE, 10)).map((l) => l.id), ["a", "b", "c"]);
    // Ended leases are never due.
    await store.leases.markRevoked("b", T, "revoked");
    await store.leases.forceRevoke("c", T, "gone");
    await store.leases.markRevoked("a", T, "revoked");
    assert.equal(await store.leases.nextDueTime(), null);
    assert.equal(await store.leases.countDue(T + 60 * MINUTE), 0);
  },

  async "claimRevocation: a request takes any live lease; dueOnly only one whose time has come; it returns the attempts so far"({ store }) {
    await insert(store, newLease("a", { expireTime: T + MINUTE }), newLease("b", { expireTime: T + MINUTE }), newLease("c"));
    // Not expired yet: the scheduler's claim leaves it alone, a request takes it.
    assert.equal(await store.leases.claimRevocation("a", T, T + 5_000, true), null);
    assert.equal((await get(store, "a")).state, "active");
    assert.equal(await store.leases.claimRevocation("a", T, T + 5_000, false), 0);
    assert.deepEqual(pick(await get(store, "a")), { state: "revoking", nextAttemptTime: T + 5_000, attempts: 0 });
    // Expired: the scheduler takes it; a second claim before the retry time does not.
    assert.equal(await store.leases.claimRevocation("b", T + MINUTE, T + MINUTE + 5_000, true), 0);
    assert.equal(await store.leases.claimRevocation("b", T + MINUTE + 1, T + 2 * MINUTE, true), null);
    // A failure counts; at the retry time the scheduler takes it again and learns of the failure.
    await store.leases.recordRevokeFailure("b", "throttled", T + 2 * MINUTE, false);
    assert.equal(await store.leases.claimRevocation("b", T + 2 * MINUTE, T + 3 * MINUTE, true), 1);
    // A lease renewed since it was read (no longer due) is left alone.
    await store.leases.renew("c", T + 20 * MINUTE, T);
    assert.equal(await store.leases.claimRevocation("c", T + 11 * MINUTE, T + 12 * MINUTE, true), null);
    // Irrevocable: only a request takes it; revoked or absent: nobody.
    await store.leases.recordRevokeFailure("c", "denied", null, true);
    assert.equal(await store.leases.claimRevocation("c", T + 60 * MINUTE, T + 61 * MINUTE, true), null);
    assert.equal(await store.leases.claimRevocation("c", T, T + 5_000, false), 1);
    await store.leases.markRevoked("c", T, "revoked");
    assert.equal(await store.leases.claimRevocation("c", T, T + 5_000, false), null);
    assert.equal(await store.leases.claimRevocation("absent", T, T + 5_000, false), null);
  },

  async "recordRevokeFailure counts attempts and schedules the retry; irrevocable ends retries with an event"({ store }) {
    await insert(store, newLease("a"));
    await store.leases.claimRevocation("a", T, T + 5_000, false);
    await store.leases.recordRevokeFailure("a", "AccessDenied", T + 10_000, false);
    assert.deepEqual(pick(await get(store, "a")), { state: "revoking", nextAttemptTime: T + 10_000, attempts: 1 });
    assert.equal((await get(store, "a")).lastError, "AccessDenied");
    assert.equal(await store.leases.nextDueTime(), T + 10_000);
    await store.leases.recordRevokeFailure("a", "AccessDenied again", null, true);
    assert.deepEqual(pick(await get(store, "a")), { state: "irrevocable", nextAttemptTime: null, attempts: 2 });
    assert.equal(await store.leases.nextDueTime(), null);
    const events = await store.events.after(0, "", 10);
    assert.deepEqual(events.map((e) => [e.type, e.detail]), [["created", null], ["irrevocable", "AccessDenied again"]]);
  },

  async "markRevoked once: the event is the reason given, a second call changes nothing"({ store }) {
    await insert(store, newLease("a"), newLease("b"));
    await store.leases.markRevoked("a", T + 1, "expired");
    await store.leases.markRevoked("a", T + 2, "revoked");
    await store.leases.markRevoked("b", T + 3, "revoked");
    await store.leases.markRevoked("absent", T + 3, "revoked");
    const a = await get(store, "a");
    assert.deepEqual([a.state, a.revokeTime, a.nextAttemptTime], ["revoked", T + 1, null]);
    assert.deepEqual((await store.events.after(0, "", 10)).map((e) => [e.type, e.leaseId, e.time]), [
      ["created", "a", T],
      ["created", "b", T],
      ["expired", "a", T + 1],
      ["revoked", "b", T + 3],
    ]);
    assert.deepEqual(await store.leases.countByState(), { active: 0, revoking: 0, revoked: 2, irrevocable: 0 });
  },

  async "renew extends an active lease only, with a renewed event carrying the new expiry"({ store }) {
    await insert(store, newLease("a"), newLease("b"));
    await store.leases.renew("a", T + 30 * MINUTE, T + MINUTE);
    const a = await get(store, "a");
    assert.deepEqual([a.expireTime, a.lastRenewalTime, a.ttlSeconds], [T + 30 * MINUTE, T + MINUTE, 600]);
    assert.equal(await store.leases.nextDueTime(), T + 10 * MINUTE, "b is due first now");
    await store.leases.markRevoked("b", T, "revoked");
    await store.leases.renew("b", T + 30 * MINUTE, T + MINUTE);
    assert.equal((await get(store, "b")).expireTime, T + 10 * MINUTE);
    const renewed = (await store.events.after(0, "", 10)).filter((e) => e.type === "renewed");
    assert.deepEqual(renewed.map((e) => [e.leaseId, e.time, e.expireTime]), [["a", T + MINUTE, T + 30 * MINUTE]]);
  },

  async "enqueueRevocation and forceRevoke: live leases only; force keeps its note and writes force_revoked"({ store }) {
    await insert(store, newLease("a"), newLease("b"));
    assert.equal(await store.leases.enqueueRevocation("a", T + 5), true);
    assert.deepEqual(pick(await get(store, "a")), { state: "revoking", nextAttemptTime: T + 5, attempts: 0 });
    assert.equal(await store.leases.forceRevoke("b", T + 6, "dropped by hand"), true);
    assert.equal(await store.leases.forceRevoke("b", T + 7, "again"), false);
    assert.equal(await store.leases.enqueueRevocation("b", T + 8), false);
    assert.equal(await store.leases.enqueueRevocation("absent", T + 8), false);
    assert.equal(await store.leases.forceRevoke("absent", T + 8, "x"), false);
    const b = await get(store, "b");
    assert.deepEqual([b.state, b.revokeTime, b.lastError], ["revoked", T + 6, "dropped by hand"]);
    assert.deepEqual(await eventsOf(store), [["created", "a"], ["created", "b"], ["force_revoked", "b"]]);
    assert.deepEqual(await store.leases.states(["b", "absent", "a"]).then((rows) => rows.sort((x, y) => x.id.localeCompare(y.id))), [
      { id: "a", state: "revoking", attempts: 0 },
      { id: "b", state: "revoked", attempts: 0 },
    ]);
    assert.deepEqual(await store.leases.states([]), []);
  },

  async "tidyStep: due times repaired, revoking leases without a next attempt rescheduled, live leases of gone mounts orphaned, a chunk at a time"({ store }) {
    await insert(
      store,
      newLease("a/drift", { expireTime: T + 10 * MINUTE }),
      newLease("b/stuck"),
      newLease("c/fine", { expireTime: T + 11 * MINUTE }),
      newLease("d/orphan", { mountAccessor: "gone_1" }),
      newLease("e/ended", { mountAccessor: "gone_1" }),
    );
    // Drift a crash could leave: an active lease due at a retry time, a revoking one with no next attempt.
    await store.leases.recordRevokeFailure("a/drift", "x", T + MINUTE, false);
    await store.leases.claimRevocation("b/stuck", T, T + 5_000, false);
    await store.leases.recordRevokeFailure("b/stuck", "x", null, false);
    await store.leases.markRevoked("e/ended", T, "revoked");
    const live = new Set(["aws_1"]);
    const first = await store.leases.tidyStep(null, 3, T + 7, live, "mount gone");
    assert.deepEqual(first, { repaired: 1, rescheduled: 1, orphaned: 0, next: "c/fine" });
    const second = await store.leases.tidyStep(first.next, 3, T + 7, live, "mount gone");
    assert.deepEqual(second, { repaired: 0, rescheduled: 0, orphaned: 1, next: null });
    assert.equal((await get(store, "a/drift")).state, "active");
    assert.deepEqual((await store.leases.due(T + 11 * MINUTE, 10)).map((l) => l.id), ["b/stuck", "a/drift", "c/fine"]);
    assert.deepEqual(pick(await get(store, "b/stuck")), { state: "revoking", nextAttemptTime: T + 7, attempts: 1 });
    const orphan = await get(store, "d/orphan");
    assert.deepEqual([orphan.state, orphan.lastError], ["irrevocable", "mount gone"]);
    assert.equal((await get(store, "e/ended")).state, "revoked");
    assert.deepEqual((await eventsOf(store)).slice(-1), [["irrevocable", "d/orphan"]]);
    // Nothing left to repair.
    assert.deepEqual(await store.leases.tidyStep(null, 10, T + 8, live, "mount gone"), { repaired: 0, rescheduled: 0, orphaned: 0, next: null });
  },

  async "purgeRevoked forgets revoked leases revoked before a time, at most limit"({ store }) {
    await insert(store, newLease("a"), newLease("b"), newLease("c"), newLease("d"));
    await store.leases.markRevoked("a", T + 1, "revoked");
    await store.leases.markRevoked("b", T + 2, "revoked");
    await store.leases.forceRevoke("c", T + 3, "gone");
    assert.equal(await store.leases.purgeRevoked(T + 3, 1), 1);
    assert.equal(await store.leases.purgeRevoked(T + 3, 10), 1);
    assert.equal(await store.leases.purgeRevoked(T + 3, 10), 0);
    assert.deepEqual((await store.leases.page("", null, 10)).leases.map((l) => l.id), ["c", "d"]);
  },

  async "lease events: a reader following the sequence while writes commit concurrently sees every event once, in order"({ store }) {
    const ids = Array.from({ length: 120 }, (_, i) => `aws/creds/e/${String(i).padStart(3, "0")}`);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < ids.length; i += 20) {
        await Promise.all(ids.slice(i, i + 20).flatMap((id) => [store.leases.insertFromIntent(newLease(id), null)]));
        await Promise.all(ids.slice(i, i + 20).map((id) => store.leases.renew(id, T + 20 * MINUTE, T + 1)));
      }
    })().finally(() => (writing = false));
    const seen: Array<{ sequence: number; type: string; leaseId: string }> = [];
    let cursor = 0;
    for (;;) {
      const stillWriting = writing;
      await settle(); // let the writes be committed meanwhile
      const batch = await store.events.after(cursor, "aws/creds/e/", 50);
      seen.push(...batch);
      cursor = batch[batch.length - 1]?.sequence ?? cursor;
      if (!stillWriting && batch.length < 50) break;
    }
    await writer;
    assert.equal(seen.length, 2 * ids.length, "every event, none twice");
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i]?.sequence ?? 0) > (seen[i - 1]?.sequence ?? 0), "in sequence order");
    for (const id of ids) assert.deepEqual(seen.filter((e) => e.leaseId === id).map((e) => e.type), ["created", "renewed"]);
    assert.equal(await store.events.latestSequence(), seen[seen.length - 1]?.sequence);
    assert.deepEqual(await store.events.after(0, "kv/", 10), []);
  },

  async "lease events: prune forgets events older than a time; sequence numbers are never reused"({ store }) {
    assert.equal(await store.events.latestSequence(), 0);
    await insert(store, newLease("a", { issueTime: T }), newLease("b", { issueTime: T + 10 }));
    const before = await store.events.latestSequence();
    assert.equal(await store.events.prune(T + 10), 1);
    assert.deepEqual(await eventsOf(store), [["created", "b"]]);
    assert.equal(await store.events.prune(T + 1_000), 1);
    assert.equal(await store.events.latestSequence(), 0);
    await insert(store, newLease("c"));
    const [c] = await store.events.after(0, "", 10);
    assert.ok(c && c.sequence > before, "a sequence number is never handed out twice");
  },

  async "intents: a claim is exclusive until it goes stale; release gives it back; listed oldest first"({ store }) {
    for (const [id, at] of [["i2", T + 2], ["i1", T + 1], ["i3", T + 3]] as const) {
      await store.intents.insert({ id, leaseId: `lease-${id}`, mountAccessor: "aws_1", secretType: "access_keys", data: { user: id }, createdAt: at });
    }
    assert.deepEqual((await store.intents.olderThan(T + 2, 10)).map((i) => [i.id, i.data.user, i.createdAt]), [
      ["i1", "i1", T + 1],
      ["i2", "i2", T + 2],
    ]);
    assert.deepEqual((await store.intents.olderThan(T + 5, 1)).map((i) => i.id), ["i1"]);
    assert.equal(await store.intents.claim("i1", T + 10, T), true);
    assert.equal(await store.intents.claim("i1", T + 11, T), false, "claimed, not stale");
    assert.equal(await store.intents.claim("i1", T + 20, T + 10), true, "stale claims can be taken over");
    await store.intents.release("i1");
    assert.equal(await store.intents.claim("i1", T + 21, T), true);
    await store.intents.delete("i1");
    assert.equal(await store.intents.claim("i1", T + 22, T + 22), false);
    assert.equal(await store.intents.existsForLease("lease-i1"), false);
    assert.equal(await store.intents.existsForLease("lease-i2"), true);
  },

  async "tokens: by hash and accessor; consumeUse counts down to 0, then says -1"({ store }) {
    const hash = Buffer.from("a".repeat(64), "hex");
    await store.tokens.insert(hash, token("acc1", { numUses: 2, usesLeft: 2, meta: { team: "x" }, policies: ["a", "b"], expireTime: T + 5, boundCidrs: ["10.0.0.0/8"] }));
    await assert.rejects(store.tokens.insert(hash, token("acc2")), "a hash is unique");
    await store.tokens.insert(Buffer.from("b".repeat(64), "hex"), token("acc2", { parentAccessor: "acc1" }));
    assert.deepEqual(await store.tokens.getByHash(hash), token("acc1", { numUses: 2, usesLeft: 2, meta: { team: "x" }, policies: ["a", "b"], expireTime: T + 5, boundCidrs: ["10.0.0.0/8"] }));
    assert.equal((await store.tokens.getByAccessor("acc2"))?.parentAccessor, "acc1");
    assert.equal(await store.tokens.getByHash(Buffer.from("c".repeat(64), "hex")), undefined);
    assert.equal(await store.tokens.consumeUse("acc1"), 1);
    assert.equal(await store.tokens.consumeUse("acc1"), 0);
    assert.equal(await store.tokens.consumeUse("acc1"), -1);
    assert.equal(await store.tokens.consumeUse("acc2"), -1, "unlimited tokens have no uses to count");
    assert.equal(await store.tokens.consumeUse("absent"), -1);
    assert.equal(await store.tokens.any(), true);
    await store.tokens.delete("acc2");
    await store.tokens.delete("acc1");
    assert.equal(await store.tokens.any(), false);
  },

  async "token tree: children, orphaning, expiry, dead tokens, and a token's live leases in id order after a cursor"({ store }) {
    await store.tokens.insert(Buffer.from("01", "hex"), token("root"));
    await store.tokens.insert(Buffer.from("02", "hex"), token("kid1", { parentAccessor: "root", expireTime: T + 10 }));
    await store.tokens.insert(Buffer.from("03", "hex"), token("kid2", { parentAccessor: "root", numUses: 1, usesLeft: 1 }));
    assert.deepEqual((await store.tokenTree.children("root")).sort(), ["kid1", "kid2"]);
    assert.deepEqual(await store.tokenTree.dead(T + 10, 10), ["kid1"]);
    await store.tokens.consumeUse("kid2");
    await store.tokenTree.setExpireTime("kid1", T + 100);
    assert.deepEqual(await store.tokenTree.dead(T + 10, 10), ["kid2"]);
    assert.deepEqual((await store.tokenTree.dead(T + 100, 10)).sort(), ["kid1", "kid2"]);
    assert.equal((await store.tokenTree.dead(T + 100, 1)).length, 1);
    assert.equal(await store.tokenTree.orphanChildren("root"), 2);
    assert.deepEqual(await store.tokenTree.children("root"), []);
    assert.equal((await store.tokens.getByAccessor("kid1"))?.parentAccessor, null);

    await insert(store, newLease("l/3", { tokenAccessor: "kid1" }), newLease("l/1", { tokenAccessor: "kid1" }), newLease("l/2", { tokenAccessor: "kid1" }));
    await insert(store, newLease("l/4", { tokenAccessor: "kid2" }));
    await store.leases.markRevoked("l/2", T, "revoked");
    assert.deepEqual(await store.tokenTree.leaseIds("kid1", null, 10), ["l/1", "l/3"]);
    assert.deepEqual(await store.tokenTree.leaseIds("kid1", null, 1), ["l/1"]);
    assert.deepEqual(await store.tokenTree.leaseIds("kid1", "l/1", 10), ["l/3"]);
  },

  async "policies, quotas and audit devices: upserted or inserted, listed by name, deleted saying whether"({ store }) {
    await store.policies.put({ name: "ops", text: "path \"*\" {}", updatedAt: T });
    await store.policies.put({ name: "dev", text: "v1", updatedAt: T });
    await store.policies.put({ name: "dev", text: "v2", updatedAt: T + 1 });
    assert.deepEqual(await store.policies.list(), [
      { name: "dev", text: "v2", updatedAt: T + 1 },
      { name: "ops", text: "path \"*\" {}", updatedAt: T },
    ]);
    assert.deepEqual(await store.policies.get("dev"), { name: "dev", text: "v2", updatedAt: T + 1 });
    assert.equal(await store.policies.get("absent"), undefined);
    assert.equal(await store.policies.delete("ops"), true);
    assert.equal(await store.policies.delete("ops"), false);

    await store.quotas.put({ name: "q2", path: "aws/", rate: 5, intervalSeconds: 1, perToken: true });
    await store.quotas.put({ name: "q1", path: "", rate: 100, intervalSeconds: 60, perToken: false });
    await store.quotas.put({ name: "q2", path: "aws/creds/", rate: 1, intervalSeconds: 10, perToken: true });
    assert.deepEqual(await store.quotas.list(), [
      { name: "q1", path: "", rate: 100, intervalSeconds: 60, perToken: false },
      { name: "q2", path: "aws/creds/", rate: 1, intervalSeconds: 10, perToken: true },
    ]);
    assert.equal(await store.quotas.delete("q1"), true);
    assert.equal(await store.quotas.delete("q1"), false);

    const device = { path: "file/", type: "file", description: "d", options: { file_path: "/var/log/a.log" } };
    await store.auditDevices.insert(device);
    await assert.rejects(store.auditDevices.insert(device), "a path is unique");
    assert.deepEqual(await store.auditDevices.list(), [device]);
    assert.equal(await store.auditDevices.delete("file/"), true);
    assert.equal(await store.auditDevices.delete("file/"), false);
  },

  async "settings: putIfAbsent keeps the first value and returns what is stored"({ store }) {
    assert.equal(await store.settings.get("hmac"), undefined);
    assert.deepEqual(await store.settings.putIfAbsent("hmac", Buffer.from("first")), Buffer.from("first"));
    assert.deepEqual(await store.settings.putIfAbsent("hmac", Buffer.from("second")), Buffer.from("first"));
    assert.deepEqual(await store.settings.get("hmac"), Buffer.from("first"));
  },

  async "sealed values are never stored in clear, and key rotation re-seals every one of them"({ store, keyring, storedBytes }) {
    const marker = (where: string) => `clear-${where}-f4c1b7`;
    await store.entries.put("kv_1", "k", { password: marker("entry") });
    await insert(store, newLease("a", { internal: { secret: marker("lease") } }));
    await store.intents.insert({ id: "i", leaseId: "b", mountAccessor: "aws_1", secretType: "s", data: { secret: marker("intent") }, createdAt: T });
    await store.auditDevices.insert({ path: "file/", type: "file", description: "", options: { hmac_key: marker("audit") } });
    await store.settings.putIfAbsent("hmac", Buffer.from(marker("setting")));
    const bytes = await storedBytes();
    for (const where of ["entry", "lease", "intent", "audit", "setting"]) assert.ok(!bytes.includes(marker(where)), `${where} sealed`);

    // The key check, and the five values above.
    assert.deepEqual((await store.sealed.usage()).byKey, { 1: 6 });
    const next = keyring.rotate();
    let resealed = 0;
    for (let n = await store.sealed.resealBatch(4); n > 0; n = await store.sealed.resealBatch(4)) resealed += n;
    assert.equal(resealed, 6);
    assert.deepEqual((await store.sealed.usage()).byKey, { [next]: 6 });
    assert.deepEqual(await store.entries.get("kv_1", "k"), { password: marker("entry") });
    assert.deepEqual((await get(store, "a")).internal, { secret: marker("lease") });
    assert.deepEqual((await store.intents.olderThan(T, 1))[0]?.data, { secret: marker("intent") });
    assert.equal((await store.auditDevices.list())[0]?.options.hmac_key, marker("audit"));
    assert.equal((await store.settings.get("hmac"))?.toString(), marker("setting"));
  },

  async "revoke-prefix jobs: markBatch walks the prefix a batch at a time from the cursor, marking live leases (or, with force, ending them)"({ store }) {
    await insert(store, ...["p/1", "p/2", "p/3", "p/4", "p/5", "q/1"].map((id) => newLease(id)));
    await store.leases.markRevoked("p/2", T, "revoked");
    await store.leases.recordRevokeFailure("p/3", "x", null, true);
    await store.jobs.create({ id: "j1", prefix: "p/", force: false, enqueue: true, createdAt: T + 1 });
    await store.jobs.create({ id: "j0", prefix: "p/", force: true, enqueue: false, createdAt: T });
    assert.deepEqual((await store.jobs.unfinished()).map((j) => j.id), ["j0", "j1"]);

    const b1 = await store.jobs.markBatch("j1", T + 5, T + 9, 3, "forced");
    assert.deepEqual(b1, {
      leases: [
        { id: "p/1", state: "active", attempts: 0 },
        { id: "p/3", state: "irrevocable", attempts: 1 },
      ],
      done: false,
    });
    assert.deepEqual(pick(await get(store, "p/1")), { state: "revoking", nextAttemptTime: T + 9, attempts: 0 });
    assert.deepEqual(pick(await get(store, "p/3")), { state: "revoking", nextAttemptTime: T + 9, attempts: 1 });
    assert.equal((await store.jobs.get("j1"))?.cursor, "p/3");
    const b2 = await store.jobs.markBatch("j1", T + 5, T + 9, 3, "forced");
    assert.deepEqual(b2.leases.map((l) => l.id), ["p/4", "p/5"]);
    assert.equal(b2.done, true);
    await store.jobs.addOutcomes("j1", 3, 1);
    await store.jobs.addOutcomes("j1", 1, 0);
    await store.jobs.finish("j1", T + 20);
    await store.jobs.finish("j1", T + 30);
    assert.deepEqual(await store.jobs.get("j1"), {
      id: "j1",
      prefix: "p/",
      force: false,
      enqueue: true,
      cursor: "p/5",
      createdAt: T + 1,
      doneAt: T + 20,
      matched: 4,
      revoked: 4,
      failed: 1,
    });
    assert.deepEqual(await store.jobs.markBatch("j1", T + 5, T + 9, 3, "forced"), { leases: [], done: true }, "a finished job marks nothing");
    assert.deepEqual(await store.jobs.markBatch("absent", T + 5, T + 9, 3, "forced"), { leases: [], done: true });

    // With force: ended at once, with the note and an event each.
    const forced = await store.jobs.markBatch("j0", T + 6, T + 6, 10, "forced");
    assert.deepEqual(forced.leases.map((l) => l.id), ["p/1", "p/3", "p/4", "p/5"]);
    const p4 = await get(store, "p/4");
    assert.deepEqual([p4.state, p4.lastError, p4.revokeTime], ["revoked", "forced", T + 6]);
    assert.deepEqual((await eventsOf(store)).filter(([type]) => type === "force_revoked").map(([, id]) => id), ["p/1", "p/3", "p/4", "p/5"]);
    assert.equal((await get(store, "q/1")).state, "active", "outside the prefix");
    await store.jobs.finish("j0", T + 10);
    assert.deepEqual(await store.jobs.unfinished(), []);
    assert.equal(await store.jobs.purgeFinished(T + 15), 1);
    assert.equal(await store.jobs.get("j0"), undefined);
    assert.ok(await store.jobs.get("j1"));
  },

  async "lease change hooks: every write to leases or lease events is heard once committed, reads are not, by any listener until it unsubscribes"({
    store,
  }) {
    let heard = 0;
    const unsubscribe = store.onLeaseChange(() => heard++);
    let heardToo = 0;
    store.onLeaseChange(() => heardToo++);
    await insert(store, newLease("a"), newLease("b"), newLease("c"), newLease("p/1"));
    await store.jobs.create({ id: "j", prefix: "p/", force: false, enqueue: true, createdAt: T });
    await settle();
    /** Writes, by the method that makes them: each must be heard. */
    const writes: Record<string, () => Promise<unknown>> = {
      "leases.insertFromIntent": () => store.leases.insertFromIntent(newLease("d"), null),
      "leases.renew": () => store.leases.renew("a", T + 20 * MINUTE, T),
      "leases.claimRevocation": () => store.leases.claimRevocation("a", T, T + 5, false),
      "leases.recordRevokeFailure": () => store.leases.recordRevokeFailure("a", "x", null, false),
      "leases.enqueueRevocation": () => store.leases.enqueueRevocation("b", T),
      "leases.markRevoked": () => store.leases.markRevoked("b", T, "revoked"),
      "leases.forceRevoke": () => store.leases.forceRevoke("c", T, "gone"),
      "leases.tidyStep": () => store.leases.tidyStep(null, 10, T, new Set(["aws_1"]), "gone"),
      "leases.purgeRevoked": () => store.leases.purgeRevoked(T + 1, 10),
      "events.prune": () => store.events.prune(T + 1),
      "jobs.markBatch": () => store.jobs.markBatch("j", T, T, 10, "forced"),
    };
    /** Methods that write nothing of leases: never heard. */
    const others: Record<string, () => Promise<unknown>> = {
      "leases.get": () => store.leases.get("a"),
      "leases.idsWithPrefix": () => store.leases.idsWithPrefix("", ["active"], 10),
      "leases.due": () => store.leases.due(T, 10),
      "leases.nextDueTime": () => store.leases.nextDueTime(),
      "leases.page": () => store.leases.page("", null, 10),
      "leases.countByState": () => store.leases.countByState(),
      "leases.countDue": () => store.leases.countDue(T),
      "leases.dueRevocations": () => store.leases.dueRevocations(T, 10),
      "leases.pageInState": () => store.leases.pageInState("", "active", null, 10),
      "leases.states": () => store.leases.states(["a"]),
      "events.after": () => store.events.after(0, "", 10),
      "events.latestSequence": () => store.events.latestSequence(),
      "jobs.create": () => store.jobs.create({ id: "j2", prefix: "x/", force: false, enqueue: false, createdAt: T }),
      "jobs.get": () => store.jobs.get("j"),
      "jobs.unfinished": () => store.jobs.unfinished(),
      "jobs.addOutcomes": () => store.jobs.addOutcomes("j", 1, 0),
      "jobs.finish": () => store.jobs.finish("j2", T),
      "jobs.purgeFinished": () => store.jobs.purgeFinished(T),
    };
    // Every method of the lease areas is in one list or the other: a method added later must say which.
    // (Named from the in-memory store, whose areas have exactly their interfaces' methods.)
    const reference = openMemoryStore();
    for (const area of ["leases", "events", "jobs"] as const) {
      for (const name of methodsOf(reference[area])) {
        assert.ok(`${area}.${name}` in writes || `${area}.${name}` in others, `${area}.${name} is neither a known write nor a known read in this test`);
      }
    }
    for (const [name, write] of Object.entries(writes)) {
      const before = heard;
      await write();
      await settle();
      assert.ok(heard > before, `${name} is heard`);
    }
    const before = heard;
    for (const other of Object.values(others)) await other();
    await settle();
    assert.equal(heard, before, "reads are not heard");
    assert.ok(heardToo >= Object.keys(writes).length);
    unsubscribe();
    await insert(store, newLease("e"));
    await settle();
    assert.equal(heard, before, "an unsubscribed listener hears nothing");
  },

  async "cluster (stores replicas share): heartbeats, live replicas, and a configuration version bumped with each change"({ store }) {
    const cluster = store.cluster;
    if (!cluster) return; // A store one process owns has none.
    await cluster.heartbeat("r1", T);
    await cluster.heartbeat("r2", T + 5);
    await cluster.heartbeat("r2", T + 1); // an older heartbeat never moves it back
    assert.deepEqual(await cluster.otherLiveReplicas("r1", T + 5), ["r2"]);
    assert.deepEqual(await cluster.otherLiveReplicas("r1", T + 6), []);
    await cluster.leave("r2");
    assert.deepEqual(await cluster.otherLiveReplicas("r1", 0), []);
    const version = await cluster.configVersion();
    await store.policies.put({ name: "p", text: "", updatedAt: T });
    await store.quotas.put({ name: "q", path: "", rate: 1, intervalSeconds: 1, perToken: false });
    assert.equal(await cluster.configVersion(), version + 2);
    assert.equal(await store.policies.delete("absent"), false);
    assert.equal(await cluster.configVersion(), version + 2, "nothing changed, nothing bumped");
  },
};

function pick(l: LeaseRecord): { state: LeaseState; nextAttemptTime: number | null; attempts: number } {
  return { state: l.state, nextAttemptTime: l.nextAttemptTime, attempts: l.attempts };
}

/** Lets listeners told "after commit" run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Method names of a store area (on its class and the classes above it; fields holding functions are not methods). */
function methodsOf(target: object): string[] {
  const names = new Set<string>();
  for (let o = Object.getPrototypeOf(target) as object | null; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === "constructor") continue;
      const descriptor = Object.getOwnPropertyDescriptor(o, name);
      if (descriptor && typeof descriptor.value === "function") names.add(name);
    }
  }
  return [...names];
}

const KINDS: Kind[] = onPostgres() ? ["postgres"] : ["sqlite", "memory"];

for (const kind of KINDS) {
  describe(`${kind} store`, () => {
    for (const [name, run] of Object.entries(CASES)) {
      test(name, async (t) => {
        const subject = await open(kind);
        t.after(() => subject.store.close());
        await run(subject);
      });
    }
  });
}
