// When the agent does what with a lease, as pure functions of the lease's
// times (milliseconds since the epoch), so the rules can be read and tested
// in one place:
//
//   - Callers are told credentials expire a margin before the lease can end
//     (its current end, or its max TTL), never later than `credentialTtlMs`
//     from now, and never later than a margin after the lease is due to be
//     replaced: every AWS SDK comes back before the `Expiration` it was
//     given (botocore 15 minutes before, the JS and Java SDKs 5, Go at it),
//     so a key is never used past its lease, and callers move to the next
//     lease soon after it is served.
//   - A renewable lease is renewed at two thirds of the time it has left
//     (as Vault's LifetimeWatcher does), but only while some caller still
//     holds credentials from it.
//   - Halfway through its life (issue time to max TTL) a lease in use is
//     replaced: the next one is issued and served, and the old one is
//     revoked once every `Expiration` handed out for it has passed, plus the
//     margin for requests signed just before. Both keys work in between.
//     Half the life is left for the next issuance to succeed through a
//     Lessor restart or an AWS hiccup, and for the overlap.
//   - A lease nobody holds when it would be renewed or replaced is revoked.

/** Longest margin kept before a lease's end. */
export const MAX_MARGIN_MS = 5 * 60_000;
/** Share of a lease's duration kept as the margin when that is shorter. */
export const MARGIN_FRACTION = 0.1;
/** Credentials with less time than this left are not handed out. */
export const MIN_SERVE_MS = 1_000;
/** Renew after this share of the time left, replace after this share of the life. */
export const RENEW_FRACTION = 2 / 3;
export const ROTATE_FRACTION = 1 / 2;

export interface LeaseTimes {
  /** When the lease was issued. */
  issuedAt: number;
  /** When the agent got it or last renewed it. */
  updatedAt: number;
  /** When it ends unless renewed. */
  expireAt: number;
  /** When it ends for good: its issue time plus its max TTL (`expireAt` when that is unknown). */
  maxExpireAt: number;
  renewable: boolean;
}

/** What is kept between the end handed out and the lease's end: a tenth of its duration, at most five minutes. */
export function marginMs(lease: LeaseTimes): number {
  return Math.min(MAX_MARGIN_MS, MARGIN_FRACTION * Math.max(0, lease.expireAt - lease.updatedAt));
}

/** The latest `Expiration` that may be handed out for the lease as it stands. */
export function usableUntil(lease: LeaseTimes): number {
  return Math.min(lease.expireAt, lease.maxExpireAt) - marginMs(lease);
}

/** Whether the lease's credentials may still be handed out at `now`. */
export function servable(lease: LeaseTimes, now: number): boolean {
  return usableUntil(lease) - now >= MIN_SERVE_MS;
}

/** The `Expiration` to hand out at `now`. */
export function reportedExpiration(lease: LeaseTimes, now: number, credentialTtlMs: number): number {
  const handover = Math.max(rotateAt(lease), now) + marginMs(lease);
  return Math.min(now + credentialTtlMs, usableUntil(lease), handover);
}

/** When to renew; undefined when renewing cannot extend the lease (not renewable, or at its max TTL). */
export function renewAt(lease: LeaseTimes): number | undefined {
  if (!lease.renewable || lease.expireAt >= lease.maxExpireAt) return undefined;
  return lease.updatedAt + RENEW_FRACTION * (lease.expireAt - lease.updatedAt);
}

/**
 * When to issue the next lease: halfway through this one's life, which ends
 * at its max TTL if it can be renewed, else at its current end.
 */
export function rotateAt(lease: LeaseTimes): number {
  const end = lease.renewable ? lease.maxExpireAt : Math.min(lease.expireAt, lease.maxExpireAt);
  return lease.issuedAt + ROTATE_FRACTION * (end - lease.issuedAt);
}

/**
 * When a replaced lease may be revoked: once the last `Expiration` handed out
 * for it (`handedOutUntil`) and the switch to its successor are a margin in
 * the past; never after the lease would end anyway.
 */
export function retireAt(lease: LeaseTimes, handedOutUntil: number, replacedAt: number): number {
  return Math.min(Math.max(handedOutUntil, replacedAt) + marginMs(lease), Math.min(lease.expireAt, lease.maxExpireAt));
}

/** Whether some caller may still be using credentials handed out until `handedOutUntil`. */
export function inUse(lease: LeaseTimes, handedOutUntil: number, now: number): boolean {
  return now < handedOutUntil + marginMs(lease);
}

/** Backoff before the next attempt after `failures` failures in a row: 0.5 s doubling, at most `capMs`, ±20 % jitter. */
export function backoffMs(failures: number, capMs = 15_000, random: () => number = Math.random): number {
  const base = Math.min(capMs, 500 * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
