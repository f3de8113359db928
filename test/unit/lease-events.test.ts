// The lease event feed on a real store (SQLite, or PostgreSQL on that pass):
// watchers wake on an in-process commit, whoever made it (the lease manager,
// a revoke-prefix job, tidy), pick up writes of other processes by polling,
// and refuse a resume point whose events were pruned.
import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { Code, LessorError } from "../../src/errors.js";
import { LeaseEventFeed } from "../../src/leases/events.js";
import { LeaseManager } from "../../src/leases/manager.js";
import { RevocationJobs } from "../../src/leases/prefix-jobs.js";
import { LeaseTidy } from "../../src/leases/tidy.js";
import { mountTableFor } from "../helpers/mounts.js";
import { Keyring } from "../../src/store/encryption.js";
import { openStore as openAnyStore } from "../../src/store/open.js";
import type { LeaseEventRecord, NewLease, Store } from "../../src/store/types.js";
import { tempDir } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

function lease(id: string, now: number): NewLease {
  return {
    id,
    mountAccessor: "aws_1",
    secretType: "access_keys",
    internal: { user: id },
    issueTime: now,
    expireTime: now + 60_000,
    maxExpireTime: now + 120_000,
    ttlSeconds: 60,
    renewable: true,
    tokenAccessor: null,
  };
}

function watchInto(feed: LeaseEventFeed, prefix: string, after: number | "oldest"): { events: LeaseEventRecord[]; abort: AbortController; done: Promise<void>; started: Promise<number> } {
  const events: LeaseEventRecord[] = [];
  const abort = new AbortController();
  let start!: (cursor: number) => void;
  const started = new Promise<number>((resolve) => (start = resolve));
  const done = feed.watch(prefix, after, abort.signal, async (e) => void events.push(e), start);
  return { events, abort, done, started };
}

/** A fresh store of this pass's kind (SQLite, or a new PostgreSQL database), and a way to open it again (another process would). */
async function openStores(): Promise<{ store: Store; openAgain: () => Promise<Store> }> {
  const dataDir = tempDir("events");
  const keyring = Keyring.generate();
  const openAgain = async () => openAnyStore({ dataDir, ...(await storeOptions(dataDir)), keyring });
  return { store: await openAgain(), openAgain };
}

async function openStore(): Promise<Store> {
  return (await openStores()).store;
}

/** A feed whose poll is so slow that only the store's change hooks can deliver within a test's patience. */
function hooksOnlyFeed(t: { after: (fn: () => Promise<void>) => void }, store: Store): LeaseEventFeed {
  const feed = new LeaseEventFeed(store, { pollIntervalMs: 600_000 });
  t.after(async () => {
    feed.close();
    await store.close();
  });
  return feed;
}

test("a lease commit wakes watchers without waiting for the poll", async (t) => {
  const store = await openStore();
  const feed = hooksOnlyFeed(t, store);
  const w = watchInto(feed, "aws/", 0);
  assert.equal(await w.started, 0);
  const now = Date.now();
  await store.leases.insertFromIntent(lease("aws/creds/a/1", now), null);
  await store.leases.renew("aws/creds/a/1", now + 90_000, now);
  await store.leases.insertFromIntent(lease("other/creds/x/1", now), null);
  await waitFor("two events", () => w.events.length === 2, 5_000);
  assert.deepEqual(w.events.map((e) => [e.type, e.leaseId]), [["created", "aws/creds/a/1"], ["renewed", "aws/creds/a/1"]]);
  w.abort.abort();
  await w.done;
});

test("a revoke-prefix job and tidy wake watchers too, not only the lease manager", async (t) => {
  const store = await openStore();
  const feed = hooksOnlyFeed(t, store);
  const logger = pino({ level: "silent" });
  // No mount in the store: tidy finds the leases' mount gone.
  const leases = new LeaseManager(store, mountTableFor(store, [], logger), logger);
  const now = Date.now();
  for (const id of ["aws/creds/a/1", "aws/creds/a/2", "aws/creds/b/1"]) await store.leases.insertFromIntent(lease(id, now), null);
  const w = watchInto(feed, "aws/", 0);
  await w.started;

  // With force, the job's own batches end the leases (one event each).
  const progress = await new RevocationJobs(store, leases, logger, { batchSize: 1 }).run("aws/creds/a/", true, false, async () => undefined);
  assert.deepEqual({ matched: progress.matched, revoked: progress.revoked, done: progress.done }, { matched: 2, revoked: 2, done: true });
  await waitFor("the job's events", () => w.events.length === 2, 5_000);

  // Tidy marks the lease whose mount is gone irrevocable (an event).
  assert.equal((await new LeaseTidy(store, leases).run()).orphanedLeases, 1);
  await waitFor("tidy's event", () => w.events.length === 3, 5_000);
  assert.deepEqual(
    w.events.map((e) => [e.type, e.leaseId]),
    [
      ["force_revoked", "aws/creds/a/1"],
      ["force_revoked", "aws/creds/a/2"],
      ["irrevocable", "aws/creds/b/1"],
    ],
  );
  w.abort.abort();
  await w.done;
});

test("writes of another process arrive by polling", async (t) => {
  const { store, openAgain } = await openStores();
  const other = await openAgain();
  const feed = new LeaseEventFeed(store, { pollIntervalMs: 20 });
  t.after(async () => {
    feed.close();
    await store.close();
    await other.close();
  });
  const w = watchInto(feed, "", 0);
  await w.started;
  await other.leases.insertFromIntent(lease("aws/creds/a/2", Date.now()), null);
  await waitFor("the polled event", () => w.events.length === 1, 5_000);
  w.abort.abort();
  await w.done;

  // From the oldest: every event kept, including those before the watch.
  const all = watchInto(feed, "", "oldest");
  await waitFor("the replay", () => all.events.length === 1, 5_000);
  all.abort.abort();
  await all.done;
});

test("resuming after pruned events is refused with OUT_OF_RANGE, not silently skipped", async (t) => {
  const store = await openStore();
  const feed = new LeaseEventFeed(store);
  t.after(async () => {
    feed.close();
    await store.close();
  });
  const old = Date.now() - 10_000;
  await store.leases.insertFromIntent(lease("aws/creds/a/1", old), null);
  await store.leases.insertFromIntent(lease("aws/creds/a/2", old), null);
  await store.leases.insertFromIntent(lease("aws/creds/a/3", Date.now()), null);
  assert.equal(await store.events.prune(Date.now() - 5_000), 2);

  const w = watchInto(feed, "", 1);
  await assert.rejects(w.done, (e: unknown) => e instanceof LessorError && e.code === Code.OUT_OF_RANGE && e.reason === "EVENTS_PRUNED");
  // Right after the last pruned one is still a complete history.
  const ok = watchInto(feed, "", 2);
  await waitFor("the kept event", () => ok.events.length === 1, 5_000);
  assert.equal(ok.events[0]?.sequence, 3);
  ok.abort.abort();
  await ok.done;
});

test("closing the feed ends watches with UNAVAILABLE naming where to resume", async () => {
  const store = await openStore();
  const feed = new LeaseEventFeed(store);
  await store.leases.insertFromIntent(lease("aws/creds/a/1", Date.now()), null);
  const w = watchInto(feed, "", "oldest");
  await waitFor("the event", () => w.events.length === 1, 5_000);
  feed.close();
  await assert.rejects(w.done, (e: unknown) => e instanceof LessorError && e.code === Code.UNAVAILABLE && e.metadata.after_sequence === "1");
  await store.close();
});

test("cancelling one watch of many wakes only that watch: no other watcher reads the store again", async (t) => {
  const store = await openStore();
  const feed = hooksOnlyFeed(t, store);
  const watches = Array.from({ length: 100 }, () => watchInto(feed, "aws/", 0));
  await Promise.all(watches.map((w) => w.started));
  // Every watcher has read once and sleeps; count the reads from here on.
  await new Promise((resolve) => setTimeout(resolve, 50));
  let reads = 0;
  const after = store.events.after.bind(store.events);
  store.events.after = (...args) => {
    reads++;
    return after(...args);
  };
  for (const w of watches.slice(0, 50)) {
    w.abort.abort();
    await w.done;
  }
  assert.equal(reads, 0, "cancelling 50 watches made the other watchers read nothing");
  for (const w of watches.slice(50)) w.abort.abort();
  await Promise.all(watches.map((w) => w.done));
});
