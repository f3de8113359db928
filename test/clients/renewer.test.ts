// LeaseRenewer against a live server, in real time, with short lease TTLs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, LeaseRenewer, LeaseState, type RenewedEvent, type RetryingEvent } from "@lessor/client";
import { awsSetup } from "./setup.js";

test("renews at about two thirds of the TTL until the max TTL, then says the lease cannot be extended", async (t) => {
  const { client } = await awsSetup(t, { defaultLeaseTtlSeconds: 3, maxLeaseTtlSeconds: 9 });
  const creds = await client.aws.creds("deploy");
  assert.equal(creds.lease.durationSeconds, 3);
  const renewed: RenewedEvent[] = [];
  const callbacks: string[] = [];
  const renewer = new LeaseRenewer(client, creds.lease, { onRenewed: () => callbacks.push("renewed"), onDone: (d) => callbacks.push(`done:${d.reason}`) });
  renewer.on("renewed", (e) => renewed.push(e));
  const done = await renewer.done;

  assert.equal(done.reason, "max_ttl");
  assert.equal(done.leaseId, creds.lease.id);
  // A 3 s lease lives 9 s only because it was renewed, several times, each pushing the expiry later.
  assert.ok(renewed.length >= 2, `renewed ${renewed.length} times`);
  for (let i = 1; i < renewed.length; i++) {
    assert.ok((renewed[i] as RenewedEvent).expireTime > (renewed[i - 1] as RenewedEvent).expireTime, "each renewal moves the expiry");
  }
  assert.deepEqual(renewed.map((e) => e.clamped), [...renewed.slice(0, -1).map(() => false), true], "only the last renewal was clamped");
  assert.deepEqual(callbacks, [...renewed.map(() => "renewed"), "done:max_ttl"]);

  const lease = await client.leases.lookup(creds.lease.id);
  assert.equal(lease.state, LeaseState.LEASE_STATE_ACTIVE, "still alive: it ends at its max TTL, not before");
  assert.equal(done.expireTime.getTime(), lease.maxExpireTime?.getTime());
  assert.equal(lease.expireTime?.getTime(), lease.maxExpireTime?.getTime());
});

test("tells the caller when renewal fails for good (the lease was revoked under it)", async (t) => {
  const { client } = await awsSetup(t, { defaultLeaseTtlSeconds: 2, maxLeaseTtlSeconds: 60 });
  const creds = await client.aws.creds("deploy");
  const renewer = new LeaseRenewer(client, creds.lease);
  await client.leases.revoke(creds.lease.id);
  const done = await renewer.done;
  assert.equal(done.reason, "failed");
  assert.equal(done.error?.code, Code.FAILED_PRECONDITION);
  assert.equal(done.error?.reason, "LEASE_NOT_ACTIVE");
});

test("retries while the server is unreachable, and reports expiry when the lease runs out first", async (t) => {
  const { client, server } = await awsSetup(t, { defaultLeaseTtlSeconds: 3, maxLeaseTtlSeconds: 60 });
  const creds = await client.aws.creds("deploy");
  const retries: RetryingEvent[] = [];
  const renewer = new LeaseRenewer(client, creds.lease, { onRetrying: (e) => retries.push(e) });
  await server.kill();
  const done = await renewer.done;
  assert.equal(done.reason, "expired");
  assert.equal(done.error?.code, Code.UNAVAILABLE);
  assert.ok(retries.length >= 1, "it tried again before giving up");
  assert.ok(retries.every((r) => r.error.code === Code.UNAVAILABLE));
  assert.ok(Date.now() >= done.expireTime.getTime(), "it gave up only once the lease had run out");
});

test("stop() ends renewing; a lease issued as not renewable is reported at once", async (t) => {
  const { client } = await awsSetup(t, { defaultLeaseTtlSeconds: 60, maxLeaseTtlSeconds: 600 });
  const creds = await client.aws.creds("deploy");
  const renewer = new LeaseRenewer(client, creds.lease);
  renewer.stop();
  assert.equal((await renewer.done).reason, "stopped");
  const lease = await client.leases.lookup(creds.lease.id);
  assert.equal(lease.lastRenewalTime, undefined, "never renewed");

  const fixed = new LeaseRenewer(client, { id: creds.lease.id, durationSeconds: 60, renewable: false });
  assert.equal((await fixed.done).reason, "not_renewable");
});
