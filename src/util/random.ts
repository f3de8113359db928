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

/** The last id's millisecond and counter: ids made in the same millisecond count up from a random start. */
let lastMs = Number.NEGATIVE_INFINITY;
let counter = 0;

/**
 * A UUIDv7: the time in milliseconds, a 31-bit counter that starts at random
 * each millisecond, then random bits. Ids sort in the order they were made,
 * within a millisecond too (oldest intents are swept first), and new leases
 * and intents land together in an index. The counter is what uuid keeps when
 * it draws its own random bytes; handed ours, it leaves the counting to us.
 */
export function timeOrderedId(): string {
  const random = pooledRandomBytes(16);
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = random.readUInt32BE(6) & 0x7fffffff;
  } else if (counter === 0x7fffffff) {
    // The counter ran out within one millisecond: borrow the next one, as uuid does.
    lastMs++;
    counter = 0;
  } else {
    counter++;
  }
  return v7({ random, msecs: lastMs, seq: counter });
}
