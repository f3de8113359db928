// Numbering of lease events on PostgreSQL. A transaction that changes leases
// queues its events (lease_event_queue) and commits holding no lock; a call
// of lessor_number_lease_events (pg-migrations.ts, migration 4) then moves the
// committed ones into lease_events with their sequence numbers. Calls take
// turns on the database side, so numbers become visible in increasing order
// and a watcher resuming "after N" on any replica never skips or repeats one.
//
// Who calls it:
// - the sequencer: one replica at a time, holding SEQUENCER_LOCK on a
//   connection of its own, numbers every replica's events every
//   SEQUENCER_INTERVAL_MS (up to SEQUENCER_IDLE_INTERVAL_MS after calls that
//   found none). When its session ends (the process died, or PostgreSQL
//   dropped it), another replica takes the lock within ROLE_RETRY_MS. This
//   bounds how long any committed event stays unnumbered.
// - a reader (events.after, events.latestSequence) in a process that has
//   committed events since the last call it knows of: it numbers them first,
//   so events written through this store are readable once their write has
//   resolved, as on SQLite.
import pg from "pg";
import type { Logger } from "pino";
import { storeError } from "./pg-connect.js";
import { SEQUENCER_LOCK, type PgDb } from "./pg-db.js";

/**
 * How often the sequencer numbers queued events while there are some: the
 * delay before another replica's event is readable. After a call that found
 * nothing the wait doubles, up to SEQUENCER_IDLE_INTERVAL_MS (an idle
 * sequencer makes 10 calls a second, not 50).
 */
export const SEQUENCER_INTERVAL_MS = 20;
export const SEQUENCER_IDLE_INTERVAL_MS = 100;
/** How often a replica that is not the sequencer tries to become it. */
const ROLE_RETRY_MS = 1_000;
/** Events numbered per call (a call is one short transaction). */
const BATCH = 5_000;
/** Calls in one round at most. */
const MAX_CALLS = 20;
/** The sequencer's connection: a query answered later than this is given up and the connection replaced. */
const QUERY_TIMEOUT_MS = 10_000;
/**
 * TCP keepalive on the sequencer's session, set on the database side: if this
 * replica's host vanishes without closing the connection, PostgreSQL ends the
 * session (and frees SEQUENCER_LOCK for another replica) within about
 * idle + count × interval = 25 s, not the system default of hours.
 */
const KEEPALIVE = { idle: 10, interval: 5, count: 3 };

const NUMBER_SQL = { name: "events_number", text: "SELECT lessor_number_lease_events($1) AS n" };

export interface EventSequencerOptions {
  config: pg.ClientConfig;
  display: string;
  secrets: readonly string[];
  logger?: Logger;
  intervalMs?: number;
  idleIntervalMs?: number;
}

export class EventSequencer {
  /** eventCommits as read before the last numbering call that finished. */
  private covered = 0;
  private running: Promise<number> | undefined;
  private closed = false;
  private wakeSleep: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private client: pg.Client | undefined;
  private lastLogged = 0;
  private readonly intervalMs: number;
  private readonly idleIntervalMs: number;
  /** Whether this replica is the sequencer now (for tests and the log). */
  holder = false;

  constructor(
    private readonly db: PgDb,
    private readonly options: EventSequencerOptions,
  ) {
    this.intervalMs = options.intervalMs ?? SEQUENCER_INTERVAL_MS;
    this.idleIntervalMs = Math.max(this.intervalMs, options.idleIntervalMs ?? SEQUENCER_IDLE_INTERVAL_MS);
  }

  /** Starts trying to be the sequencer (in the background, until close). */
  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Numbers every event this process committed before the call. Concurrent
   * callers share numbering calls; one already running when a caller arrives
   * may have read eventCommits before that caller's commit, so another follows.
   */
  async catchUp(): Promise<void> {
    const target = this.db.eventCommits;
    while (this.covered < target) {
      if (!this.running) {
        this.running = this.numberAll((n) => this.db.query<{ n: number }>(NUMBER_SQL, [n])).finally(() => (this.running = undefined));
      }
      await this.running;
    }
  }

  /**
   * Calls the numbering function until a call leaves the queue empty (then
   * every event committed before the first call is numbered), or at most
   * MAX_CALLS times (a queue that grows faster than that is left to the next
   * round, and nothing is counted as covered).
   */
  private async numberAll(call: (batch: number) => Promise<{ rows: Array<{ n: number }> }>): Promise<number> {
    const reached = this.db.eventCommits;
    let numbered = 0;
    for (let calls = 0; calls < MAX_CALLS; calls++) {
      const n = (await call(BATCH)).rows[0]?.n ?? 0;
      numbered += n;
      if (n < BATCH) {
        this.covered = Math.max(this.covered, reached);
        break;
      }
    }
    return numbered;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        await this.serve();
      } catch (err) {
        this.holder = false;
        if (!this.closed) this.logFailure(err);
      } finally {
        const client = this.client;
        this.client = undefined;
        await client?.end().catch(() => undefined);
      }
      await this.sleep(ROLE_RETRY_MS);
    }
  }

  /** On a connection of its own: tries for the role, and while holding it numbers every interval. Returns only by throwing or on close. */
  private async serve(): Promise<void> {
    // Named with the process id, so pg_stat_activity (with pg_locks) tells which replica numbers.
    const client = new pg.Client({ ...this.options.config, query_timeout: QUERY_TIMEOUT_MS, application_name: `lessor sequencer ${process.pid}` });
    this.client = client;
    // An error on an idle connection: the next query fails and the loop reconnects.
    client.on("error", () => undefined);
    await client.connect();
    await client.query(
      `SET tcp_keepalives_idle = ${KEEPALIVE.idle}; SET tcp_keepalives_interval = ${KEEPALIVE.interval}; SET tcp_keepalives_count = ${KEEPALIVE.count}`,
    );
    let wait = this.intervalMs;
    while (!this.closed) {
      if (!this.holder) {
        const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [SEQUENCER_LOCK]);
        this.holder = r.rows[0]?.ok === true;
        if (this.holder) this.options.logger?.debug("this replica numbers lease events (sequencer)");
      }
      if (this.holder) {
        const numbered = await this.numberAll((n) => client.query<{ n: number }>(NUMBER_SQL, [n]));
        wait = numbered > 0 ? this.intervalMs : Math.min(wait * 2, this.idleIntervalMs);
      }
      await this.sleep(this.holder ? wait : ROLE_RETRY_MS);
    }
  }

  private logFailure(err: unknown): void {
    const now = Date.now();
    if (now - this.lastLogged < 5_000) return;
    this.lastLogged = now;
    this.warn(err, "lease event sequencer: lost its PostgreSQL connection; reconnecting");
  }

  /** Logs a failure with the store's error text (no password, no secret). */
  private warn(err: unknown, what: string): void {
    this.options.logger?.warn({ err: storeError(err, this.options.display, this.options.secrets).message }, what);
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = done;
    });
  }

  /**
   * Stops the sequencer (its session and lock end with its connection), after
   * numbering what this process committed: a replica that stops (the last one,
   * or one whose store a tool opened) leaves none of its events waiting for
   * another replica's next round.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeSleep?.();
    await this.loop;
    await this.running?.catch(() => undefined);
    // Not lost if this fails: another replica, or this one's next start, numbers them.
    await this.catchUp().catch((err: unknown) => this.warn(err, "lease event sequencer: could not number this replica's last events before stopping"));
  }
}
