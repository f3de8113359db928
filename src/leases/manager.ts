// The lease manager: records leases for issued secrets, revokes them (on
// request, on expiry, with retries), and rolls back issuance that never
// became a lease. Every change of state is committed before the external
// call it leads to, so a crash at any point loses nothing and the next start
// picks up where this one stopped.
import type { Logger } from "pino";
import { LessorError, describeError, isLessorError } from "../errors.js";
import type { IssuedSecret, SecretLease } from "../engines/framework/types.js";
import type { MountedEngine, MountTable } from "../mounts/table.js";
import { leaseTtls, systemView } from "../mounts/system-view.js";
import type { IntentRecord, JsonObject, LeaseRecord, RevokeReason, Store } from "../store/types.js";
import { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from "./retry.js";
import { MountRateLimiter, type RevokeRateOptions } from "./rate-limit.js";
import { timeOrderedId } from "../util/random.js";

/** Intents read and rolled back at a time. */
const ROLLBACK_BATCH = 100;

export interface LeaseGrant {
  id: string;
  durationSeconds: number;
  renewable: boolean;
}

export interface RevokeOutcome {
  leaseId: string;
  /** False when the lease was already revoked. */
  revokedNow: boolean;
  /** True when the revocation was queued for the scheduler rather than done. */
  queued?: boolean;
}

/**
 * How a revocation takes its lease: "request" (someone asked: any live lease,
 * irrevocable ones included) or "due" (the scheduler: only while still due).
 */
export type RevokeClaim = "request" | "due";

/** What a forced revocation leaves behind, said to the caller and kept on the lease. */
export const FORCE_REVOKE_NOTE =
  "revoked with force: the lease was dropped without revoking its secret; the secret, if it still exists, was NOT destroyed";

export interface RenewOutcome {
  lease: LeaseRecord;
  /** Seconds the lease now has left. */
  durationSeconds: number;
  /** True when the max TTL cut the requested increment short. */
  clamped: boolean;
}

/** Told what the lease manager did and how long it took (for metrics). Times in seconds. */
export interface LeaseObserver {
  issued(engine: string, secretType: string, seconds: number): void;
  /** Issuance undone: the request failed mid-way, or its process died. */
  rolledBack(engine: string): void;
  revoked(engine: string, reason: RevokeReason, seconds: number): void;
  revokeFailed(engine: string, irrevocable: boolean): void;
}

const NO_OBSERVER: LeaseObserver = { issued() {}, rolledBack() {}, revoked() {}, revokeFailed() {} };

export interface LeaseManagerOptions {
  retry?: RetryPolicy;
  /** An intent older than this is presumed abandoned and rolled back. */
  intentTimeoutMs?: number;
  now?: () => number;
  /** Revocations per second per mount (token bucket). */
  revokeRate?: Partial<RevokeRateOptions>;
  observer?: LeaseObserver;
  /**
   * Longest one revocation attempt may take (default DEFAULT_REVOKE_TIMEOUT_MS);
   * past it the attempt fails and is retried with backoff. On a store shared
   * by replicas, never longer than most of the revocation claim.
   */
  revokeTimeoutMs?: number;
}

/** A revocation is a few external calls, each with its own timeout: a minute is far beyond any that works. */
export const DEFAULT_REVOKE_TIMEOUT_MS = 60_000;

/**
 * The deadline of a revocation attempt: the configured one, but on a shared
 * store well inside the claim that reserves the lease to this replica, so no
 * other replica takes the lease up while this attempt may still run.
 */
export function revokeAttemptTimeoutMs(configured: number, claimTimeoutMs: number | undefined): number {
  return claimTimeoutMs === undefined ? configured : Math.min(configured, Math.floor(claimTimeoutMs * 0.8));
}

export class LeaseManager {
  private readonly retry: RetryPolicy;
  readonly intentTimeoutMs: number;
  private readonly now: () => number;
  /** Revocations under way in this process, so two callers share one. */
  private readonly inFlight = new Map<string, Promise<RevokeOutcome>>();
  private readonly limiter: MountRateLimiter;
  /** Told when a lease becomes due (issued, queued), to wake the scheduler. */
  private dueListener: ((dueAt: number) => void) | undefined;
  private readonly observer: LeaseObserver;
  /** See LeaseManagerOptions.revokeTimeoutMs. */
  readonly revokeTimeoutMs: number;
  /** Failed rollbacks waiting for their next try, by intent id. */
  private readonly rollbackRetries = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly mounts: MountTable,
    private readonly logger: Logger,
    options: LeaseManagerOptions = {},
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.intentTimeoutMs = options.intentTimeoutMs ?? 120_000;
    this.now = options.now ?? Date.now;
    this.limiter = new MountRateLimiter(options.revokeRate, this.now);
    this.observer = options.observer ?? NO_OBSERVER;
    this.revokeTimeoutMs = revokeAttemptTimeoutMs(options.revokeTimeoutMs ?? DEFAULT_REVOKE_TIMEOUT_MS, store.cluster?.revokeClaimTimeoutMs);
  }

  /** Durably notes that external work for lease `leaseId` is about to start. */
  async recordIntent(mountAccessor: string, leaseId: string, secretType: string, data: JsonObject): Promise<string> {
    const id = timeOrderedId();
    await this.store.intents.insert({ id, leaseId, mountAccessor, secretType, data, createdAt: this.now() });
    return id;
  }

  /** Records the lease for an issued secret, ending its intent in the same transaction. */
  async register(
    mountAccessor: string,
    leaseId: string,
    secret: IssuedSecret,
    intentId: string | null,
    tokenAccessor: string,
    /** When the request began issuing the secret (for the issuance time). */
    startedAt: number,
  ): Promise<LeaseGrant> {
    const mounted = await this.mounted(mountAccessor);
    if (!mounted) throw LessorError.notFound("the mount went away while the secret was issued", "MOUNT_GONE");
    const { ttlSeconds, maxTtlSeconds } = leaseTtls(systemView(mounted.mount), secret.ttlSeconds, secret.maxTtlSeconds);
    const now = this.now();
    const recorded = await this.store.leases.insertFromIntent(
      {
        id: leaseId,
        mountAccessor,
        secretType: secret.type,
        internal: secret.internal,
        issueTime: now,
        expireTime: now + ttlSeconds * 1000,
        maxExpireTime: now + maxTtlSeconds * 1000,
        ttlSeconds,
        renewable: secret.renewable,
        tokenAccessor,
      },
      intentId,
    );
    if (!recorded) {
      throw LessorError.unavailable(
        "issuing the secret took too long and it was rolled back; try again",
        "ISSUANCE_ROLLED_BACK",
      );
    }
    this.dueListener?.(now + ttlSeconds * 1000);
    this.observer.issued(mounted.mount.type, secret.type, (this.now() - startedAt) / 1000);
    return { id: leaseId, durationSeconds: ttlSeconds, renewable: secret.renewable };
  }

  /**
   * Undoes one intent now (the request that made it failed). When that fails
   * too (AWS still unreachable), it is tried again on the revocation backoff
   * (`attempt` counts the failures so far); after `retry.maxAttempts` the
   * periodic sweep of abandoned intents keeps trying.
   */
  async rollbackIntent(intent: IntentRecord, attempt = 0): Promise<void> {
    const now = this.now();
    if (!(await this.store.intents.claim(intent.id, now, now - this.intentTimeoutMs))) return;
    const mounted = await this.mounted(intent.mountAccessor);
    try {
      await mounted?.engine.rollback?.({
        leaseId: intent.leaseId,
        secretType: intent.secretType,
        data: intent.data,
        createdAt: intent.createdAt,
      });
      await this.store.intents.delete(intent.id);
      this.observer.rolledBack(mounted?.mount.type ?? "unknown");
    } catch (err) {
      await this.store.intents.release(intent.id);
      const retryInMs = this.retryRollback(intent, attempt + 1);
      this.logger.warn(
        { lease_id: intent.leaseId, err: describeError(err), retry_in_ms: retryInMs },
        "rollback of an unfinished issuance failed; will retry",
      );
    }
  }

  /** Schedules the next try of a failed rollback; returns its delay, or undefined when left to the sweep. */
  private retryRollback(intent: IntentRecord, failures: number): number | undefined {
    if (this.closed || failures >= this.retry.maxAttempts || this.rollbackRetries.has(intent.id)) return undefined;
    const delay = retryDelayMs(this.retry, failures - 1);
    const timer = setTimeout(() => {
      this.rollbackRetries.delete(intent.id);
      this.rollbackIntent(intent, failures).catch((err: unknown) =>
        this.logger.error({ lease_id: intent.leaseId, err: describeError(err) }, "retrying a rollback failed"),
      );
    }, delay);
    timer.unref();
    this.rollbackRetries.set(intent.id, timer);
    return delay;
  }

  /** Stops the rollback retries still waiting (the server is stopping; the next start or the sweep takes over). */
  close(): void {
    this.closed = true;
    for (const timer of this.rollbackRetries.values()) clearTimeout(timer);
    this.rollbackRetries.clear();
  }

  /**
   * Rolls back intents older than `olderThanMs` (0 at start-up, when every
   * intent belongs to a process that died). Returns how many were undone.
   */
  async rollbackAbandoned(olderThanMs: number): Promise<number> {
    return this.rollbackBatches(() => this.store.intents.olderThan(this.now() - olderThanMs, ROLLBACK_BATCH));
  }

  /**
   * Rolls back the intents of replicas that died mid-issuance (a store shared
   * by replicas knows which processes are gone); returns how many.
   */
  async rollbackOrphaned(): Promise<number> {
    const cluster = this.store.cluster;
    return cluster ? this.rollbackBatches(() => cluster.orphanedIntents(ROLLBACK_BATCH)) : 0;
  }

  /** Rolls back batch after batch of intents until a short batch; returns how many. */
  private async rollbackBatches(next: () => Promise<IntentRecord[]>): Promise<number> {
    let done = 0;
    for (;;) {
      const batch = await next();
      for (const intent of batch) await this.rollbackIntent(intent);
      done += batch.length;
      if (batch.length < ROLLBACK_BATCH) return done;
    }
  }

  private mounted(accessor: string): Promise<MountedEngine | undefined> {
    return this.mounts.fresh(() => this.mounts.byMountAccessor(accessor));
  }

  async lookup(id: string): Promise<LeaseRecord> {
    const lease = await this.store.leases.get(id);
    if (!lease) throw this.notFound(id);
    return lease;
  }

  /**
   * Extends a lease by `incrementSeconds` from now (0: by the TTL it was
   * issued with, as Vault does), never past its issue time plus max TTL; the
   * engine is told when it needs to be.
   */
  async renew(id: string, incrementSeconds: number): Promise<RenewOutcome> {
    const lease = await this.lookup(id);
    if (lease.state !== "active") {
      throw LessorError.failedPrecondition(`lease ${id} is ${lease.state}; only an active lease can be renewed`, "LEASE_NOT_ACTIVE", {
        lease_id: id,
        state: lease.state,
      });
    }
    if (!lease.renewable) {
      throw LessorError.failedPrecondition(`lease ${id} is not renewable`, "LEASE_NOT_RENEWABLE", { lease_id: id });
    }
    const now = this.now();
    // Leases recorded before their TTL was kept: the length of their last extension.
    const ownDuration = lease.ttlSeconds ?? Math.round((lease.expireTime - (lease.lastRenewalTime ?? lease.issueTime)) / 1000);
    let ttlSeconds = incrementSeconds > 0 ? incrementSeconds : ownDuration;
    const secretType = (await this.mounted(lease.mountAccessor))?.engine.secrets[lease.secretType];
    if (secretType?.renew) {
      const result = await secretType.renew(secretLease(lease), ttlSeconds);
      if (result.ttlSeconds !== undefined) ttlSeconds = result.ttlSeconds;
    }
    let expireTime = now + ttlSeconds * 1000;
    const clamped = expireTime > lease.maxExpireTime;
    if (clamped) expireTime = Math.max(lease.maxExpireTime, lease.expireTime);
    await this.store.leases.renew(id, expireTime, now);
    return {
      lease: { ...lease, expireTime, lastRenewalTime: now },
      durationSeconds: Math.max(0, Math.floor((expireTime - now) / 1000)),
      clamped,
    };
  }

  /** Revokes a lease now, waiting for the external revocation. */
  async revoke(id: string): Promise<RevokeOutcome> {
    const lease = await this.store.leases.get(id);
    if (!lease) throw this.notFound(id);
    return this.revokeRecord(lease, "revoked");
  }

  /** Revokes a known lease record (request, expiry or retry); one at a time per lease. */
  revokeRecord(lease: LeaseRecord, reason?: RevokeReason, claim: RevokeClaim = "request"): Promise<RevokeOutcome> {
    if (lease.state === "revoked") return Promise.resolve({ leaseId: lease.id, revokedNow: false });
    const running = this.inFlight.get(lease.id);
    if (running) return running;
    const work = this.doRevoke(lease, reason, claim).finally(() => this.inFlight.delete(lease.id));
    this.inFlight.set(lease.id, work);
    return work;
  }

  private async doRevoke(lease: LeaseRecord, reason: RevokeReason | undefined, claim: RevokeClaim): Promise<RevokeOutcome> {
    await this.limiter.acquire(lease.mountAccessor);
    const now = this.now();
    // Committed first: if the process dies during the external call, the
    // scheduler retries this lease at that time.
    const attemptsBefore = await this.store.leases.claimRevocation(
      lease.id,
      now,
      now + retryDelayMs(this.retry, lease.attempts),
      claim === "due",
    );
    if (attemptsBefore === null) return { leaseId: lease.id, revokedNow: false };
    const mounted = await this.mounted(lease.mountAccessor);
    const secretType = mounted?.engine.secrets[lease.secretType];
    try {
      if (!mounted || !secretType) {
        throw LessorError.failedPrecondition(
          `no engine can revoke this lease (mount ${lease.mountAccessor}, secret type ${lease.secretType}); revoke it with -force once its secret is gone`,
          "REVOKER_MISSING",
        );
      }
      await this.withDeadline((signal) => secretType.revoke(secretLease(lease), signal));
    } catch (err) {
      const attempts = attemptsBefore + 1;
      const irrevocable = attempts >= this.retry.maxAttempts;
      this.observer.revokeFailed(mounted?.mount.type ?? "unknown", irrevocable);
      const message = isLessorError(err) ? err.message : "internal error during revocation";
      // Never sooner than the owning system asked (throttling says when).
      const delay = Math.max(retryDelayMs(this.retry, attempts), isLessorError(err) ? (err.retryDelayMs ?? 0) : 0);
      await this.store.leases.recordRevokeFailure(lease.id, message, irrevocable ? null : this.now() + delay, irrevocable);
      this.logger.warn({ lease_id: lease.id, attempts, irrevocable, err: describeError(err) }, "lease revocation failed");
      throw err;
    }
    const now2 = this.now();
    const outcome = reason ?? (lease.expireTime <= now2 ? "expired" : "revoked");
    await this.store.leases.markRevoked(lease.id, now2, outcome);
    this.observer.revoked(mounted.mount.type, outcome, (this.now() - now) / 1000);
    // Debug, as Vault logs it by default: at info, a mass expiry wrote a line per
    // lease, and the lease's event already records the revocation.
    this.logger.debug({ lease_id: lease.id }, "lease revoked");
    return { leaseId: lease.id, revokedNow: true };
  }

  /**
   * Runs one revocation attempt within revokeTimeoutMs: the engine is told
   * through the signal to end its external calls, and the attempt fails at
   * the deadline even if the engine does not listen.
   */
  private async withDeadline(attempt: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const controller = new AbortController();
    const seconds = Math.round(this.revokeTimeoutMs / 100) / 10;
    const expired = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () =>
        reject(LessorError.unavailable(`the revocation attempt took longer than ${seconds}s and was abandoned; it will be retried`, "REVOKE_TIMEOUT")),
      );
    });
    const timer = setTimeout(() => controller.abort(), this.revokeTimeoutMs);
    try {
      await Promise.race([attempt(controller.signal), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Revokes every live lease of a mount (before the mount is removed). */
  async revokeMount(mountAccessor: string, mountPath: string): Promise<number> {
    let revoked = 0;
    let after: string | null = null;
    for (;;) {
      const page = await this.store.leases.page(mountPath, after, 200);
      for (const lease of page.leases) {
        if (lease.mountAccessor !== mountAccessor || lease.state === "revoked") continue;
        await this.revokeRecord(lease);
        revoked++;
      }
      if (page.next === null) return revoked;
      after = page.next;
    }
  }

  /** Queues a revocation for the scheduler and returns at once. */
  async enqueueRevoke(id: string): Promise<RevokeOutcome> {
    const lease = await this.store.leases.get(id);
    if (!lease) throw this.notFound(id);
    const now = this.now();
    if (lease.state === "revoked" || !(await this.store.leases.enqueueRevocation(id, now))) {
      return { leaseId: id, revokedNow: false, queued: false };
    }
    this.dueListener?.(now);
    return { leaseId: id, revokedNow: false, queued: true };
  }

  /** Drops a lease without revoking its secret (for a secret already destroyed by hand). */
  async forceRevoke(id: string): Promise<RevokeOutcome> {
    const lease = await this.store.leases.get(id);
    if (!lease) throw this.notFound(id);
    const revokedNow = await this.store.leases.forceRevoke(id, this.now(), FORCE_REVOKE_NOTE);
    if (revokedNow) this.logger.warn({ lease_id: id }, "lease revoked with force: its secret was not revoked");
    return { leaseId: id, revokedNow };
  }

  /** Wakes `listener` (the scheduler) when a lease becomes due at a time. */
  onDue(listener: (dueAt: number) => void): void {
    this.dueListener = listener;
  }

  /** Wakes the scheduler by `dueAt` (leases were queued for it). */
  wakeScheduler(dueAt: number): void {
    this.dueListener?.(dueAt);
  }

  /** Milliseconds until a revocation on `mountAccessor` may start (the per-mount rate limit). */
  revokeWaitMs(mountAccessor: string): number {
    return this.limiter.waitMs(mountAccessor);
  }

  private notFound(id: string): LessorError {
    return LessorError.notFound(`lease not found: ${id}`, "LEASE_NOT_FOUND", { lease_id: id });
  }

  /**
   * The one live lease whose id starts with `id` (a truncated paste), with the
   * token that made it; undefined when there is none or more than one. Who
   * may be told about it is for the caller of this to decide.
   */
  async completion(id: string): Promise<{ id: string; tokenAccessor: string | null } | undefined> {
    if (id.length < 8) return undefined;
    const candidates = await this.store.leases.idsWithPrefix(id, ["active", "revoking", "irrevocable"], 2);
    if (candidates.length !== 1) return undefined;
    const lease = await this.store.leases.get(candidates[0] as string);
    return lease ? { id: lease.id, tokenAccessor: lease.tokenAccessor } : undefined;
  }

  /**
   * Revokes every live lease a token created (the token is being revoked).
   * A lease whose revocation fails stays in "revoking" and the scheduler
   * retries it; it still counts, as nothing may outlive the token's intent.
   */
  async revokeByToken(accessor: string): Promise<number> {
    let revoked = 0;
    let after: string | null = null;
    for (;;) {
      const ids = await this.store.tokenTree.leaseIds(accessor, after, 100);
      if (ids.length === 0) return revoked;
      for (const id of ids) {
        const lease = await this.store.leases.get(id);
        if (!lease || lease.state === "revoked") continue;
        try {
          await this.revokeRecord(lease, "revoked");
        } catch (err) {
          this.logger.warn({ lease_id: id, err: describeError(err) }, "revoking a lease of a revoked token failed; it will be retried");
        }
        revoked++;
      }
      after = ids[ids.length - 1] as string;
    }
  }
}

/** The narrow view of a lease a backend's revoke and renew get. */
function secretLease(lease: LeaseRecord): SecretLease {
  return { id: lease.id, internal: lease.internal, issueTime: lease.issueTime, expireTime: lease.expireTime, maxExpireTime: lease.maxExpireTime };
}
