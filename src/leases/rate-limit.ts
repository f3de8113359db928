// Revocations per second, per engine mount: a token bucket for each mount, so
// a mass expiry does not run into the owning system's throttling (AWS IAM
// throttles mutating calls per account). Memory grows with the number of
// mounts, never with the number of leases.

export interface RevokeRateOptions {
  /** Revocations per second per mount; 0 or less: unlimited. */
  perSecond: number;
  /** Revocations a mount may start at once after a quiet period. */
  burst: number;
}

/**
 * Default: 10 revocations/s per mount, bursts of 20. Revoking an IAM user is 3
 * mutating IAM calls (DeleteAccessKey, DeleteUserPolicy, DeleteUser), so this is
 * 30 calls/s: below the rate at which IAM is commonly seen to throttle an
 * account's mutating calls (AWS does not publish a number, and the account's
 * other users of IAM share it), yet 36,000 revocations an hour. Throttling
 * that happens anyway is retried with backoff.
 */
export const DEFAULT_REVOKE_RATE: RevokeRateOptions = { perSecond: 10, burst: 20 };

class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updated = now;
  }

  private refill(now: number): void {
    if (now > this.updated) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) / 1000) * this.perSecond);
      this.updated = now;
    }
  }

  /** Milliseconds until a token is free (0: now). */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  /** Takes a token, going into debt if there is none: the caller waits the returned ms. */
  take(now: number): number {
    const wait = this.waitMs(now);
    this.tokens -= 1;
    return wait;
  }
}

export class MountRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly options: RevokeRateOptions;

  constructor(
    options: Partial<RevokeRateOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_REVOKE_RATE, ...options };
    if (!(this.options.burst >= 1)) this.options.burst = 1;
  }

  get unlimited(): boolean {
    return !(this.options.perSecond > 0);
  }

  private bucket(mount: string): TokenBucket {
    let b = this.buckets.get(mount);
    if (!b) {
      b = new TokenBucket(this.options.perSecond, this.options.burst, this.now());
      this.buckets.set(mount, b);
    }
    return b;
  }

  /** Milliseconds until `mount` may start a revocation (0: now). */
  waitMs(mount: string): number {
    return this.unlimited ? 0 : this.bucket(mount).waitMs(this.now());
  }

  /** Waits for a token of `mount`'s bucket (callers queue in order of arrival). */
  async acquire(mount: string): Promise<void> {
    if (this.unlimited) return;
    const wait = this.bucket(mount).take(this.now());
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /** Forgets a removed mount's bucket. */
  forget(mount: string): void {
    this.buckets.delete(mount);
  }
}
