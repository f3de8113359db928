// When a failed revocation is tried again.

export interface RetryPolicy {
  /** First retry delay. */
  baseMs: number;
  /** Longest delay between two attempts. */
  capMs: number;
  /** Failed attempts after which the lease is marked irrevocable. */
  maxAttempts: number;
}

/**
 * Defaults keep retrying for about 40 minutes before giving up, so an AWS
 * outage of many minutes does not strand leases as irrevocable.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 1_000, capMs: 5 * 60_000, maxAttempts: 15 };

/** Delay before attempt `attempts + 1`: capped exponential, with jitter in [50%, 100%]. */
export function retryDelayMs(policy: RetryPolicy, attempts: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempts, 30));
  return Math.round(exp / 2 + (exp / 2) * random());
}
