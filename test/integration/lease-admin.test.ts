// Operating on leases: force (sudo, loud, the secret left alone), listing a
// page at a time over a set that changes between pages, bad page input, the
// CLI's verbs, and tidy repairing drift.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseState, LessorClient, type AwsCredentials } from "@lessor/client";
import { clientFor, runCli, startServer } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator, type AwsEmulator, startWithEmulator } from "../helpers/aws.js";
import { addToken, mountAccessor, openServerStore, seedAwsLeases } from "../helpers/leases.js";
import { failure } from "../helpers/errors.js";
import { openRawDb } from "../helpers/raw-db.js";

async function configureAws(client: LessorClient, emulator: AwsEmulator): Promise<void> {
  await client.mounts.enable("aws", { defaultLeaseTtlSeconds: 3600, maxLeaseTtlSeconds: 7200 });
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
}

test("force drops a lease without touching its secret, needs sudo, and says so loudly", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  const first = await startServer({ env: awsEnv(emulator) });
  let client = clientFor(first);
  await configureAws(client, emulator);
  const creds = await client.aws.creds("deploy");
  const viaCli = await client.aws.creds("deploy");
  client.close();
  await first.stop();
  await addToken(first.dataDir, "lsr.test-default-token", ["default"]);

  const server = await startServer({ env: awsEnv(emulator), dataDir: first.dataDir });
  t.after(() => server.stop());
  client = clientFor(server, first.rootToken);
  const plain = new LessorClient({ address: server.address, token: "lsr.test-default-token" });
  t.after(() => {
    client.close();
    plain.close();
  });

  const denied = await failure(plain.leases.revoke(creds.lease.id, { force: true }));
  assert.equal(denied.codeName, "PERMISSION_DENIED");
  assert.equal(denied.metadata.capability, "update", "revoke-force needs update there, and sudo");
  assert.equal(denied.metadata.path, `sys/leases/revoke-force/${creds.lease.id}`);
  assert.equal((await client.leases.lookup(creds.lease.id)).state, LeaseState.LEASE_STATE_ACTIVE);

  const both = await failure(client.leases.revoke(creds.lease.id, { force: true, enqueue: true }));
  assert.equal(both.codeName, "INVALID_ARGUMENT");
  assert.deepEqual(both.fieldViolations.map((v) => v.field), ["enqueue"]);

  const forced = await client.leases.revoke(creds.lease.id, { force: true });
  assert.equal(forced.revokedNow, true);
  assert.match(forced.warnings.join("\n"), /the secret, if it still exists, was NOT destroyed/);
  const lease = await client.leases.lookup(creds.lease.id);
  assert.equal(lease.state, LeaseState.LEASE_STATE_REVOKED);
  assert.match(lease.lastError, /revoked with force/);
  assert.equal(emulator.listUsers().length, 2, "force makes no IAM call: the user is still there");
  assert.equal(emulator.counts().calls.DeleteUser ?? 0, 0);
  // Again: already revoked, nothing more to say.
  assert.deepEqual(await client.leases.revoke(creds.lease.id, { force: true }), {
    leaseId: creds.lease.id,
    revokedNow: false,
    queued: false,
    warnings: [],
  });

  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: first.rootToken ?? "" };
  const r = await runCli(["lease", "revoke", "-force", viaCli.lease.id], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Success! Force revoked the lease: ${viaCli.lease.id}\n`);
  assert.match(r.stderr, /^WARNING! .*\n\n {2}\* the lease was dropped without revoking its secret; the secret, if it still exists, was NOT destroyed/);

  // Each force is a lease event of its own (for WatchLeases), written with the change.
  client.close();
  plain.close();
  await server.stop();
  const store = await openServerStore(first.dataDir);
  try {
    const events = await store.events.after(0, "aws/creds/", 100);
    for (const id of [creds.lease.id, viaCli.lease.id]) {
      assert.deepEqual(
        events.filter((e) => e.leaseId === id).map((e) => e.type),
        ["created", "force_revoked"],
      );
    }
  } finally {
    await store.close();
  }
});

test("listing pages through a changing set: no lease skipped or repeated; bad page input is refused", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({ env: awsEnv(emulator), args: ["-revoke-rate=0"] });
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    await server.stop();
    await emulator.close();
  });
  await configureAws(client, emulator);
  const initial: AwsCredentials[] = [];
  for (let i = 0; i < 30; i++) initial.push(await client.aws.creds("deploy"));
  const initialIds = initial.map((c) => c.lease.id).sort();

  const listed: string[] = [];
  const revokedMidway = new Set<string>();
  const addedMidway = new Set<string>();
  let pageToken = "";
  let pages = 0;
  do {
    const page = await client.leases.list("aws/creds/", { pageSize: 7, pageToken, state: LeaseState.LEASE_STATE_ACTIVE });
    assert.ok(page.leases.length <= 7);
    listed.push(...page.leases.map((l) => l.id));
    pageToken = page.nextPageToken;
    pages++;
    if (pageToken !== "") {
      assert.doesNotMatch(pageToken, /aws\/creds/, "the token does not show the id it continues after");
      // Between pages: two new leases (random ids land before and after the cursor) and two revoked.
      for (let i = 0; i < 2; i++) addedMidway.add((await client.aws.creds("deploy")).lease.id);
      const last = listed[listed.length - 1] as string;
      const ahead = initialIds.filter((id) => id > last && !revokedMidway.has(id)).slice(-2);
      for (const id of ahead) {
        await client.leases.revoke(id);
        revokedMidway.add(id);
      }
    }
  } while (pageToken !== "" && pages < 50);
  assert.ok(pages > 3, `several pages (${pages})`);
  assert.equal(new Set(listed).size, listed.length, "no lease repeated");
  assert.deepEqual(listed, [...listed].sort(), "in id order");
  const stable = initialIds.filter((id) => !revokedMidway.has(id));
  for (const id of stable) assert.ok(listed.includes(id), `${id}, active all along, was listed`);
  for (const id of listed) assert.ok(initialIds.includes(id) || addedMidway.has(id));
  for (const id of revokedMidway) assert.ok(!listed.includes(id), "revoked before its page: not listed as active");

  // Unfiltered, the revoked ones are there too, with their state.
  const all = [];
  for await (const l of client.leases.listAll("aws/creds/deploy/", { pageSize: 1000 })) all.push(l);
  assert.equal(all.length, initial.length + addedMidway.size);
  assert.equal(all.filter((l) => l.state === LeaseState.LEASE_STATE_REVOKED).length, revokedMidway.size);

  let err = await failure(client.leases.list("aws/", { pageSize: 1001 }));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.deepEqual(err.fieldViolations.map((v) => v.field), ["page_size"]);
  assert.match(err.message, /page_size: must be at most 1000/);
  const first = await client.leases.list("aws/", { pageSize: 5 });
  assert.equal(first.leases.length, 5);
  const tampered = first.nextPageToken.slice(0, -2) + (first.nextPageToken.endsWith("AA") ? "BB" : "AA");
  err = await failure(client.leases.list("aws/", { pageSize: 5, pageToken: tampered }));
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.deepEqual(err.fieldViolations.map((v) => v.field), ["page_token"]);
  err = await failure(client.leases.list("aws/creds/", { pageSize: 5, pageToken: first.nextPageToken }));
  assert.equal(err.codeName, "INVALID_ARGUMENT", "a token belongs to its own prefix");
  assert.match(err.message, /^page_token: /);
  err = await failure(client.leases.list("aws/", { pageToken: "aws/creds/deploy/0" }));
  assert.equal(err.codeName, "INVALID_ARGUMENT", "a raw id is not a token");
  const second = await client.leases.list("aws/", { pageSize: 5, pageToken: first.nextPageToken });
  assert.ok((second.leases[0]?.id ?? "") > (first.leases[4]?.id ?? ""));
  assert.equal((await client.leases.list("aws/")).leases.length, initial.length + addedMidway.size, "the default page size, 50, holds them all");
});

test("the lease CLI: lookup, renew (by its own TTL, clamped), revoke -sync=false, list, and the legacy revoke", async (t) => {
  const { emulator, server, client } = await startWithEmulator(t);
  await configureAws(client, emulator);
  const a = await client.aws.creds("deploy");
  const b = await client.aws.creds("deploy");
  const c = await client.aws.creds("deploy");
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken ?? "" };
  const cli = (args: string[]) => runCli(args, { env });

  let r = await cli(["lease", "renew", "-increment=30m", a.lease.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Key                Value\n---                -----\nlease_id           ${a.lease.id}\nlease_duration     30m\nlease_renewable    true\n`);
  assert.equal(r.stderr, "");
  // No increment: by the TTL the lease was issued with (the mount's default, 1h), as Vault does, not by the last increment.
  r = await cli(["lease", "renew", a.lease.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Key                Value\n---                -----\nlease_id           ${a.lease.id}\nlease_duration     1h\nlease_renewable    true\n`);
  r = await cli(["lease", "renew", "-increment=100h", a.lease.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /lease_duration {5}1h59m5\ds\n/);
  assert.match(r.stderr, /WARNING!.*\n\n {2}\* TTL of "100h" exceeded the lease's max TTL; the lease now expires at /);
  r = await cli(["lease", "renew", "-increment=soon", a.lease.id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-increment "soon" is not a duration/);

  r = await cli(["lease", "lookup", "-format=json", a.lease.id]);
  const looked = JSON.parse(r.stdout) as { state: string; last_renewal: string | null; id: string };
  assert.equal(looked.id, a.lease.id);
  assert.equal(looked.state, "active");
  assert.ok(looked.last_renewal);

  r = await cli(["lease", "revoke", "-sync=false", b.lease.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "All revocation operations queued successfully!\n");
  r = await cli(["lease", "revoke", c.lease.id]);
  assert.equal(r.stdout, `Success! Revoked lease: ${c.lease.id}\n`);
  r = await cli(["revoke", a.lease.id]);
  assert.equal(r.stdout, `Key revoked with ID '${a.lease.id}'.\n`);

  r = await cli(["lease", "list", "-state=revoked", "aws/creds/deploy/"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0] as string, /^Lease ID\s+State\s+TTL\s+Expire Time\s+Attempts\s+Last Error$/);
  assert.match(lines[1] as string, /^-{8}\s+-{5}\s+---\s+-{11}\s+-{8}\s+-{10}$/);
  // b was queued: it may still be on its way.
  assert.ok(lines.length === 4 || lines.length === 5, r.stdout);
  r = await cli(["lease", "list", "-format=json", "aws/"]);
  assert.equal((JSON.parse(r.stdout) as unknown[]).length, 3);
  r = await cli(["lease", "list", "-state=irrevocable", "aws/"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /No leases found under aws\/ in state irrevocable/);
  r = await cli(["lease", "list", "-state=dead", "aws/"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Invalid values:/);
});

test("tidy repairs the due-time index, reschedules stalled revocations, marks orphans, and purges old records", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  const first = await startServer({ env: awsEnv(emulator) });
  let client = clientFor(first);
  await configureAws(client, emulator);
  const accessor = await mountAccessor(client, "aws/");
  const old = await client.aws.creds("deploy");
  await client.leases.revoke(old.lease.id);
  const revokedAt = Date.now();
  client.close();
  await first.stop();
  const ids = await seedAwsLeases({ dataDir: first.dataDir, emulator, mountAccessor: accessor, idPrefix: "aws/creds/t/", userPrefix: "t-", count: 5, ttlMs: 3_600_000 });
  const orphans = await seedAwsLeases({ dataDir: first.dataDir, emulator, mountAccessor: "aws_gone0000", idPrefix: "gone/creds/x/", userPrefix: "g-", count: 2, ttlMs: 3_600_000 });
  // Drift, as a crash or a hand edit could leave it: raw SQL on the stopped server's database.
  const db = await openRawDb(first.dataDir);
  await db.run("UPDATE leases SET due_time = NULL WHERE id = ?", ids[0]);
  await db.run("UPDATE leases SET due_time = 1 WHERE id = ?", ids[1]);
  await db.run("UPDATE leases SET state = 'revoking', attempts = 1, due_time = NULL, next_attempt_time = NULL WHERE id = ?", ids[2]);
  await db.close();

  const server = await startServer({ env: awsEnv(emulator), dataDir: first.dataDir, args: ["-lease-retention=1s"] });
  t.after(() => server.stop());
  client = clientFor(server, first.rootToken);
  t.after(() => client.close());
  await new Promise((r) => setTimeout(r, Math.max(0, revokedAt + 1_100 - Date.now())));
  const report = await client.leases.tidy();
  assert.equal(report.indexEntriesRepaired, 2, "the active lease without an index entry, and the one due long before its expiry");
  assert.equal((await client.leases.lookup(ids[1]!)).state, LeaseState.LEASE_STATE_ACTIVE, "a wrong due time never revokes a lease early");
  assert.equal(report.revocationsRescheduled, 1);
  assert.equal(report.orphanedLeases, 2);
  assert.ok(report.revokedRecordsPurged >= 1, "the lease revoked before the restart is past the 1s retention");
  assert.ok(report.leaseEventsPurged >= 1);

  const orphan = await client.leases.lookup(orphans[0]!);
  assert.equal(orphan.state, LeaseState.LEASE_STATE_IRREVOCABLE);
  assert.match(orphan.lastError, /the mount that issued this lease no longer exists/);
  const stalled = ids[2]!;
  const deadline = Date.now() + 20_000;
  while ((await client.leases.lookup(stalled)).state !== LeaseState.LEASE_STATE_REVOKED) {
    assert.ok(Date.now() < deadline, "the rescheduled revocation runs");
    await new Promise((r) => setTimeout(r, 100));
  }
  await assert.rejects(client.leases.lookup(old.lease.id), /lease not found/);
  const again = await client.leases.tidy();
  assert.equal(again.indexEntriesRepaired + again.revocationsRescheduled + again.orphanedLeases, 0, "nothing left to repair");
});
