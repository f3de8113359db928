// One Lessor role as the agent serves it: the lease whose credentials every
// caller gets (issued on first use), the next one while it is being issued
// and checked, and the replaced ones until their revocation. When things
// happen is decided in timing.ts; this class does them, on one timer, and
// never lets a failure escape: a failed renewal or issuance is retried with
// backoff while the credentials held are still good, so a Lessor restart or
// a short outage goes unnoticed by the callers.
import type { Logger } from "pino";
import { Code, LessorClientError } from "@lessor/client";
import { AgentError, agentErrorFrom, isTransient } from "./errors.js";
import type { AgentMetrics } from "./metrics.js";
import type { LessorSession } from "./session.js";
import {
  backoffMs,
  inUse,
  MIN_SERVE_MS,
  renewAt,
  reportedExpiration,
  retireAt,
  rotateAt,
  servable,
  usableUntil,
} from "./timing.js";
import { issueLease, timesFromInfo, type IssuedLease } from "./issue.js";
import type { AwsKey } from "./verify.js";

/** Longest wait between two looks at a role's leases, whatever is due. */
const MAX_TICK_MS = 60 * 60_000;
/** Shortest: what is due "now" while something is under way waits for it, not in a busy loop. */
const MIN_TICK_MS = 25;

type RetireReason = "replaced" | "unusable" | "idle" | "refused";

export interface RoleLeaseOptions {
  role: string;
  /** Where the aws engine is mounted ("aws"). */
  mount: string;
  session: LessorSession;
  /** Longest `Expiration` handed out, from now. */
  credentialTtlMs: number;
  /** Wait until AWS accepts a new IAM user's key before serving it (0: do not check). */
  verifyTimeoutMs: number;
  logger: Logger;
  metrics: AgentMetrics;
}

export interface ServedCredentials {
  key: AwsKey;
  /** The AWS account, when the agent's own check learnt it. */
  accountId: string | undefined;
  /** The `Expiration` given to the caller (ms since the epoch). */
  expiration: number;
}

interface Held extends IssuedLease {
  /** The latest `Expiration` handed out for it. */
  handedOutUntil: number;
  /** Set when a successor took over (or it was dropped): it is being retired. */
  replacedAt: number | undefined;
  retireReason: RetireReason | undefined;
  revoking: boolean;
  revokeFailures: number;
  /** Earliest next revocation attempt after a failure. */
  revokeRetryAt: number;
}

export class RoleLease {
  private current: Held | undefined;
  /** The issuance under way (first use, or the next lease). */
  private issuing: Promise<Held> | undefined;
  private readonly retiring = new Set<Held>();
  private issueFailures = 0;
  private nextIssueAt = 0;
  private lastIssueError: AgentError | undefined;
  private renewing = false;
  private renewFailures = 0;
  private nextRenewAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private warnedUnverified = false;
  private readonly abort = new AbortController();
  private readonly what: string;

  constructor(private readonly options: RoleLeaseOptions) {
    this.what = `${options.mount}/creds/${options.role}`;
  }

  get role(): string {
    return this.options.role;
  }

  /** Credentials for a caller, issuing the first lease if needed (waiting at most until `deadline`). */
  async credentials(deadline: number): Promise<ServedCredentials> {
    if (this.stopped) throw new AgentError(503, "AgentStopping", "the agent is shutting down");
    let held = this.current;
    if (held && !servable(held.times, Date.now())) {
      this.retire(held, "unusable");
      this.tick();
      held = undefined;
    }
    if (!held) {
      if (!this.issuing && this.lastIssueError && Date.now() < this.nextIssueAt) throw this.lastIssueError;
      held = await withDeadline(this.startIssue(), deadline, () => new AgentError(503, "IssuanceInProgress", `${this.what}: the lease is still being issued; ask again`));
    }
    const now = Date.now();
    const expiration = reportedExpiration(held.times, now, this.options.credentialTtlMs);
    held.handedOutUntil = Math.max(held.handedOutUntil, expiration);
    this.tick();
    return { key: held.key, accountId: held.accountId, expiration };
  }

  /** For health and metrics: leases held, and how long the served credentials may still be handed out. */
  status(): { leases: number; secondsLeft: number; lastError: string | undefined } {
    const held = this.current;
    const left = held ? Math.max(0, (usableUntil(held.times) - Date.now()) / 1000) : 0;
    return {
      leases: (held ? 1 : 0) + this.retiring.size + (this.issuing ? 1 : 0),
      secondsLeft: Math.floor(left),
      lastError: this.lastIssueError?.message,
    };
  }

  /**
   * Stops: waits for an issuance under way, then revokes every lease held
   * (unless `revoke` is false: they run out on their own), each attempt
   * bounded by the client's deadline.
   */
  async stop(revoke: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.issuing?.catch(() => undefined);
    const held = [...this.retiring, ...(this.current ? [this.current] : [])];
    this.current = undefined;
    this.retiring.clear();
    if (!revoke) return;
    await Promise.all(
      held.map(async (h) => {
        try {
          await this.options.session.client().leases.revoke(h.id);
          this.options.metrics.leaseRevoked(this.role, "shutdown");
          this.options.logger.info({ role: this.role, lease_id: h.id }, "revoked the lease on shutdown");
        } catch (err) {
          this.lessorFailed("revoke", err);
          if (err instanceof LessorClientError && err.code === Code.NOT_FOUND) return;
          this.options.logger.error({ role: this.role, lease_id: h.id, err: describe(err) }, "revoking the lease on shutdown failed; it ends at its own expiry");
        }
      }),
    );
  }

  /** Looks at what is due now, starts it, and sets the timer for the next thing due. */
  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    const held = this.current;
    if (held) {
      const renewDue = renewAt(held.times);
      const rotateDue = rotateAt(held.times);
      const decision = (renewDue !== undefined && now >= renewDue) || now >= rotateDue;
      if (!servable(held.times, now) && !this.renewing) this.retire(held, "unusable");
      // Nobody holds its credentials any more: revoke it rather than keep it alive.
      else if (decision && !inUse(held.times, held.handedOutUntil, now) && !this.issuing) this.retire(held, "idle");
    }
    let next = now + MAX_TICK_MS;
    const later = (at: number): void => {
      if (at > now) next = Math.min(next, at);
    };
    for (const r of this.retiring) {
      if (r.revoking) continue;
      const due = Math.max(retireAt(r.times, r.handedOutUntil, r.replacedAt ?? now), r.revokeRetryAt);
      if (now >= due) void this.revoke(r);
      else later(due);
    }
    const current = this.current;
    if (current) {
      const rotateDue = rotateAt(current.times);
      if (now < rotateDue) later(rotateDue);
      else if (!this.issuing && now >= this.nextIssueAt) void this.startIssue().catch(() => undefined);
      else if (!this.issuing) later(this.nextIssueAt);
      // Renewing goes on while the next lease is awaited: if it cannot be had, this one lasts.
      const renewDue = renewAt(current.times);
      if (renewDue !== undefined && !this.renewing) {
        const due = Math.max(renewDue, this.nextRenewAt);
        if (now >= due) void this.renew(current);
        else later(due);
      }
      later(usableUntil(current.times) - MIN_SERVE_MS);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), Math.max(MIN_TICK_MS, next - now));
    this.timer.unref();
  }

  /** Moves a lease out of service; it is revoked once nobody can still be using it. */
  private retire(held: Held, why: RetireReason): void {
    if (this.current === held) this.current = undefined;
    held.replacedAt = Date.now();
    held.retireReason = why;
    this.retiring.add(held);
    this.options.logger.info({ role: this.role, lease_id: held.id, why }, "lease retired");
  }

  /** Issues a lease (one at a time); it is served as soon as it is ready. */
  private startIssue(): Promise<Held> {
    this.issuing ??= this.issueOne().then(
      (held) => {
        this.issuing = undefined;
        this.issueFailures = 0;
        this.lastIssueError = undefined;
        const previous = this.current;
        this.current = held;
        this.renewFailures = 0;
        this.nextRenewAt = 0;
        if (previous) this.retire(previous, "replaced");
        this.tick();
        return held;
      },
      (err: unknown) => {
        this.issuing = undefined;
        this.issueFailures++;
        const delay = backoffMs(this.issueFailures);
        this.nextIssueAt = Date.now() + delay;
        this.lastIssueError = agentErrorFrom(err, `reading ${this.what}`);
        this.options.logger.warn({ role: this.role, err: this.lastIssueError.message, retry_in_ms: delay }, "issuing a lease failed");
        this.tick();
        throw this.lastIssueError;
      },
    );
    return this.issuing;
  }

  private async issueOne(): Promise<Held> {
    const { session, mount, role } = this.options;
    let issued;
    try {
      issued = await issueLease(session.client(), role, mount, this.options.verifyTimeoutMs, this.abort.signal);
    } catch (err) {
      this.lessorFailed("read", err);
      throw err;
    }
    const held: Held = {
      ...issued,
      handedOutUntil: 0,
      replacedAt: undefined,
      retireReason: undefined,
      revoking: false,
      revokeFailures: 0,
      revokeRetryAt: 0,
    };
    this.options.metrics.leaseIssued(role);
    this.options.logger.info({ role, lease_id: held.id, ttl_seconds: Math.round((held.times.expireAt - held.times.issuedAt) / 1000) }, "lease issued");
    const verification = issued.verification;
    if (verification?.outcome === "unverified" && !this.warnedUnverified) {
      this.warnedUnverified = true;
      this.options.logger.warn({ role, err: verification.error }, "cannot ask STS whether AWS accepts the new key yet; serving it unchecked");
    }
    if (verification?.outcome === "refused") {
      this.retire(held, "refused");
      throw new AgentError(
        503,
        "KeyNotAccepted",
        `${this.what}: AWS did not accept the new key within ${Math.round(this.options.verifyTimeoutMs / 1000)}s (${verification.error})`,
      );
    }
    return held;
  }

  private async renew(held: Held): Promise<void> {
    this.renewing = true;
    try {
      const res = await this.options.session.client().leases.renew(held.id, 0);
      const now = Date.now();
      held.times = res.lease
        ? timesFromInfo({ ...res.lease, ttlSeconds: res.durationSeconds }, now, held.times.issuedAt)
        : { ...held.times, updatedAt: now, expireAt: now + res.durationSeconds * 1000 };
      if (res.clamped) held.times.maxExpireAt = held.times.expireAt;
      this.renewFailures = 0;
      this.options.metrics.leaseRenewed(this.role, true);
    } catch (err) {
      this.options.metrics.leaseRenewed(this.role, false);
      this.lessorFailed("renew", err);
      this.renewFailedWith(held, err);
    } finally {
      this.renewing = false;
      this.tick();
    }
  }

  private renewFailedWith(held: Held, err: unknown): void {
    const code = err instanceof LessorClientError ? err.code : undefined;
    if (code === Code.UNAUTHENTICATED) this.options.session.unauthenticated();
    if (isTransient(err) || code === Code.UNAUTHENTICATED) {
      this.renewFailures++;
      // Back off, but try a few more times before the lease runs out.
      const delay = Math.min(backoffMs(this.renewFailures), Math.max(MIN_TICK_MS, (held.times.expireAt - Date.now()) / 3));
      this.nextRenewAt = Date.now() + delay;
      this.options.logger.warn({ role: this.role, lease_id: held.id, err: describe(err), retry_in_ms: delay }, "renewing the lease failed; serving it while it lasts");
      return;
    }
    if (code === Code.PERMISSION_DENIED) {
      // Cannot be renewed by this token: it is replaced before its current end instead.
      held.times.renewable = false;
      this.options.logger.warn({ role: this.role, lease_id: held.id, err: describe(err) }, "the agent may not renew the lease; it will be replaced before it ends");
      return;
    }
    // Revoked, expired or unknown to Lessor: its key may be gone already.
    this.options.logger.warn({ role: this.role, lease_id: held.id, err: describe(err) }, "the lease is gone; issuing another at the next request");
    if (this.current === held) this.current = undefined;
  }

  private async revoke(held: Held): Promise<void> {
    held.revoking = true;
    try {
      await this.options.session.client().leases.revoke(held.id);
      this.retiring.delete(held);
      this.options.metrics.leaseRevoked(this.role, held.retireReason ?? "replaced");
      this.options.logger.info({ role: this.role, lease_id: held.id }, "revoked a retired lease");
    } catch (err) {
      this.lessorFailed("revoke", err);
      const code = err instanceof LessorClientError ? err.code : undefined;
      const ended = Date.now() >= Math.min(held.times.expireAt, held.times.maxExpireAt);
      if (code === Code.NOT_FOUND || ended) {
        this.retiring.delete(held);
      } else if (code === Code.PERMISSION_DENIED) {
        this.retiring.delete(held);
        this.options.logger.warn(
          { role: this.role, lease_id: held.id, err: describe(err) },
          `the agent may not revoke leases (it needs update on sys/leases/revoke/${this.what}/*); the old key lives until its lease ends`,
        );
      } else {
        held.revokeFailures++;
        held.revokeRetryAt = Date.now() + backoffMs(held.revokeFailures);
        this.options.logger.warn({ role: this.role, lease_id: held.id, err: describe(err) }, "revoking a retired lease failed; retrying");
      }
    } finally {
      held.revoking = false;
      this.tick();
    }
  }

  private lessorFailed(operation: string, err: unknown): void {
    this.options.metrics.lessorError(operation, err instanceof LessorClientError ? err.codeName : "UNKNOWN");
    // Refused, or the login the client made for the call failed: the agent has no token that works.
    if (err instanceof LessorClientError && (err.code === Code.UNAUTHENTICATED || err.method === "AuthService/Login")) this.options.session.unauthenticated();
  }
}

function describe(err: unknown): string {
  if (err instanceof LessorClientError) return `${err.codeName}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** `promise`, or `timeout()` thrown at `deadline` (the promise goes on). */
function withDeadline<T>(promise: Promise<T>, deadline: number, timeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeout()), Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
