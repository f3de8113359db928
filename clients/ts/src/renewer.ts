// LeaseRenewer keeps a lease alive, as Vault's LifetimeWatcher does: it
// renews at about two thirds of the time the lease has left (with jitter, so
// many clients do not renew in step), retries transient failures while the
// lease still has time, and says when it stops: the lease reached its max TTL
// (RenewLease answered `clamped`), cannot be renewed, failed for good, expired,
// or was stopped. It never throws; it reports through events, callbacks and
// the `done` promise.
import { EventEmitter } from "node:events";
import { status as Code } from "@grpc/grpc-js";
import type { LessorClient } from "./client.js";
import { LessorClientError } from "./errors.js";
import type { LeaseInfo, RenewLeaseResponse } from "./gen/lessor/v1/leases.js";
import type { Lease } from "./gen/lessor/v1/secrets.js";

/** Why a renewer stopped. */
export type RenewerStopReason =
  /** The lease reached its max TTL: it ends at `expireTime` and cannot be extended. Get a new secret before then. */
  | "max_ttl"
  /** The lease was issued as not renewable. */
  | "not_renewable"
  /** Renewal was refused for good (revoked, not found, permission denied...): see `error`. */
  | "failed"
  /** Renewal kept failing until the lease ran out: see `error`. */
  | "expired"
  /** `stop()` was called. */
  | "stopped";

export interface RenewerDone {
  leaseId: string;
  reason: RenewerStopReason;
  /** When the lease ends (as last known). */
  expireTime: Date;
  error?: LessorClientError;
}

export interface RenewedEvent {
  leaseId: string;
  /** Seconds the lease now has left. */
  durationSeconds: number;
  expireTime: Date;
  /** True when the max TTL cut this renewal short (a "done" with reason max_ttl follows). */
  clamped: boolean;
  lease: LeaseInfo | undefined;
}

export interface RetryingEvent {
  leaseId: string;
  error: LessorClientError;
  /** When the next attempt runs. */
  delayMs: number;
}

export interface LeaseRenewerEvents {
  renewed: [RenewedEvent];
  retrying: [RetryingEvent];
  done: [RenewerDone];
}

export interface LeaseRenewerOptions {
  /** Seconds to ask for on each renewal; 0 (default) asks for the lease's own duration. */
  incrementSeconds?: number;
  /** Renew after this fraction of the time left (default 2/3). */
  renewFraction?: number;
  /** ± this fraction of the delay, at random (default 0.1). */
  jitter?: number;
  /** Let the process exit while only this renewer is waiting (default false). */
  unref?: boolean;
  onRenewed?: (event: RenewedEvent) => void;
  onRetrying?: (event: RetryingEvent) => void;
  onDone?: (done: RenewerDone) => void;
}

/** What the renewer needs of a lease: a read's `Lease`, a `LeaseInfo` from lookup, or the same fields. */
export type RenewableLease = Pick<Lease, "id" | "durationSeconds" | "renewable"> | LeaseInfo;

/** Codes worth another try while the lease has time left; anything else ends the renewer. */
const TRANSIENT = new Set<Code>([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.ABORTED, Code.UNKNOWN]);

export class LeaseRenewer extends EventEmitter<LeaseRenewerEvents> {
  readonly leaseId: string;
  /** Resolves (never rejects) when the renewer stops. */
  readonly done: Promise<RenewerDone>;
  private expireTime: number;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private finished = false;
  private resolveDone!: (done: RenewerDone) => void;
  private readonly fraction: number;
  private readonly jitter: number;

  /** Starts renewing at once (the first renewal comes at about 2/3 of the time left). */
  constructor(
    private readonly client: LessorClient,
    lease: RenewableLease,
    private readonly options: LeaseRenewerOptions = {},
  ) {
    super();
    this.leaseId = lease.id;
    this.fraction = options.renewFraction ?? 2 / 3;
    this.jitter = options.jitter ?? 0.1;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const now = Date.now();
    if ("expireTime" in lease && lease.expireTime) this.expireTime = lease.expireTime.getTime();
    else this.expireTime = now + ("durationSeconds" in lease ? lease.durationSeconds : lease.ttlSeconds) * 1000;
    // Events are emitted from timers, never synchronously, so listeners added right after construction see them all.
    if (!lease.renewable) this.arm(0, () => this.finish("not_renewable"));
    else this.arm(this.renewDelay(this.expireTime - now), () => void this.renew());
  }

  /** Stops renewing; the lease itself is left as it is (revoke it separately if it is no longer needed). */
  stop(): void {
    this.finish("stopped");
  }

  private renewDelay(remainingMs: number): number {
    const jitter = 1 - this.jitter + 2 * this.jitter * Math.random();
    return Math.max(0, remainingMs * this.fraction * jitter);
  }

  private arm(delayMs: number, run: () => void): void {
    if (this.finished) return;
    this.timer = setTimeout(run, delayMs);
    if (this.options.unref) this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.finished) return;
    let res: RenewLeaseResponse;
    try {
      res = await this.client.leases.renew(this.leaseId, this.options.incrementSeconds ?? 0);
    } catch (err) {
      this.failed(LessorClientError.from(err, "LeaseService/RenewLease"));
      return;
    }
    if (this.finished) return;
    this.failures = 0;
    const now = Date.now();
    this.expireTime = res.lease?.expireTime?.getTime() ?? now + res.durationSeconds * 1000;
    const event: RenewedEvent = {
      leaseId: this.leaseId,
      durationSeconds: res.durationSeconds,
      expireTime: new Date(this.expireTime),
      clamped: res.clamped,
      lease: res.lease,
    };
    this.emit("renewed", event);
    this.options.onRenewed?.(event);
    if (res.clamped) this.finish("max_ttl");
    else this.arm(this.renewDelay(this.expireTime - now), () => void this.renew());
  }

  private failed(error: LessorClientError): void {
    if (this.finished) return;
    if (!TRANSIENT.has(error.code)) {
      this.finish("failed", error);
      return;
    }
    const remaining = this.expireTime - Date.now();
    if (remaining <= 0) {
      this.finish("expired", error);
      return;
    }
    this.failures++;
    // Back off, but try a few more times before the lease runs out.
    const backoff = Math.min(500 * 2 ** (this.failures - 1), 60_000, remaining / 3);
    const delayMs = Math.max(backoff, Math.min(error.retryDelayMs ?? 0, remaining / 2));
    const event: RetryingEvent = { leaseId: this.leaseId, error, delayMs };
    this.emit("retrying", event);
    this.options.onRetrying?.(event);
    this.arm(delayMs, () => void this.renew());
  }

  private finish(reason: RenewerStopReason, error?: LessorClientError): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    const done: RenewerDone = { leaseId: this.leaseId, reason, expireTime: new Date(this.expireTime), ...(error ? { error } : {}) };
    this.emit("done", done);
    this.options.onDone?.(done);
    this.resolveDone(done);
  }
}
