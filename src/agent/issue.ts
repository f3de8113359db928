// Getting one lease of AWS credentials ready to hand out, as both the agent
// and `lessor aws credential-process` do: read `<mount>/creds/<role>`, learn
// the lease's max TTL, and (for an IAM user's key) wait until AWS accepts
// the key. Lease times are kept on this machine's clock, from the durations
// Lessor gives, so the two clocks need not agree.
import type { LeaseInfo, LessorClient } from "@lessor/client";
import type { LeaseTimes } from "./timing.js";
import { waitUntilAccepted, type AwsKey, type Verification } from "./verify.js";

export interface IssuedLease {
  id: string;
  key: AwsKey;
  times: LeaseTimes;
  /** The AWS account, when STS told it. */
  accountId: string | undefined;
  /** What STS said of the key; undefined when it was not asked (STS credentials, or checking off). */
  verification: Verification | undefined;
}

/**
 * A lease's times from a lookup or a renewal, placed on this machine's clock
 * at `now`: its end is `ttlSeconds` from now, and its issue, last renewal and
 * max TTL keep their distances to that end as Lessor recorded them.
 * `issuedAt` is used when Lessor gave no issue time.
 */
export function timesFromInfo(info: LeaseInfo, now: number, issuedAt: number): LeaseTimes {
  const expireAt = now + info.ttlSeconds * 1000;
  const serverExpire = info.expireTime?.getTime();
  const onOurClock = (server: Date | undefined): number | undefined =>
    server !== undefined && serverExpire !== undefined ? expireAt - (serverExpire - server.getTime()) : undefined;
  return {
    issuedAt: onOurClock(info.issueTime) ?? issuedAt,
    updatedAt: onOurClock(info.lastRenewalTime ?? info.issueTime) ?? now,
    expireAt,
    maxExpireAt: onOurClock(info.maxExpireTime) ?? expireAt,
    renewable: info.renewable,
  };
}

/**
 * The max TTL of a renewable lease, from a lookup. Undefined when the lookup
 * fails (the token may lack `sys/leases/lookup`): renewals tell it later.
 */
async function maxExpireAt(client: LessorClient, leaseId: string, expireAt: number): Promise<number | undefined> {
  try {
    const info = await client.leases.lookup(leaseId);
    const serverExpire = info.expireTime?.getTime();
    const serverMax = info.maxExpireTime?.getTime();
    return serverExpire !== undefined && serverMax !== undefined ? expireAt + (serverMax - serverExpire) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Issues a lease for `role`. With `verifyTimeoutMs` > 0, an IAM user's key
 * is checked with STS; the verification is returned for the caller to act on
 * (a key AWS still refuses should not be handed out).
 */
export async function issueLease(
  client: LessorClient,
  role: string,
  mount: string,
  verifyTimeoutMs: number,
  signal?: AbortSignal,
): Promise<IssuedLease> {
  const creds = await client.aws.creds(role, { mount });
  const got = Date.now();
  const expireAt = got + creds.lease.durationSeconds * 1000;
  // A renewable lease whose max TTL is unknown is treated as renewable without end until a renewal says otherwise.
  const max = creds.lease.renewable ? ((await maxExpireAt(client, creds.lease.id, expireAt)) ?? Number.POSITIVE_INFINITY) : expireAt;
  const key: AwsKey = {
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
  };
  const verification = key.sessionToken === undefined && verifyTimeoutMs > 0 ? await waitUntilAccepted(key, verifyTimeoutMs, signal) : undefined;
  return {
    id: creds.lease.id,
    key,
    times: { issuedAt: got, updatedAt: got, expireAt, maxExpireAt: max, renewable: creds.lease.renewable },
    accountId: verification?.outcome === "accepted" && verification.accountId !== "" ? verification.accountId : undefined,
    verification,
  };
}
