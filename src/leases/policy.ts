// Lease timing rules, in one place.

/** Lease duration when neither the engine nor the mount sets one (32 days). */
export const DEFAULT_LEASE_TTL_SECONDS = 768 * 3600;
/** Upper bound on any lease when the mount sets none. */
export const SYSTEM_MAX_LEASE_TTL_SECONDS = 768 * 3600;

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

/** TTL and max TTL for a new lease, from what the engine asked and the mount allows. */
export function leaseTimes(
  requestedTtl: number | undefined,
  requestedMax: number | undefined,
  mountDefaultTtl: number,
  mountMaxTtl: number,
): { ttlSeconds: number; maxTtlSeconds: number } {
  const mountMax = mountMaxTtl > 0 ? mountMaxTtl : SYSTEM_MAX_LEASE_TTL_SECONDS;
  const maxTtlSeconds = Math.min(requestedMax !== undefined && requestedMax > 0 ? requestedMax : mountMax, mountMax);
  const wanted = requestedTtl !== undefined && requestedTtl > 0 ? requestedTtl : mountDefaultTtl > 0 ? mountDefaultTtl : DEFAULT_LEASE_TTL_SECONDS;
  return { ttlSeconds: Math.min(wanted, maxTtlSeconds), maxTtlSeconds };
}
