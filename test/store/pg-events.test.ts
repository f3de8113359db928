// Lease events on PostgreSQL, numbered after commit (src/store/pg-sequencer.ts):
// several stores on one database, as replicas are, and raw connections
// standing in for a replica caught mid-transaction or dead after its commit.
//
// - A transaction with queued events that commits late holds nobody up, and
//   its events are delivered after the ones numbered meanwhile, once.
// - Changes to one lease made through different replicas are delivered in
//   the order they were made, every event once, in increasing sequence.
// - Events committed by a replica that dies before they are numbered are
//   numbered by the sequencer; when the sequencer's session ends, another
//   replica takes the role and numbers what comes next.
// - A database written before this numbering (schema 3) keeps its events'
//   numbers; new events are numbered after them.
//
// PostgreSQL only (the SQLite and in-memory stores number events in process,
// covered by the conformance suite).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { Keyring } from "../../src/store/encryption.js";
import { openStore } from "../../src/store/open.js";
import { EVENT_LOCK, SEQUENCER_LOCK } from "../../src/store/pg-db.js";
import { PG_MIGRATIONS } from "../../src/store/pg-migrations.js";
import type { LeaseEventRecord, Store } from "../../src/store/types.js";
import { databaseName } from "../helpers/postgres.js";
import { tempDir } from "../helpers/processes.js";
import { newLease, T } from "../helpers/lease-fixture.js";
import { onPostgres, testCluster } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const PG_ONLY = onPostgres() ? false : "PostgreSQL only: numbering after commit is the pg store's (runs in the suite's PostgreSQL pass)";


interface Db {
  url: string;
  keyring: Keyring;
  /** Opens a store on the database, closed when the test ends (a replica). */
  open(): Promise<Store>;
  /** A raw connection, ended when the test ends. */
  raw(): Promise<pg.Client>;
}

async function database(t: { after: (fn: () => Promise<void>) => void }): Promise<Db> {
  const url = await testCluster().createDatabase(databaseName(`events_${randomBytes(4).toString("hex")}`));
  const keyring = Keyring.generate();
  const closers: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const close of closers.reverse()) await close();
  });
  return {
    url,
    keyring,
    async open() {
      const store = await openStore({ dataDir: tempDir("pg-events"), storageUrl: url, keyring });
      closers.push(() => store.close());
      return store;
    },
    async raw() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      closers.push(() => client.end().catch(() => undefined));
      return client;
    },
  };
}

const QUEUE_EVENT = "INSERT INTO lease_event_queue (type, lease_id, time, expire_time, detail) VALUES ('created', $1, $2, NULL, NULL)";

/** Follows the events from `after`, as a watcher does, until `until` holds for what it has seen. */
async function follow(store: Store, what: string, until: (seen: LeaseEventRecord[]) => boolean, after = 0): Promise<LeaseEventRecord[]> {
  const seen: LeaseEventRecord[] = [];
  let cursor = after;
  await waitFor(what, async () => {
    const batch = await store.events.after(cursor, "", 500);
    seen.push(...batch);
    cursor = batch.at(-1)?.sequence ?? cursor;
    return until(seen);
  });
  return seen;
}

function assertIncreasing(events: LeaseEventRecord[]): void {
  const sequences = events.map((e) => e.sequence);
  assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), "in sequence order");
  assert.equal(new Set(sequences).size, sequences.length, "none twice");
}

test("a transaction whose events commit late holds no other write up, and its events are delivered after those numbered meanwhile, once", { skip: PG_ONLY, timeout: 60_000 }, async (t) => {
  const db = await database(t);
  const store = await db.open();
  const other = await db.raw();
  // Another replica, mid-transaction: its event is queued (drafted first), not committed.
  await other.query("BEGIN");
  await other.query(QUEUE_EVENT, ["aws/creds/r/late", T]);
  // Writes go on meanwhile (under the global lock this waited for the other transaction's commit).
  await store.leases.insertFromIntent(newLease("aws/creds/r/a"), null);
  await store.leases.renew("aws/creds/r/a", T + 1_200_000, T + 1);
  const first = await store.events.after(0, "", 100);
  assert.deepEqual(first.map((e) => [e.type, e.leaseId]), [["created", "aws/creds/r/a"], ["renewed", "aws/creds/r/a"]], "the events committed are readable at once");
  const cursor = first.at(-1)?.sequence ?? 0;
  await other.query("COMMIT");
  const rest = await follow(store, "the late transaction's event", (seen) => seen.length >= 1, cursor);
  assert.deepEqual(rest.map((e) => [e.type, e.leaseId]), [["created", "aws/creds/r/late"]], "a watcher resuming after the last event it saw gets the late one");
  assert.ok((rest[0]?.sequence ?? 0) > cursor, "numbered after the events committed before it");
  assert.deepEqual((await store.events.after(0, "", 100)).map((e) => e.leaseId), ["aws/creds/r/a", "aws/creds/r/a", "aws/creds/r/late"], "every event once");
});

test("changes to one lease made through different replicas are delivered in the order they were made, each once", { skip: PG_ONLY, timeout: 60_000 }, async (t) => {
  const db = await database(t);
  const [a, b, watcher] = [await db.open(), await db.open(), await db.open()];
  const ids = Array.from({ length: 60 }, (_, i) => `aws/creds/x/${String(i).padStart(3, "0")}`);
  // Each lease: created on one replica, renewed on the other, revoked on the first; leases in parallel.
  await Promise.all(
    ids.map(async (id, i) => {
      const [one, two] = i % 2 === 0 ? [a, b] : [b, a];
      await one.leases.insertFromIntent(newLease(id), null);
      await two.leases.renew(id, T + 1_200_000, T + 1);
      await one.leases.markRevoked(id, T + 2, "revoked");
    }),
  );
  // The watcher's replica wrote nothing: it reads what the sequencer numbered.
  const seen = await follow(watcher, "every event numbered", (s) => s.length >= 3 * ids.length);
  assert.equal(seen.length, 3 * ids.length, "every event, none twice");
  assertIncreasing(seen);
  for (const id of ids) {
    assert.deepEqual(seen.filter((e) => e.leaseId === id).map((e) => e.type), ["created", "renewed", "revoked"], `${id}: in the order made`);
  }
});

test("events committed by a replica that dies before they are numbered are numbered; a new sequencer takes over when the old one's session ends", { skip: PG_ONLY, timeout: 60_000 }, async (t) => {
  const db = await database(t);
  const first = await db.open();
  const second = await db.open();
  const admin = await db.raw();
  const sequencer = async (): Promise<number | undefined> =>
    (
      await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::int8 = $1 AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [SEQUENCER_LOCK],
      )
    ).rows[0]?.pid;
  const holder = await waitFor("a replica to be the sequencer", sequencer, 10_000);

  // A replica commits events and dies before any numbering of its own.
  const dying = await db.raw();
  await dying.query("BEGIN");
  for (const id of ["aws/creds/d/1", "aws/creds/d/2"]) await dying.query(QUEUE_EVENT, [id, T]);
  await dying.query("COMMIT");
  await dying.end();
  const before = await follow(second, "the dead replica's events, numbered by the sequencer", (s) => s.length >= 2);
  assert.deepEqual(before.map((e) => e.leaseId), ["aws/creds/d/1", "aws/creds/d/2"]);

  // The sequencer's session ends (its replica died, or PostgreSQL dropped it): another takes the role.
  await admin.query("SELECT pg_terminate_backend($1)", [holder]);
  const after = before.at(-1)?.sequence ?? 0;
  await admin.query(QUEUE_EVENT, ["aws/creds/d/3", T]);
  const later = await follow(first, "an event committed after the sequencer's session ended to be numbered", (s) => s.length >= 1, after);
  assert.deepEqual(later.map((e) => e.leaseId), ["aws/creds/d/3"]);
  const next = await waitFor("a sequencer again", sequencer, 10_000);
  assert.notEqual(next, holder, "a new session holds the role");
  assert.equal((await second.events.after(0, "", 10)).length, 3, "every event once");
});

test("a database written before numbering after commit keeps its events' numbers; new ones follow them", { skip: PG_ONLY, timeout: 60_000 }, async (t) => {
  const db = await database(t);
  const raw = await db.raw();
  // Schema 3, with events inserted as Lessor then did (the lock, then the identity), the newest pruned since.
  await raw.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
  for (const [i, migration] of PG_MIGRATIONS.slice(0, 3).entries()) {
    await raw.query(migration);
    await raw.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", [i + 1]);
  }
  for (const id of ["aws/creds/o/1", "aws/creds/o/2", "aws/creds/o/3"]) {
    await raw.query("BEGIN");
    await raw.query("SELECT pg_advisory_xact_lock($1)", [EVENT_LOCK]);
    await raw.query("INSERT INTO lease_events (type, lease_id, time) VALUES ('created', $1, $2)", [id, T]);
    await raw.query("COMMIT");
  }
  await raw.query("DELETE FROM lease_events WHERE lease_id = 'aws/creds/o/3'");

  const store = await db.open();
  assert.deepEqual((await store.events.after(0, "", 10)).map((e) => [e.sequence, e.leaseId]), [[1, "aws/creds/o/1"], [2, "aws/creds/o/2"]], "old events keep their numbers");
  await store.leases.insertFromIntent(newLease("aws/creds/n/1"), null);
  assert.equal((await store.events.after(2, "", 10)).length, 1);
  // A replica of the old version, still running during the upgrade, writes as it did (numbers
  // drawn at insert, under the same lock the numbering takes: the two never hand out one number twice).
  await raw.query("BEGIN");
  await raw.query("SELECT pg_advisory_xact_lock($1)", [EVENT_LOCK]);
  await raw.query("INSERT INTO lease_events (type, lease_id, time) VALUES ('created', 'aws/creds/o/4', $1)", [T]);
  await raw.query("COMMIT");
  await store.leases.insertFromIntent(newLease("aws/creds/n/2"), null);
  const events = await store.events.after(2, "", 10);
  assert.deepEqual(events.map((e) => e.leaseId), ["aws/creds/n/1", "aws/creds/o/4", "aws/creds/n/2"], "in the order they were made");
  assert.ok((events[0]?.sequence ?? 0) > 3, "no number handed out before (even of a pruned event) is used again");
  assertIncreasing(events);
});
