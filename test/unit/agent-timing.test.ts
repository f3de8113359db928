// The agent's timing rules (src/agent/timing.ts), on made-up leases: what
// Expiration callers are told, when a lease is renewed, replaced and revoked.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  backoffMs,
  inUse,
  marginMs,
  renewAt,
  reportedExpiration,
  retireAt,
  rotateAt,
  servable,
  usableUntil,
  type LeaseTimes,
} from "../../src/agent/timing.js";
import { timesFromInfo } from "../../src/agent/issue.js";
import { LeaseState, type LeaseInfo } from "@lessor/client";

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

/** A lease issued at 0 with `ttl` (renewable up to `max` when given). */
function lease(ttl: number, max?: number): LeaseTimes {
  return { issuedAt: 0, updatedAt: 0, expireAt: ttl, maxExpireAt: max ?? ttl, renewable: max !== undefined };
}

test("callers are told to come back a margin before the lease can end: a tenth of its duration, at most five minutes", () => {
  assert.equal(marginMs(lease(60 * S)), 6 * S);
  assert.equal(marginMs(lease(24 * H)), 5 * MIN);
  assert.equal(usableUntil(lease(60 * S)), 54 * S);
  // Renewable: the current end counts, not the max TTL, since the next renewal may never come.
  assert.equal(usableUntil(lease(1 * H, 24 * H)), 55 * MIN);
  // Never later than the credential TTL from now.
  assert.equal(reportedExpiration(lease(24 * H), 0, 1 * H), 1 * H);
  // A long non-renewable lease: the handover point (halfway) plus the margin bounds it.
  assert.equal(reportedExpiration(lease(24 * H), 11 * H + 30 * MIN, 1 * H), 12 * H + 5 * MIN);
  // Past the handover point, while the next lease is awaited: a margin from now, so callers return soon.
  assert.equal(reportedExpiration(lease(24 * H), 13 * H, 1 * H), 13 * H + 5 * MIN);
  // Near the end: the usable end.
  assert.equal(reportedExpiration(lease(60 * S), 50 * S, 1 * H), 54 * S);
});

test("credentials are handed out only while more than a second is left before the usable end", () => {
  assert.equal(servable(lease(60 * S), 52 * S), true);
  assert.equal(servable(lease(60 * S), 53.5 * S), false);
  assert.equal(servable(lease(60 * S), 70 * S), false);
});

test("a renewable lease is renewed at two thirds of the time it has left, not once it reached its max TTL", () => {
  assert.equal(renewAt(lease(30 * MIN, 24 * H)), 20 * MIN);
  const renewed: LeaseTimes = { ...lease(30 * MIN, 24 * H), updatedAt: 20 * MIN, expireAt: 50 * MIN };
  assert.equal(renewAt(renewed), 40 * MIN);
  assert.equal(renewAt({ ...renewed, expireAt: 24 * H }), undefined, "at its max TTL");
  assert.equal(renewAt(lease(30 * MIN)), undefined, "not renewable");
});

test("a lease is replaced halfway through its life: to its max TTL when renewable, else to its end", () => {
  assert.equal(rotateAt(lease(1 * H, 24 * H)), 12 * H);
  assert.equal(rotateAt(lease(1 * H)), 30 * MIN);
  // A renewable lease whose max TTL is not known yet is not replaced until it is.
  assert.equal(rotateAt(lease(1 * H, Number.POSITIVE_INFINITY)), Number.POSITIVE_INFINITY);
});

test("a replaced lease is revoked a margin after the last Expiration handed out, never after its own end", () => {
  const l = lease(10 * MIN);
  assert.equal(retireAt(l, 6 * MIN, 5 * MIN), 7 * MIN);
  // Replaced after the last hand-out: counted from the replacement.
  assert.equal(retireAt(l, 4 * MIN, 5 * MIN), 6 * MIN);
  assert.equal(retireAt(l, 9.5 * MIN, 5 * MIN), 10 * MIN);
  // Under the rules above, a 9 s lease replaced at 4.5 s (plus a second to issue the next) is revoked well before it ends.
  const short = lease(9 * S);
  const replacedAt = rotateAt(short) + 1 * S;
  const lastHandedOut = reportedExpiration(short, replacedAt - 1, 1 * H);
  assert.ok(retireAt(short, lastHandedOut, replacedAt) < 8 * S);
});

test("a lease is in use while an Expiration handed out for it, plus the margin, lies ahead", () => {
  const l = lease(10 * MIN);
  assert.equal(inUse(l, 5 * MIN, 5.5 * MIN), true);
  assert.equal(inUse(l, 5 * MIN, 6.5 * MIN), false);
  assert.equal(inUse(l, 0, 1 * MIN), false, "never handed out");
});

test("backoff doubles from half a second up to its cap, with jitter", () => {
  const mid = () => 0.5;
  assert.deepEqual([1, 2, 3, 4, 10].map((n) => backoffMs(n, 15_000, mid)), [500, 1000, 2000, 4000, 15_000]);
  assert.equal(backoffMs(1, 15_000, () => 0), 400);
  assert.equal(backoffMs(1, 15_000, () => 1), 600);
});

test("a lease looked up is placed on this machine's clock, keeping Lessor's distances to its end", () => {
  // Lessor's clock runs 2 hours ahead of ours; the lease (TTL 60 s, renewable for 1 h) was renewed 50 s ago.
  const serverNow = Date.UTC(2026, 0, 1, 12, 0, 0);
  const info: LeaseInfo = {
    id: "aws/creds/deploy/x",
    issueTime: new Date(serverNow - 20 * MIN),
    lastRenewalTime: new Date(serverNow - 50 * S),
    expireTime: new Date(serverNow + 10 * S),
    maxExpireTime: new Date(serverNow + 40 * MIN),
    ttlSeconds: 10,
    renewable: true,
    state: LeaseState.LEASE_STATE_ACTIVE,
    revokeAttempts: 0,
    lastError: "",
  };
  const now = serverNow - 2 * H;
  const times = timesFromInfo(info, now, 0);
  assert.deepEqual(times, { issuedAt: now - 20 * MIN, updatedAt: now - 50 * S, expireAt: now + 10 * S, maxExpireAt: now + 40 * MIN, renewable: true });
  // Due for renewal (two thirds of its 60 s were past 20 s ago), and replaced halfway through its hour.
  assert.ok((renewAt(times) ?? Infinity) <= now);
  assert.equal(rotateAt(times), now - 20 * MIN + 30 * MIN);
});
