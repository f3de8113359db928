// The expiry scheduler: reads the next due leases (expired, queued, or due
// for a retry) from the store's index on due time, a batch at a time, and
// revokes them on a bounded pool, each mount within its rate limit and its
// lane (a bounded share of the pool), so a mount whose endpoint hangs holds
// only its own lane, and it keeps reading while revocations run. What it
// holds is bounded by the batch size and the pool, never by the number of
// leases: a store with a million leases costs no more to start than an empty
// one, and leases left revoking by a previous run are simply due again.
import type { Logger } from "pino";
import { describeError } from "../errors.js";
import type { LeaseRecord, Store } from "../store/types.js";
import type { LeaseManager } from "./manager.js";

export interface ExpiryOptions {
  /** Leases read per batch. */
  batchSize?: number;
  /** Revocations running at once, all mounts together. */
  concurrency?: number;
  /** Revocations running at once for one mount (default: half of concurrency). */
  mountConcurrency?: number;
  /** Longest sleep between looks at the store. */
  maxSleepMs?: number;
  now?: () => number;
}

export const DEFAULT_EXPIRY_CONCURRENCY = 16;

/** A mount's lane: half the pool, so one mount whose endpoint hangs leaves the other half to the rest. */
export function defaultMountConcurrency(concurrency: number): number {
  return Math.max(1, Math.floor(concurrency / 2));
}

export class ExpiryScheduler {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private stopped = true;
  /** Revoke active leases when they expire; false (-no-expire): only revocations already decided. */
  private expireActive = true;
  private refilling = false;
  /** Read from the store, not yet started. */
  private queue: LeaseRecord[] = [];
  /** Ids queued or being revoked, so a re-read does not take them twice. */
  private readonly taken = new Set<string>();
  private running = 0;
  /** Revocations running, and leases queued, per mount (its lane). */
  private readonly runningByMount = new Map<string, number>();
  private readonly queuedByMount = new Map<string, number>();
  /**
   * Set when a read found nothing startable while every queued lease waited
   * for a full lane: the next such read waits for a wake-up (a lease due, a
   * revocation ending on a mount with nothing queued, the longest sleep)
   * instead of asking the store again at once.
   */
  private laneReadIdle = false;
  private idle: Array<() => void> = [];
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly mountConcurrency: number;
  private readonly maxSleepMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly leases: LeaseManager,
    private readonly logger: Logger,
    options: ExpiryOptions = {},
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? 256);
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_EXPIRY_CONCURRENCY);
    this.mountConcurrency = Math.min(this.concurrency, Math.max(1, options.mountConcurrency ?? defaultMountConcurrency(this.concurrency)));
    this.maxSleepMs = options.maxSleepMs ?? 1_000;
    this.now = options.now ?? Date.now;
    leases.onDue((at) => this.poke(at));
  }

  /**
   * Starts work. With `expireActive` false (expiry paused, -no-expire) active
   * leases are left alone even when expired; revocations already decided
   * (queued, revoke-prefix, retries) still run.
   */
  start(options: { expireActive?: boolean } = {}): void {
    this.expireActive = options.expireActive ?? true;
    this.stopped = false;
    this.wakeAt(this.now());
  }

  /** Stops reading new work and waits for the revocations under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const lease of this.queue) this.taken.delete(lease.id);
    this.queue = [];
    this.queuedByMount.clear();
    while (this.running > 0 || this.refilling) await new Promise<void>((r) => this.idle.push(r));
  }

  /** Wakes the scheduler by `dueAt` (a lease was issued or queued). */
  poke(dueAt: number): void {
    if (this.stopped) return;
    this.laneReadIdle = false;
    this.wakeAt(dueAt);
  }

  private wakeAt(at: number): void {
    if (this.stopped) return;
    const now = this.now();
    const target = Math.min(Math.max(at, now), now + this.maxSleepMs);
    if (this.timer && this.timerAt <= target) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = target;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.laneReadIdle = false;
      this.pump();
    }, target - now);
    this.timer.unref();
  }

  private laneFull(mount: string): boolean {
    return (this.runningByMount.get(mount) ?? 0) >= this.mountConcurrency;
  }

  /** Starts what can start now; reads more when the queue runs low; sleeps until the next due time. */
  private pump(): void {
    if (this.stopped) return this.settle();
    let blockedMs = Infinity;
    let laneBlocked = false;
    while (this.running < this.concurrency && this.queue.length > 0) {
      // The first queued lease whose mount has room in its lane and may start a revocation now.
      let pick = -1;
      laneBlocked = false;
      for (let i = 0; i < this.queue.length; i++) {
        const mount = (this.queue[i] as LeaseRecord).mountAccessor;
        if (this.laneFull(mount)) {
          laneBlocked = true;
          continue;
        }
        const wait = this.leases.revokeWaitMs(mount);
        if (wait === 0) {
          pick = i;
          break;
        }
        blockedMs = Math.min(blockedMs, wait);
      }
      if (pick < 0) break;
      const [lease] = this.queue.splice(pick, 1) as [LeaseRecord];
      this.launch(lease);
    }
    // Every startable mount is at its rate limit: look again when the first may start.
    if (this.running < this.concurrency && blockedMs < Infinity) this.wakeAt(this.now() + blockedMs);
    const low = this.queue.length < this.batchSize / 2;
    // Room in the pool, but everything queued waits for a full lane: other mounts' leases may be due.
    const starved = this.running < this.concurrency && laneBlocked && blockedMs === Infinity && !this.laneReadIdle;
    if ((low || starved) && !this.refilling) void this.refill();
    this.settle();
  }

  private launch(lease: LeaseRecord): void {
    const mount = lease.mountAccessor;
    this.count(this.queuedByMount, mount, -1);
    this.count(this.runningByMount, mount, 1);
    this.running++;
    // Failures are recorded on the lease with a retry time; nothing to do here.
    void this.leases
      .revokeRecord(lease, undefined, "due")
      .catch(() => undefined)
      .finally(() => {
        this.running--;
        this.count(this.runningByMount, mount, -1);
        this.taken.delete(lease.id);
        // Only a mount with nothing queued may have due leases no read has
        // seen yet; otherwise pump starts its next queued one, and a read
        // would walk every blocked mount's backlog again to find nothing.
        if (!this.queuedByMount.has(mount)) this.laneReadIdle = false;
        this.pump();
      });
  }

  private count(counts: Map<string, number>, mount: string, delta: number): void {
    const n = (counts.get(mount) ?? 0) + delta;
    if (n > 0) counts.set(mount, n);
    else counts.delete(mount);
  }

  /**
   * Mounts not to read more of: a queue deep enough to refill their lane.
   * Leaving them out of the read is what keeps one mount's backlog (its
   * endpoint hung, every lease of it due) from hiding the due leases of others.
   * A full lane alone is no reason: a mount whose queue runs low must be read
   * again before it empties, or its lane idles; and while it is left out,
   * every read walks past all of its due leases to find none (with 100,000
   * due, that walk cost more CPU than the revocations themselves).
   */
  private saturatedMounts(): string[] {
    const deep = Math.max(this.mountConcurrency, Math.floor(this.batchSize / 2));
    return [...this.queuedByMount].filter(([, queued]) => queued >= deep).map(([mount]) => mount);
  }

  private async refill(): Promise<void> {
    this.refilling = true;
    let found = 0;
    try {
      const now = this.now();
      const skip = this.saturatedMounts();
      // Ask for enough to see past what is already queued or running.
      const limit = this.batchSize + this.taken.size;
      const due = this.expireActive ? await this.store.leases.due(now, limit, skip) : await this.store.leases.dueRevocations(now, limit);
      for (const lease of due) {
        if (this.stopped || this.taken.has(lease.id)) continue;
        if (!(lease.state === "revoking" || (lease.state === "active" && lease.expireTime <= now))) {
          // A due time that disagrees with the lease (an ended lease, or one not
          // yet expired): drift that `lessor lease tidy` repairs. Never revoke early.
          this.warnDrift(lease.id);
          continue;
        }
        this.taken.add(lease.id);
        this.queue.push(lease);
        this.count(this.queuedByMount, lease.mountAccessor, 1);
        found++;
      }
    } catch (err) {
      this.logger.error({ err: describeError(err) }, "reading due leases failed; retrying");
    } finally {
      this.refilling = false;
    }
    if (this.stopped) return this.settle();
    if (found > 0) return this.pump();
    this.laneReadIdle = true;
    // Nothing new: look again at the next due time, at the latest after the
    // longest sleep, even while revocations are under way (one that hangs
    // must not stop expiry). With expiry paused, expired active leases stay
    // due, so just look again later.
    const next = this.expireActive ? await this.store.leases.nextDueTime().catch(() => null) : null;
    const now = this.now();
    // A due time already past here belongs to a lease that is queued, running, or cannot be taken (drift): do not spin on it.
    this.wakeAt(next !== null && next > now ? next : now + this.maxSleepMs);
    this.settle();
  }

  private driftWarned = false;

  private warnDrift(leaseId: string): void {
    if (this.driftWarned) return;
    this.driftWarned = true;
    this.logger.warn({ lease_id: leaseId }, "a lease's due time disagrees with its state or expiry; run `lessor lease tidy` to repair the index");
  }

  private settle(): void {
    if (this.running === 0 && !this.refilling) {
      const waiting = this.idle;
      this.idle = [];
      for (const resolve of waiting) resolve();
    }
  }
}
