// The lease event feed behind WatchLeases. Events are rows of lease_events,
// written in the same transaction as the state change they describe, so the
// table is the one source of truth: a watcher reads it after a sequence
// number, and resuming after a reconnect is just reading from the last
// sequence seen. Nothing is buffered per watcher in memory.
//
// Promptness: a watcher that has caught up waits for a wake-up. Two things
// wake it: (1) the store's lease change hook, called after every commit of
// this process that wrote leases or lease events, whoever wrote them (the
// lease manager, revoke-prefix jobs, tidy), which makes delivery immediate;
// (2) a poll of the newest sequence number every `pollIntervalMs` while
// anyone watches, which catches writes this process cannot see (another
// process on the same database, other replicas on a shared PostgreSQL). The
// poll is one indexed MAX() for all watchers together, not one per watcher.
import { Code, LessorError } from "../errors.js";
import type { LeaseEventRecord, Store } from "../store/types.js";

export interface LeaseEventFeedOptions {
  /** How often to look for events written outside this process (default 250 ms). */
  pollIntervalMs?: number;
  /** Events read per query (default 500). */
  batchSize?: number;
}

export class LeaseEventFeed {
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  /** Bumped on every wake-up; a watcher sleeps until it moves past what it saw. */
  private version = 0;
  private readonly sleepers = new Set<() => void>();
  private pollTimer: NodeJS.Timeout | undefined;
  private lastPolledSequence = -1;
  /** Watches in progress: the poll runs only while there are some. */
  private watching = 0;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: Store,
    options: LeaseEventFeedOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.batchSize = options.batchSize ?? 500;
    this.unsubscribe = store.onLeaseChange(() => this.wake());
  }

  /** Wakes every watcher to look for new events. */
  private wake(): void {
    this.version++;
    for (const wakeUp of [...this.sleepers]) wakeUp();
  }

  /**
   * Streams events whose lease id starts with `prefix`, after `afterSequence`
   * (0: only events after now; "oldest": every event kept), to `deliver`, until
   * `signal` aborts or the feed closes. `started` is told the sequence the
   * stream starts after, so a caller that has seen nothing yet can still
   * resume without a gap.
   */
  async watch(
    prefix: string,
    afterSequence: number | "oldest",
    signal: AbortSignal,
    deliver: (event: LeaseEventRecord) => Promise<void>,
    started?: (cursor: number) => void,
  ): Promise<void> {
    let cursor = afterSequence === "oldest" ? 0 : afterSequence > 0 ? afterSequence : await this.store.events.latestSequence();
    if (afterSequence !== "oldest" && afterSequence > 0) await this.checkNotPruned(afterSequence);
    started?.(cursor);
    this.startPolling();
    try {
      for (;;) {
        if (signal.aborted) return;
        if (this.closed) throw shuttingDown(cursor);
        const seen = this.version;
        const batch = await this.store.events.after(cursor, prefix, this.batchSize);
        for (const event of batch) {
          if (signal.aborted) return;
          await deliver(event);
          cursor = event.sequence;
        }
        if (batch.length < this.batchSize) await this.sleepUntilChanged(seen, signal);
      }
    } finally {
      this.stopPollingIfIdle();
    }
  }

  /** Ends every watch (server shutdown): each stream fails UNAVAILABLE with its resume point. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.wake();
  }

  /**
   * Sleeps until the next wake-up, or until this watcher's caller goes away:
   * a cancelled watch wakes only itself, so cancelling one of many costs O(1).
   */
  private sleepUntilChanged(seen: number, signal: AbortSignal): Promise<void> {
    if (this.version !== seen || this.closed || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wakeUp = (): void => {
        this.sleepers.delete(wakeUp);
        signal.removeEventListener("abort", wakeUp);
        resolve();
      };
      this.sleepers.add(wakeUp);
      signal.addEventListener("abort", wakeUp, { once: true });
    });
  }

  private startPolling(): void {
    this.watching++;
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  private stopPollingIfIdle(): void {
    this.watching--;
    if (this.watching === 0 && this.pollTimer) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
      this.lastPolledSequence = -1;
    }
  }

  private async poll(): Promise<void> {
    try {
      const latest = await this.store.events.latestSequence();
      if (latest !== this.lastPolledSequence) {
        this.lastPolledSequence = latest;
        this.wake();
      }
    } catch {
      // The store is closing; the next tick or close() settles it.
    }
  }

  /** A resume point older than the oldest kept event would silently skip events: refuse it. */
  private async checkNotPruned(afterSequence: number): Promise<void> {
    const [oldest] = await this.store.events.after(0, "", 1);
    if (oldest && oldest.sequence > afterSequence + 1) {
      throw new LessorError(
        Code.OUT_OF_RANGE,
        `events after sequence ${afterSequence} are no longer kept (the oldest kept is ${oldest.sequence}); start a new watch with after_sequence 0 and re-read the leases you track`,
        { reason: "EVENTS_PRUNED", metadata: { after_sequence: String(afterSequence), oldest_sequence: String(oldest.sequence) } },
      );
    }
  }
}

function shuttingDown(cursor: number): LessorError {
  return LessorError.unavailable(
    `the server is shutting down; reconnect and resume with after_sequence ${cursor}`,
    "SHUTTING_DOWN",
    { after_sequence: String(cursor) },
  );
}
