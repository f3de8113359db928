// One lease to store, as the store tests write it: fixed times, so the
// stores compare the times they are given, never their own clock.
import type { NewLease } from "../../src/store/types.js";

/** The fixed clock of the store tests. */
export const T = 1_800_000_000_000;
export const MINUTE = 60_000;

/** A 10-minute, renewable aws lease issued at T (fields override). */
export function newLease(id: string, fields: Partial<NewLease> = {}): NewLease {
  return {
    id,
    mountAccessor: "aws_1",
    secretType: "access_keys",
    internal: { username: `user-${id}` },
    issueTime: T,
    expireTime: T + 10 * MINUTE,
    maxExpireTime: T + 60 * MINUTE,
    ttlSeconds: 600,
    renewable: true,
    tokenAccessor: null,
    ...fields,
  };
}
