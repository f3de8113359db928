// The PostgreSQL plumbing under the store: a pool, transactions that queue
// their lease events for numbering, group commit for hot writes, and the
// lease change hooks told after each commit that wrote leases.
import { randomInt } from "node:crypto";
import pg from "pg";
import type { PoolClient, QueryConfig, QueryResultRow } from "pg";
import type { Logger } from "pino";
import type { LeaseEventType } from "./types.js";
import { LessorError } from "../errors.js";
import type { LeaseChangeHooks } from "./common.js";
import { isConnectionError, storeError } from "./pg-connect.js";

/**
 * Lease events are numbered after commit, in batches, one batch at a time
 * (pg-sequencer.ts, lessor_number_lease_events in pg-migrations.ts): the
 * numbering call holds this transaction lock for its own run only, on the
 * database side, across no round trip. Why numbers are not drawn at insert:
 * two transactions can draw 10 and 11 yet commit 11 first; a watcher reading
 * "after 9" would then see 11, move its cursor there, and never see 10.
 * Numbering only committed events, one batch at a time, makes numbers
 * visible in increasing order.
 *
 * Lessor before schema version 4 drew numbers at insert and held this lock
 * from its event INSERT to its COMMIT; the numbering call takes the same
 * lock, so such a replica stays correct beside new ones during an upgrade.
 */
export const EVENT_LOCK = 0x4c45_5645; // "LEVE"
/**
 * Session advisory lock held by the one replica that numbers every replica's
 * events (the sequencer, pg-sequencer.ts). When its session ends, another
 * replica takes it.
 */
export const SEQUENCER_LOCK = 0x4c53_4551; // "LSEQ"
/**
 * Class of the two-key session advisory lock (OWNER_LOCK_CLASS, owner) each
 * process holds on a connection of its own while it has the store open. When
 * the process dies, PostgreSQL ends its session and the lock goes with it, so
 * "is the writer of this intent alive?" is answered exactly and at once by
 * pg_locks, with no heartbeat delay.
 */
export const OWNER_LOCK_CLASS = 0x4c4f_574e; // "LOWN"
/** Session advisory lock held while migrating (and checking the key). */
export const MIGRATION_LOCK = 0x4c4d_4947; // "LMIG"

export interface PendingEvent {
  type: LeaseEventType;
  leaseId: string;
  time: number;
  expireTime: number | null;
  detail: string | null;
}

type Values = ReadonlyArray<unknown>;

/** A named (prepared per connection) or plain statement. */
export type Sql = string | { name: string; text: string };

function config(sql: Sql, values: Values): QueryConfig {
  return typeof sql === "string" ? { text: sql, values: [...values] } : { name: sql.name, text: sql.text, values: [...values] };
}

/**
 * Whether a statement writes leases or lease events (the lease change hooks
 * are then told once it commits). Read from the statement itself, in the one
 * place every statement passes, so no write path can forget to wake watchers.
 */
const LEASE_WRITE = /\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:leases|lease_events)\b/i;

function writesLeases(sql: Sql): boolean {
  return LEASE_WRITE.test(typeof sql === "string" ? sql : sql.text);
}

/** SQLSTATEs worth retrying a whole transaction for. */
function retryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

export class Tx {
  readonly events: PendingEvent[] = [];
  /** A statement wrote leases or lease events (even one later rolled back to a savepoint: a wake-up for nothing is harmless). */
  changesLeases = false;
  constructor(private readonly client: PoolClient) {}

  async query<R extends QueryResultRow>(sql: Sql, values: Values = []): Promise<{ rows: R[]; rowCount: number }> {
    if (writesLeases(sql)) this.changesLeases = true;
    const r = await this.client.query<R>(config(sql, values));
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  }

  /** Queues a lease event: written last, just before commit, and numbered after it. */
  event(type: LeaseEventType, leaseId: string, time: number, expireTime: number | null = null, detail: string | null = null): void {
    this.changesLeases = true;
    this.events.push({ type, leaseId, time, expireTime, detail });
  }

  /** Whether this transaction queued events (they are unnumbered until a numbering call after its commit). */
  queuedEvents = false;

  /**
   * Last, after every other statement: the draft number each event draws here
   * is then larger than those of every transaction whose committed change
   * this one saw, which the numbering follows (see lease_event_queue).
   */
  async writeEvents(): Promise<void> {
    if (this.events.length === 0) return;
    const e = this.events;
    await this.client.query({
      name: "events_queue",
      text: `INSERT INTO lease_event_queue (type, lease_id, time, expire_time, detail)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[])`,
      values: [e.map((x) => x.type), e.map((x) => x.leaseId), e.map((x) => x.time), e.map((x) => x.expireTime), e.map((x) => x.detail)],
    });
    this.events.length = 0;
    this.queuedEvents = true;
  }
}

export class PgDb {
  constructor(
    readonly pool: pg.Pool,
    private readonly display: string,
    private readonly secrets: readonly string[],
    private readonly hooks: LeaseChangeHooks,
    private readonly logger: Logger | undefined,
  ) {
    // An idle client losing its connection must not crash the process.
    pool.on("error", (err) => {
      this.logger?.warn({ err: this.wrap(err).message }, "an idle PostgreSQL connection failed; it is replaced on next use");
    });
  }

  /** Set once the store has opened: from then on, callers' errors name no host. */
  opened = false;
  private lastLogged = 0;

  wrap(err: unknown): Error {
    const wrapped = storeError(err, this.display, this.secrets);
    if (!this.opened || !(wrapped instanceof LessorError) || wrapped.reason !== "STORAGE_UNAVAILABLE") return wrapped;
    // While serving, a caller learns only that the storage is unavailable; the
    // details (which name the database's address) go to the log, at most every 5 s.
    const now = Date.now();
    if (now - this.lastLogged > 5000) {
      this.lastLogged = now;
      this.logger?.error({ err: wrapped.message }, "PostgreSQL is unavailable");
    }
    return LessorError.unavailable("the storage is unavailable; try again shortly", "STORAGE_UNAVAILABLE");
  }

  /** One statement, outside any explicit transaction. */
  async query<R extends QueryResultRow>(sql: Sql, values: Values = []): Promise<{ rows: R[]; rowCount: number }> {
    let r;
    try {
      r = await this.pool.query<R>(config(sql, values));
    } catch (err) {
      throw this.wrap(err);
    }
    if (writesLeases(sql)) this.hooks.emit();
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  }

  /**
   * The writes of a kind as one statement, committed on its own (retried
   * from the start on deadlock, as a transaction is). Throws what PostgreSQL
   * or the connection threw, unwrapped (see GroupCommit).
   */
  async write<I, O, R extends QueryResultRow>(kind: WriteKind<I, O, R>, inputs: I[]): Promise<O[]> {
    const { sql, values } = kind.statement(inputs);
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.pool.query<R>(config(sql, values));
        if (kind.queuesEvents) this.eventCommits++;
        if (writesLeases(sql)) this.hooks.emit();
        return kind.outcomes(r.rows, inputs);
      } catch (err) {
        if (!retryable(err) || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    }
  }

  async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /**
   * Transactions committed by this process that queued lease events: the
   * sequencer numbers up to the count it read before a numbering call, so a
   * reader here can have its own events numbered before it reads.
   */
  eventCommits = 0;

  /**
   * Runs work in one READ COMMITTED transaction; its lease events are queued
   * last. Retried (from the start) on deadlock or serialization failure, so
   * work must not have effects outside the database.
   */
  async tx<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const tx = new Tx(client);
        const value = await work(tx);
        await tx.writeEvents();
        await client.query("COMMIT");
        if (tx.queuedEvents) this.eventCommits++;
        if (tx.changesLeases) this.hooks.emit();
        return value;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackError) {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        if (retryable(err) && attempt < 5) {
          await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
          continue;
        }
        throw this.wrap(err);
      } finally {
        client.release(broken);
      }
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Work items that arrive together (in one turn of the event loop) are handed
 * to runBatch together, at most maxBatch at a time and maxInFlight batches at
 * once (each on its own connection); items arriving while that many batches
 * run wait for the next, so batches grow with the load.
 */
abstract class Batcher<T> {
  private queue: T[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly maxInFlight: number,
    private readonly maxBatch: number,
  ) {}

  protected add(item: T): void {
    this.queue.push(item);
    this.schedule();
  }

  /** Settles every item of the batch (never throws). */
  protected abstract runBatch(batch: T[]): Promise<void>;

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight++;
    this.schedule();
    try {
      await this.runBatch(batch);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}

interface Lookup<K, R> {
  key: K;
  resolve: (value: R | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Lookups by key that arrive together become one query (`WHERE key =
 * ANY($1)`): under load a replica makes one round trip for many requests'
 * lookups instead of one each. Nothing is kept: each lookup is answered by a
 * query sent after it was asked, so it sees every write resolved before it.
 */
export class BatchedLookup<K, R> extends Batcher<Lookup<K, R>> {
  constructor(
    /** Reads the rows of these keys; returns them by keyOf. */
    private readonly read: (keys: K[]) => Promise<Map<string, R>>,
    private readonly keyOf: (key: K) => string,
  ) {
    super(2, 500);
  }

  get(key: K): Promise<R | undefined> {
    return new Promise((resolve, reject) => this.add({ key, resolve, reject }));
  }

  protected async runBatch(batch: Array<Lookup<K, R>>): Promise<void> {
    const unique = new Map<string, K>();
    for (const l of batch) unique.set(this.keyOf(l.key), l.key);
    try {
      const found = await this.read([...unique.values()]);
      for (const l of batch) l.resolve(found.get(this.keyOf(l.key)));
    } catch (err) {
      for (const l of batch) l.reject(err);
    }
  }
}

/**
 * A kind of write of which many are made by one statement (multi-row, from
 * arrays), committed on its own (BatchedWrites): the hot writes, so the writes
 * of a kind that arrive together cost one round trip whatever their number. A statement that queues lease
 * events queues them itself, after the changes they describe (what the draft
 * numbers of lease_event_queue rely on).
 */
export interface WriteKind<I, O, R extends QueryResultRow = QueryResultRow> {
  statement(inputs: I[]): { sql: Sql; values: unknown[] };
  /** One outcome per input, in order, from the statement's rows. */
  outcomes(rows: R[], inputs: I[]): O[];
  /** Whether the statement queues lease events (numbered after it commits). */
  readonly queuesEvents: boolean;
}

interface Pending {
  work: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface PendingOf<I, O> {
  input: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes of one kind that arrive together: one statement for all of them,
 * committed on its own. If it fails as a whole (nothing of it committed),
 * each write runs alone, so only a failing one fails.
 */
export class BatchedWrites<I, O, R extends QueryResultRow> extends Batcher<PendingOf<I, O>> {
  constructor(
    private readonly db: PgDb,
    private readonly kind: WriteKind<I, O, R>,
  ) {
    super(4, 200);
  }

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => this.add({ input, resolve, reject }));
  }

  protected async runBatch(batch: Array<PendingOf<I, O>>): Promise<void> {
    try {
      const outcomes = await this.db.write(
        this.kind,
        batch.map((op) => op.input),
      );
      batch.forEach((op, i) => op.resolve(outcomes[i] as O));
      return;
    } catch (err) {
      // A lost connection leaves the outcome unknown: every write fails, none is made twice.
      if (batch.length === 1 || isConnectionError(err)) {
        for (const op of batch) op.reject(this.db.wrap(err));
        return;
      }
    }
    await Promise.all(
      batch.map(async (op) => {
        try {
          const [outcome] = await this.db.write(this.kind, [op.input]);
          op.resolve(outcome as O);
        } catch (err) {
          op.reject(this.db.wrap(err));
        }
      }),
    );
  }
}

/**
 * Group commit, as in the SQLite store: writes that arrive together share one
 * transaction, so they pay for one commit. A group runs first as it is; if one
 * of its writes fails, the transaction is rolled back and the group runs again
 * with each write in its own savepoint, so the one that fails is undone alone
 * (savepoints on every group would cost two more round trips per write). A
 * caller's promise settles only after the shared transaction committed.
 */
export class GroupCommit extends Batcher<Pending> {
  constructor(
    private readonly db: PgDb,
    maxInFlight = 4,
    maxBatch = 200,
  ) {
    super(maxInFlight, maxBatch);
  }

  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.add({ work, resolve: resolve as (value: unknown) => void, reject }));
  }

  protected async runBatch(batch: Pending[]): Promise<void> {
    if (batch.length > 1 && (await this.runWhole(batch))) return;
    if (batch.length === 1) {
      const op = batch[0] as Pending;
      try {
        op.resolve(await this.db.tx(op.work));
      } catch (err) {
        op.reject(err);
      }
      return;
    }
    let outcomes: Array<{ value: unknown } | { error: unknown }>;
    try {
      outcomes = await this.db.tx(async (tx) => {
        const out: Array<{ value: unknown } | { error: unknown }> = [];
        for (const op of batch) out.push(await this.inSavepoint(tx, op.work));
        return out;
      });
    } catch (err) {
      // The transaction itself failed: nothing of the batch is durable.
      for (const op of batch) op.reject(err);
      return;
    }
    outcomes.forEach((outcome, i) => {
      const op = batch[i];
      if (!op) return;
      if ("error" in outcome) op.reject(this.db.wrap(outcome.error));
      else op.resolve(outcome.value);
    });
  }

  /**
   * Runs the group in one transaction with no savepoints. True when that
   * settled every write; false when a write failed (the transaction was
   * rolled back: nothing of it committed), to be run again in savepoints.
   */
  private async runWhole(batch: Pending[]): Promise<boolean> {
    let writeFailed = false;
    let values: unknown[];
    try {
      values = await this.db.tx(async (tx) => {
        writeFailed = false;
        const out: unknown[] = [];
        for (const op of batch) {
          try {
            out.push(await op.work(tx));
          } catch (error) {
            // A deadlock or serialization failure is retried whole by PgDb.tx.
            if (!retryable(error)) writeFailed = true;
            throw error;
          }
        }
        return out;
      });
    } catch (err) {
      if (writeFailed) return false;
      // The transaction itself failed: nothing of the batch is durable.
      for (const op of batch) op.reject(err);
      return true;
    }
    values.forEach((value, i) => batch[i]?.resolve(value));
    return true;
  }

  private async inSavepoint(tx: Tx, work: (tx: Tx) => Promise<unknown>): Promise<{ value: unknown } | { error: unknown }> {
    const mark = tx.events.length;
    await tx.query("SAVEPOINT op");
    try {
      const value = await work(tx);
      await tx.query("RELEASE SAVEPOINT op");
      return { value };
    } catch (error) {
      // A deadlock or serialization failure: the whole batch is retried
      // (PgDb.tx), since retrying this one write would meet the same locks.
      if (retryable(error)) throw error;
      // A failure here (the connection is gone) fails the whole batch.
      await tx.query("ROLLBACK TO SAVEPOINT op");
      tx.events.length = mark;
      return { error };
    }
  }
}

/** This process's liveness lock (see OWNER_LOCK_CLASS), on a connection of its own. */
export class OwnerLock {
  private constructor(
    private readonly client: pg.Client,
    /** Written into every intent this process records. */
    readonly owner: number,
  ) {}

  static async acquire(config: pg.ClientConfig, display: string, secrets: readonly string[], logger?: Logger): Promise<OwnerLock> {
    const client = new pg.Client(config);
    // Losing this session only makes other replicas roll back this process's
    // in-flight issuances early, which the intent claim makes safe.
    client.on("error", (err) => logger?.warn({ err: storeError(err, display, secrets).message }, "lost the store's liveness connection"));
    try {
      await client.connect();
      // Random owner numbers; one already held (vanishingly rare) is skipped.
      for (let tries = 0; tries < 8; tries++) {
        const owner = randomInt(1, 2 ** 31 - 1);
        const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [OWNER_LOCK_CLASS, owner]);
        if (r.rows[0]?.ok) return new OwnerLock(client, owner);
      }
      throw new Error("could not take a liveness lock");
    } catch (err) {
      await client.end().catch(() => undefined);
      throw storeError(err, display, secrets);
    }
  }

  async release(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
