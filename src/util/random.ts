// Random bytes for values that must be unpredictable but are not secret (GCM
// IVs, lease and intent ids), drawn from the CSPRNG in bulk: one system call
// per 4 KiB instead of one per value. Per value, Web Crypto's
// getRandomValues (what uuid calls for every id) and randomFillSync showed in
// profiles of lease issuance. Never for keys or tokens: those come from
// randomBytes directly.
import { randomFillSync } from "node:crypto";
import { v7 } from "uuid";

const pool = Buffer.alloc(4096);
let offset = pool.length;

/** `n` (at most 4096) fresh random bytes; never handed out twice. */
export function pooledRandomBytes(n: number): Buffer {
  if (n > pool.length) throw new RangeError(`at most ${pool.length} pooled random bytes at once`);
  if (offset + n > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return bytes;
}

/**
 * A UUIDv7: the time in milliseconds, then 74 random bits. Ids made in
 * order land together in an index (new leases and intents share pages).
 */
export function timeOrderedId(): string {
  return v7({ random: pooledRandomBytes(16) });
}
