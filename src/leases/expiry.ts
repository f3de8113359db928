// The expiry scheduler: one timer reads the next due leases from the store's
// index on due time, a batch at a time, and revokes them on a bounded pool.
// Nothing per lease lives in memory between batches, so a store with a
// million leases costs no more to start than an empty one.
import type { Logger } from "pino";
import { describeError } from "../errors.js";
import type { Store } from "../store/types.js";
import type { LeaseManager } from "./manager.js";

export interface ExpiryOptions {
  /** Leases read per batch. */
  batchSize?: number;
  /** Revocations running at once. */
  concurrency?: number;
  /** Longest sleep between looks at the store. */
  maxSleepMs?: number;
  now?: () => number;
}

export class ExpiryScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = true;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly maxSleepMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly leases: LeaseManager,
    private readonly logger: Logger,
    options: ExpiryOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 256;
    this.concurrency = options.concurrency ?? 16;
    this.maxSleepMs = options.maxSleepMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  /** Wakes the scheduler early (a lease was issued that expires soon). */
  poke(dueAt: number): void {
    if (!this.stopped && !this.running) this.schedule(Math.max(0, dueAt - this.now()));
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.min(delayMs, this.maxSleepMs));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    try {
      for (;;) {
        const due = await this.store.leases.due(this.now(), this.batchSize);
        if (due.length === 0 || this.stopped) break;
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < due.length && !this.stopped) {
            const lease = due[next++];
            if (!lease) return;
            // Failures are recorded on the lease with a retry time; nothing to do here.
            await this.leases.revokeRecord(lease).catch(() => undefined);
          }
        };
        await Promise.all(Array.from({ length: Math.min(this.concurrency, due.length) }, worker));
        if (due.length < this.batchSize) break;
      }
    } catch (err) {
      this.logger.error({ err: describeError(err) }, "expiry pass failed; retrying");
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    const nextDue = await this.store.leases.nextDueTime().catch(() => null);
    this.schedule(nextDue === null ? this.maxSleepMs : Math.max(0, nextDue - this.now()));
  }
}
