// Three `lessor server` replicas on one PostgreSQL database (issue 8), each a
// real process with a data directory of its own and the same encryption key
// (LESSOR_SEAL_KEY), the aws engine against the IAM emulator over HTTP.
//
// 1. Every replica serves every RPC: configuration made on one is used on
//    the others; a lease issued on one is looked up, renewed and revoked on
//    the others; a WatchLeases stream on one sees leases made on another.
// 2. Concurrent load spread over the three (issuing, renewing, revoking, and
//    short leases that expire), replicas killed with SIGKILL three times
//    mid-way, each time while it is known to be issuing (an IAM user made,
//    its lease not yet recorded), and started again on the same database and
//    address; the first killed is the one numbering every replica's lease
//    events (the sequencer), so another must take that over. Each kill interrupted that issuance: its user is rolled back
//    and no lease records it. Afterwards, once expiry and rollback have
//    settled (bounded waits): every lease is live or revoked; no IAM user was
//    deleted twice (the emulator counts every DeleteUser call per user when
//    it arrives, and its outcome); no IAM user exists without a live lease;
//    every lease event reached watchers on two replicas, in the same order,
//    once (each resumed across the restarts of its replica).
//
// PostgreSQL only: runs in the suite's PostgreSQL pass (test/run-suite.ts),
// skipped in the SQLite pass, where one process owns its store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Code, LeaseEventType, LeaseState, LessorClient, LessorClientError, watchLeases, type LeaseEvent, type LeaseInfo } from "@lessor/client";
import { CreateGroupCommand } from "@aws-sdk/client-iam";
import { awsEnv, EC2_POLICY, rootIam, startAwsEmulator, type AwsEmulator } from "../helpers/aws.js";
import { SEQUENCER_LOCK } from "../../src/store/pg-db.js";
import { databaseName } from "../helpers/postgres.js";
import { startServer, tempDir, type ServerProcess } from "../helpers/processes.js";
import { onPostgres, testCluster } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const PG_ONLY = onPostgres() ? false : "PostgreSQL only: replicas share a PostgreSQL database (runs in the suite's PostgreSQL pass)";

const T = LeaseEventType;
const WORKERS = 8;
const OPS_PER_WORKER = 24;
/** Leases of the short mount live this long; the long mount's a day. */
const SHORT_TTL_SECONDS = 3;
const LONG_TTL_SECONDS = 86_400;
/** Every IAM call answers this late, as real IAM does (100-300 ms per call is common). */
const IAM_LATENCY_MS = 150;
/**
 * How long a killed replica's half-made issuance can stay: its session ends
 * with it, so the restarted replica (at start) or any other (sweeping every
 * 2 s) rolls it back at once, with no wait for the 120 s intent timeout.
 */
const ROLLBACK_WAIT_MS = 20_000;
/**
 * A revocation the killed replica had under way when it died may be retried
 * by another replica (the DeleteUser that went out just before the kill
 * cannot be known to have happened). Only a DeleteUser first sent in this
 * window before the kill, and sent again after it, is excused.
 */
const KILL_WINDOW_MS = 2_000;
/**
 * Replicas killed, in turn, during the load: first the sequencer, whichever
 * it is, then both watched ones (r2, r3) if it was not one of them.
 */
const VICTIMS = ["sequencer", 1, 2] as const;
/** The revocation claim in the kill test: a killed replica's claimed revocations are taken up this soon. */
const CLAIM_SECONDS = 8;
/** The probe role's group; the emulator holds every AddUserToGroup this long, so a probe issuance is under way when its replica is killed. */
const PROBE_GROUP = "lessor-probe";
const PROBE_HOLD_MS = 20_000;

interface Replica {
  readonly name: string;
  readonly dataDir: string;
  server: ServerProcess;
  client: LessorClient;
}

interface Cluster {
  /** The database the replicas share. */
  database: string;
  emulator: AwsEmulator;
  replicas: Replica[];
  token: string;
  start(dataDir: string, listenAddress?: string): Promise<ServerProcess>;
  /** Watches to end before the clients close. */
  watches: Array<() => void>;
}

async function startCluster(t: { after: (fn: () => Promise<void>) => void }, options: { revokeClaimTimeoutSeconds?: number } = {}): Promise<Cluster> {
  const pg = testCluster();
  const database = databaseName(`replicas_${randomBytes(4).toString("hex")}`);
  const created = new URL(await pg.createDatabase(database));
  if (options.revokeClaimTimeoutSeconds !== undefined) created.searchParams.set("revoke_claim_timeout", String(options.revokeClaimTimeoutSeconds));
  const url = created.toString();
  const emulator = await startAwsEmulator({ port: 0 });
  const env = { ...awsEnv(emulator), LESSOR_SEAL_KEY: randomBytes(32).toString("base64") };
  const start = (dataDir: string, listenAddress?: string) =>
    startServer({ dataDir, env, listenAddress, args: [`-storage-url=${url}`] });
  const dirs = ["r1", "r2", "r3"].map((name) => ({ name, dataDir: tempDir(`replica-${name}`) }));
  const replicas: Replica[] = [];
  const watches: Array<() => void> = [];
  t.after(async () => {
    for (const stop of watches) stop();
    for (const r of replicas) r.client.close();
    await Promise.all(replicas.map((r) => r.server.stop()));
    await emulator.close();
  });
  // All three at once: the migrations and the root token must cope with that.
  const servers = await Promise.all(dirs.map((d) => start(d.dataDir)));
  const tokens = servers.map((s) => s.rootToken).filter((tok): tok is string => tok !== undefined);
  assert.equal(tokens.length, 1, `exactly one replica of three started together prints a root token:\n${servers.map((s) => s.output()).join("\n---\n")}`);
  const token = tokens[0] as string;
  for (const [i, d] of dirs.entries()) {
    const server = servers[i] as ServerProcess;
    assert.match(server.output(), /Storage: postgresql \(127\.0\.0\.1:\d+\/replicas_[0-9a-f]+\)/);
    replicas.push({ ...d, server, client: new LessorClient({ address: server.address, token }) });
  }
  return { database, emulator, replicas, token, start, watches };
}

/** Which replica numbers every replica's lease events now (holds SEQUENCER_LOCK; its connection is named with its process id). */
async function sequencer(c: Cluster): Promise<number> {
  const rows = await testCluster().query<{ name: string }>(
    `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.objid::int8 = $1 AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [SEQUENCER_LOCK],
    c.database,
  );
  const pid = Number(/^lessor sequencer (\d+)$/.exec(rows[0]?.name ?? "")?.[1]);
  const index = c.replicas.findIndex((r) => r.server.proc.pid === pid);
  assert.ok(index >= 0, `the sequencer is one of the replicas (${rows[0]?.name ?? "none"})`);
  return index;
}

function replica(c: Cluster, i: number): Replica {
  return c.replicas[i] as Replica;
}

/** Collects WatchLeases events from a replica until the test ends; reconnects (and resumes) by itself. */
function watch(c: Cluster, client: LessorClient): { events: LeaseEvent[]; ready: Promise<void>; reconnects: () => number; error: () => unknown } {
  const events: LeaseEvent[] = [];
  const abort = new AbortController();
  c.watches.push(() => abort.abort());
  let opened!: () => void;
  const ready = new Promise<void>((resolve) => (opened = resolve));
  let reconnects = 0;
  let error: unknown;
  void (async () => {
    try {
      for await (const e of watchLeases(client, {
        prefix: "",
        signal: abort.signal,
        reconnectDelayMs: 50,
        maxReconnectDelayMs: 500,
        onStart: () => opened(),
        onReconnect: () => reconnects++,
      })) {
        events.push(e);
      }
    } catch (err) {
      if (!abort.signal.aborted) error = err;
    }
  })();
  return { events, ready, reconnects: () => reconnects, error: () => error };
}

/**
 * DeleteUser calls per user that deleted it or found it gone: every call but
 * those answered DeleteConflict (the user still held something, nothing was
 * deleted; one deletion can take one of those and then succeed, as a
 * rollback, which knows nothing of the user's key, does).
 */
function deletions(emulator: AwsEmulator): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [user, outcomes] of Object.entries(emulator.counts().deleteUserOutcomes)) {
    out[user] = Object.entries(outcomes).reduce((n, [outcome, count]) => (outcome === "DeleteConflict" ? n : n + count), 0);
  }
  return out;
}

/**
 * DeleteUser calls per user counted when they reached the emulator, whatever
 * their outcome: a call sent just before a kill is counted here before its
 * answer (which comes after the emulator's injected latency).
 */
function arrivals(emulator: AwsEmulator): Record<string, number> {
  return { ...emulator.counts().deleteUserCalls };
}

/** The IAM user (name) holding an access key, from the emulator. */
function userOfKey(emulator: AwsEmulator, accessKeyId: string): string {
  const user = emulator.listUsers().find((u) => u.accessKeys.some((k) => k.accessKeyId === accessKeyId));
  assert.ok(user, `an IAM user holds ${accessKeyId}`);
  return user.userName;
}

async function configure(c: Cluster): Promise<void> {
  const { emulator } = c;
  const client = replica(c, 0).client;
  const root = { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" };
  await client.mounts.enable("aws", { defaultLeaseTtlSeconds: LONG_TTL_SECONDS, maxLeaseTtlSeconds: 2 * LONG_TTL_SECONDS });
  await client.write("aws/config/root", root);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  await client.mounts.enable("aws", { path: "short", defaultLeaseTtlSeconds: SHORT_TTL_SECONDS, maxLeaseTtlSeconds: SHORT_TTL_SECONDS });
  await client.write("short/config/root", root);
  await client.write("short/roles/deploy", { policy_document: EC2_POLICY });
}

test("every replica serves every RPC: config, issue, lookup, renew, revoke and watch across replicas", { skip: PG_ONLY, timeout: 60_000 }, async (t) => {
  const c = await startCluster(t);
  const [r1, r2, r3] = [replica(c, 0), replica(c, 1), replica(c, 2)];
  const watcher = watch(c, r2.client);
  await watcher.ready;

  // Mounts, config and roles written on replica 1 reach the others (within their config poll).
  await configure(c);
  const onR2 = await waitFor(
    "replica 2 to issue from the mount and role made on replica 1",
    () =>
      r2.client.aws.creds("deploy").catch((err: unknown) => {
        if (err instanceof LessorClientError && (err.code === Code.NOT_FOUND || err.code === Code.INVALID_ARGUMENT)) return undefined;
        throw err;
      }),
    10_000,
    100,
  );
  await r3.client.leases.revoke(onR2.lease.id);

  // Issued on 1, looked up on 2 and 3, renewed on 2, revoked on 3.
  const creds = await r1.client.aws.creds("deploy");
  const user = userOfKey(c.emulator, creds.accessKeyId);
  const seen2 = await r2.client.leases.lookup(creds.lease.id);
  assert.equal(seen2.state, LeaseState.LEASE_STATE_ACTIVE);
  assert.equal(seen2.ttlSeconds > LONG_TTL_SECONDS - 60, true, "replica 2 sees the lease with its TTL");
  const renewed = await r2.client.leases.renew(creds.lease.id, 2 * LONG_TTL_SECONDS - 60);
  const after = await r3.client.leases.lookup(creds.lease.id);
  assert.equal(after.expireTime?.getTime(), renewed.lease?.expireTime?.getTime(), "replica 3 sees replica 2's renewal");
  assert.ok((after.expireTime?.getTime() ?? 0) > (seen2.expireTime?.getTime() ?? Infinity), "the renewal moved the expiry");
  await r3.client.leases.revoke(creds.lease.id);
  assert.equal(c.emulator.getUser(user), undefined, "the revocation on replica 3 deleted the user made on replica 1");
  assert.equal((await r1.client.leases.lookup(creds.lease.id)).state, LeaseState.LEASE_STATE_REVOKED, "replica 1 sees it revoked");
  assert.equal(deletions(c.emulator)[user], 1, "one DeleteUser for it");

  // A short lease made on 3 expires; some replica revokes it, once.
  const short = await r3.client.aws.creds("deploy", { mount: "short" });
  const shortUser = userOfKey(c.emulator, short.accessKeyId);
  await waitFor("the short lease to be revoked on expiry", async () => (await r1.client.leases.lookup(short.lease.id)).state === LeaseState.LEASE_STATE_REVOKED, 15_000, 100);
  assert.equal(c.emulator.getUser(shortUser), undefined);
  assert.equal(deletions(c.emulator)[shortUser], 1, "one DeleteUser for the expired lease, though three replicas run expiry");

  // The watcher on replica 2 saw all of it, whichever replica made the change.
  const mine = (id: string) => watcher.events.filter((e) => e.leaseId === id).map((e) => e.type);
  await waitFor("replica 2's watcher to see the events made on replicas 1 and 3", () =>
    mine(creds.lease.id).length === 3 && mine(short.lease.id).length === 2 && mine(onR2.lease.id).length === 2,
  );
  assert.deepEqual(mine(creds.lease.id), [T.LEASE_EVENT_TYPE_CREATED, T.LEASE_EVENT_TYPE_RENEWED, T.LEASE_EVENT_TYPE_REVOKED]);
  assert.deepEqual(mine(short.lease.id), [T.LEASE_EVENT_TYPE_CREATED, T.LEASE_EVENT_TYPE_EXPIRED]);
  assert.deepEqual(mine(onR2.lease.id), [T.LEASE_EVENT_TYPE_CREATED, T.LEASE_EVENT_TYPE_REVOKED]);
  const sequences = watcher.events.map((e) => e.sequence);
  assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), "events arrive in sequence order");
  assert.equal(new Set(sequences).size, sequences.length, "no event twice");
  assert.equal(watcher.error(), undefined, "the watch never failed");
});

interface Issued {
  id: string;
  user: string;
  short: boolean;
  /** Index of the replica that issued it. */
  on: number;
  /** The expiry the last renewal returned (renewals of one lease never overlap); undefined if never renewed or unknown. */
  renewedTo?: number;
  /** Revoked through RevokeLease (by the test). */
  revoked?: boolean;
}

test("three replicas under load, killed with SIGKILL mid-issuance three times and restarted: every lease live or revoked once, no IAM user without a live lease", { skip: PG_ONLY, timeout: 300_000 }, async (t) => {
  // A short revocation claim, so a killed replica's revocations are taken up within seconds.
  const c = await startCluster(t, { revokeClaimTimeoutSeconds: CLAIM_SECONDS });
  await configure(c);
  const { emulator } = c;
  // A role whose issuance the test can hold at a known point: its group membership call hangs,
  // after CreateUser and PutUserPolicy, before the access key and the lease.
  const iam = rootIam(emulator);
  t.after(() => Promise.resolve(iam.destroy()));
  await iam.send(new CreateGroupCommand({ GroupName: PROBE_GROUP }));
  await replica(c, 0).client.write("aws/roles/probe", { policy_document: EC2_POLICY, iam_groups: PROBE_GROUP });
  // Every replica has the configuration before the load starts.
  for (const r of c.replicas) {
    await waitFor(`${r.name} to see the short/ mount`, async () => (await r.client.mounts.list()).some((m) => m.path === "short/"), 10_000, 100);
  }
  emulator.addFault({ action: "iam:*", latencyMs: IAM_LATENCY_MS });
  emulator.addFault({ action: "AddUserToGroup", latencyMs: PROBE_HOLD_MS });

  const watchers = [watch(c, replica(c, 1).client), watch(c, replica(c, 2).client)];
  await Promise.all(watchers.map((w) => w.ready));

  const issued = new Map<string, Issued>();
  /** Long leases neither revoked nor being renewed or revoked right now. */
  const pool: Issued[] = [];
  const failures: string[] = [];
  let opsDone = 0;
  /** Replicas down (or coming back): UNAVAILABLE from them is expected. */
  const down = new Set<number>();
  let unavailable = 0;
  let unknownOutcome = 0;

  const expectedFailure = (target: number, err: unknown): boolean => {
    if (down.has(target) && err instanceof LessorClientError && err.code === Code.UNAVAILABLE) {
      unavailable++;
      return true;
    }
    return false;
  };
  const pick = <T>(items: T[]): T | undefined => (items.length === 0 ? undefined : items.splice(Math.floor(Math.random() * items.length), 1)[0]);
  const other = (...not: number[]): number => {
    const choices = [0, 1, 2].filter((i) => !not.includes(i));
    return choices[Math.floor(Math.random() * choices.length)] as number;
  };

  async function issue(target: number, short: boolean): Promise<void> {
    try {
      const creds = await replica(c, target).client.aws.creds("deploy", short ? { mount: "short" } : {});
      const lease: Issued = { id: creds.lease.id, user: userOfKey(emulator, creds.accessKeyId), short, on: target };
      issued.set(lease.id, lease);
      if (!short) pool.push(lease);
    } catch (err) {
      // The victim died mid-issuance: the lease may or may not exist; the checks below cover both.
      if (expectedFailure(target, err)) unknownOutcome++;
      else failures.push(`issue on r${target + 1}: ${String(err)}`);
    }
  }

  async function renew(): Promise<void> {
    const lease = pick(pool);
    if (!lease) return;
    const target = other(lease.on);
    try {
      const res = await replica(c, target).client.leases.renew(lease.id, LONG_TTL_SECONDS + Math.floor(Math.random() * 3600));
      lease.renewedTo = res.lease?.expireTime?.getTime();
    } catch (err) {
      if (!expectedFailure(target, err)) failures.push(`renew ${lease.id} on r${target + 1}: ${String(err)}`);
      // The killed replica may or may not have committed it: the expiry is no longer known.
      lease.renewedTo = undefined;
    }
    pool.push(lease);
  }

  async function revoke(): Promise<void> {
    const lease = pick(pool);
    if (!lease) return;
    // On a replica other than the one that issued it; if that one is the victim and dies, again on another.
    let target = other(lease.on);
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await replica(c, target).client.leases.revoke(lease.id);
        lease.revoked = true;
        return;
      } catch (err) {
        if (!expectedFailure(target, err)) {
          failures.push(`revoke ${lease.id} on r${target + 1}: ${String(err)}`);
          return;
        }
        target = other(lease.on, ...down);
      }
    }
  }

  /** One per kill: DeleteUser arrivals shortly before it and just after it, and the issuance it interrupted. */
  const kills: Array<{ victim: number; before: Record<string, number>; at: Record<string, number>; probeUser: string; probeLease: string }> = [];

  /**
   * Kills replica `victim` while it is issuing a probe lease (its user made,
   * its group membership call held by the emulator), then starts it again on
   * the same database, data directory and address.
   */
  async function crashAndRestart(victim: number): Promise<void> {
    const r = replica(c, victim);
    const probes = () => new Set(emulator.listUsers().filter((u) => u.userName.includes("-probe-")).map((u) => u.userName));
    const seen = probes();
    const before = arrivals(emulator);
    const probe = r.client.aws.creds("probe").then(
      () => assert.fail("the probe issuance was to be interrupted"),
      (err: unknown) => err,
    );
    const probeUser = await waitFor("the probe's IAM user to exist", () => [...probes()].find((u) => !seen.has(u)), 10_000, 10);
    await waitFor("the probe's issuance to be held at AddUserToGroup", () => (emulator.counts().calls.AddUserToGroup ?? 0) > kills.length, 10_000, 10);
    await new Promise((res) => setTimeout(res, KILL_WINDOW_MS));
    const probeLease = emulator.getUser(probeUser)?.tags.find((tag) => tag.Key === "lessor-lease-id")?.Value ?? "";
    down.add(victim);
    await r.server.kill();
    // Requests the victim wrote before it died reach the emulator (in this process) moments later;
    // nobody else may delete what it was revoking until its claim runs out, seconds from now.
    await new Promise((res) => setTimeout(res, 250));
    kills.push({ victim, before, at: arrivals(emulator), probeUser, probeLease });
    const err = await probe;
    assert.ok(err instanceof LessorClientError && err.code === Code.UNAVAILABLE, `the probe failed with the kill: ${String(err)}`);
    // Same database, same data directory, same address: clients and watchers reconnect by themselves.
    const restarted = await c.start(r.dataDir, r.server.address);
    r.server = restarted;
    assert.equal(restarted.rootToken, undefined, "a restarted replica prints no root token");
    // Until the restarted replica answers, calls to it may still fail as the channel reconnects.
    await waitFor(`${r.name} to answer again`, () => r.client.mounts.list().then(() => true, () => false), 10_000, 50);
    down.delete(victim);
  }

  async function crashes(): Promise<void> {
    for (const [i, which] of VICTIMS.entries()) {
      await waitFor(`${((i + 1) * 100) / (VICTIMS.length + 1)}% of the load to be done`, () => opsDone >= ((i + 1) * WORKERS * OPS_PER_WORKER) / (VICTIMS.length + 1), 60_000, 10);
      // Its death must leave no event unnumbered (another replica takes the role) and none delivered twice.
      const victim = which === "sequencer" ? await waitFor("a replica to be the sequencer", () => sequencer(c).catch(() => undefined), 10_000, 100) : which;
      await crashAndRestart(victim);
    }
  }

  async function worker(w: number): Promise<void> {
    for (let i = 0; i < OPS_PER_WORKER; i++) {
      const target = (w + i) % 3;
      const roll = Math.random();
      if (roll < 0.35) await issue(target, false);
      else if (roll < 0.6) await issue(target, true);
      else if (roll < 0.8) await renew();
      else await revoke();
      opsDone++;
    }
  }

  const loadStarted = Date.now();
  await Promise.all([...Array.from({ length: WORKERS }, (_, w) => worker(w)), crashes()]);
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  assert.deepEqual(failures, [], "no call failed except calls to a killed replica while it was down");
  assert.equal(kills.length, VICTIMS.length, "every kill happened");
  for (const victim of new Set(kills.map((k) => k.victim))) assert.doesNotMatch(replica(c, victim).server.output(), /Error/, "a restarted replica logs no error");
  emulator.clearFaults();

  // Expiry settles: nothing active past its expiry, nothing revoking.
  const client = replica(c, 0).client;
  const listAll = async (): Promise<LeaseInfo[]> => {
    const out: LeaseInfo[] = [];
    for (const mount of ["aws/creds/", "short/creds/"]) for await (const l of client.leases.listAll(mount, { pageSize: 1000 })) out.push(l);
    return out;
  };
  const unsettled = (l: LeaseInfo) =>
    l.state === LeaseState.LEASE_STATE_REVOKING || (l.state === LeaseState.LEASE_STATE_ACTIVE && (l.expireTime?.getTime() ?? 0) <= Date.now());
  // Short leases all expire within seconds of the load's end. A revocation a
  // killed replica had claimed is taken up again once its claim runs out.
  const isShort = (l: LeaseInfo) => l.id.startsWith("short/");
  await waitFor(
    "every expired lease to be revoked",
    async () => (await listAll()).every((l) => !unsettled(l) && (!isShort(l) || l.state === LeaseState.LEASE_STATE_REVOKED)),
    60_000,
    250,
  );
  // Half-made issuances the kill left (an IAM user, no lease) are rolled back as soon as the replica is seen dead.
  const liveIds = async () => new Set((await listAll()).filter((l) => l.state === LeaseState.LEASE_STATE_ACTIVE).map((l) => l.id));
  const leaseOf = (u: { tags: Array<{ Key: string; Value: string }> }) => u.tags.find((tag) => tag.Key === "lessor-lease-id")?.Value;
  const orphansAfterLoad = emulator.listUsers().filter((u) => !issued.has(leaseOf(u) ?? "")).length;
  const settleStarted = Date.now();
  await waitFor(
    "every IAM user to belong to a live lease (half-made issuances rolled back)",
    async () => {
      const live = await liveIds();
      return emulator.listUsers().every((u) => live.has(leaseOf(u) ?? ""));
    },
    ROLLBACK_WAIT_MS,
    1_000,
  );
  const settleSeconds = (Date.now() - settleStarted) / 1000;

  const leases = await listAll();
  const byId = new Map(leases.map((l) => [l.id, l]));
  const counts = emulator.counts();
  const users = new Map(emulator.listUsers().map((u) => [u.userName, u]));

  // Every lease is live or revoked: none stuck revoking, none irrevocable.
  for (const l of leases) {
    assert.ok(l.state === LeaseState.LEASE_STATE_ACTIVE || l.state === LeaseState.LEASE_STATE_REVOKED, `${l.id} is live or revoked, not ${LeaseState[l.state]}`);
  }
  // Every lease the test was given is there, as its history says.
  for (const lease of issued.values()) {
    const l = byId.get(lease.id);
    assert.ok(l, `${lease.id} (issued on r${lease.on + 1}) is recorded`);
    if (lease.short || lease.revoked) {
      assert.equal(l.state, LeaseState.LEASE_STATE_REVOKED, `${lease.id} (${lease.short ? "expired" : "revoked"}) is revoked`);
      assert.equal(users.get(lease.user), undefined, `the user of ${lease.id} is gone`);
      assert.equal(counts.deleteUserSuccesses[lease.user], 1, `the user of ${lease.id} was deleted`);
    } else {
      assert.equal(l.state, LeaseState.LEASE_STATE_ACTIVE, `${lease.id} is live`);
      const user = users.get(lease.user);
      assert.ok(user, `the user of live lease ${lease.id} exists`);
      assert.equal(user.accessKeys.length, 1);
      if (lease.renewedTo !== undefined) assert.equal(l.expireTime?.getTime(), lease.renewedTo, `${lease.id} keeps its last renewal`);
    }
  }
  // No IAM user without a live lease.
  for (const u of users.values()) {
    const id = leaseOf(u);
    assert.ok(id, `user ${u.userName} carries its lease id`);
    assert.equal(byId.get(id)?.state, LeaseState.LEASE_STATE_ACTIVE, `user ${u.userName} belongs to a live lease`);
  }
  // Each kill interrupted an issuance under way: its IAM user was rolled back, and no lease records it.
  for (const k of kills) {
    assert.notEqual(k.probeLease, "", `the probe user ${k.probeUser} carried its lease id`);
    assert.equal(users.get(k.probeUser), undefined, `the interrupted issuance's user ${k.probeUser} (killed r${k.victim + 1}) was rolled back`);
    assert.equal(byId.get(k.probeLease), undefined, `no lease was recorded for the interrupted issuance ${k.probeLease}`);
    assert.equal(counts.deleteUserSuccesses[k.probeUser], 1, `the rollback deleted ${k.probeUser}`);
  }
  // No user deleted twice. The one exception: a DeleteUser that reached IAM
  // shortly before a kill and was sent again after it (the killed replica's
  // revocation under way: it cannot be known to have happened, so another
  // replica retries it once the claim runs out).
  const twice: string[] = [];
  const excused: string[] = [];
  for (const [user, calls] of Object.entries(deletions(emulator))) {
    if (calls === 1) continue;
    const straddles = calls === 2 && kills.some((k) => k.before[user] === undefined && k.at[user] === 1);
    const lease = [...issued.values()].find((l) => l.user === user);
    const what = lease ? `${lease.short ? "expired" : "revoked by the test"}, issued on r${lease.on + 1}` : "a lease the test never got";
    const atKills = kills.map((k) => `${k.at[user] ?? 0} reached IAM by kill of r${k.victim + 1}`).join(", ");
    (straddles ? excused : twice).push(`${user} (${what}): ${calls} DeleteUser calls; ${atKills}`);
  }
  assert.deepEqual(twice, [], "no IAM user was deleted twice");
  // Under way on a killed replica: at most its expiry pool (16 by default) and one RevokeLease per worker.
  assert.ok(excused.length <= VICTIMS.length * (16 + WORKERS), `at most the killed replicas' revocations under way were retried: ${excused.join(", ")}`);

  // Every lease event reached both watchers once, in the same order; the killed replica's watcher resumed across the restart.
  // The last revocations committed moments ago; watchers poll, so give them until every revoked
  // lease's end event has arrived (an event skipped for good never arrives, and this times out).
  const isEnd = (e: LeaseEvent) => e.type === T.LEASE_EVENT_TYPE_REVOKED || e.type === T.LEASE_EVENT_TYPE_EXPIRED;
  const hasEveryEnd = (w: (typeof watchers)[number]) =>
    leases.every((l) => l.state !== LeaseState.LEASE_STATE_REVOKED || w.events.some((e) => e.leaseId === l.id && isEnd(e)));
  await waitFor("both watchers to see the end of every revoked lease", () => watchers.every(hasEveryEnd), 10_000);
  const maxSequence = Math.max(...watchers.flatMap((w) => w.events.map((e) => e.sequence)));
  await waitFor("both watchers to catch up", () => watchers.every((w) => w.events.at(-1)?.sequence === maxSequence), 10_000);
  const [w2, w3] = watchers as [(typeof watchers)[number], (typeof watchers)[number]];
  const shape = (events: LeaseEvent[]) => events.map((e) => `${e.sequence} ${T[e.type]} ${e.leaseId}`);
  assert.deepEqual(shape(w3.events), shape(w2.events), "the watchers on the killed replicas resumed without losing or repeating an event");
  assert.ok(w2.reconnects() >= 1 && w3.reconnects() >= 1, "both watchers did reconnect");
  assert.deepEqual(watchers.map((w) => w.error()), [undefined, undefined], "neither watch failed");
  const sequences = w2.events.map((e) => e.sequence);
  assert.equal(new Set(sequences).size, sequences.length);
  assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b));
  for (const l of leases) {
    const types = w2.events.filter((e) => e.leaseId === l.id).map((e) => e.type);
    assert.equal(types[0], T.LEASE_EVENT_TYPE_CREATED, `${l.id}: created first`);
    const ends = types.filter((ty) => ty === T.LEASE_EVENT_TYPE_REVOKED || ty === T.LEASE_EVENT_TYPE_EXPIRED);
    assert.equal(ends.length, l.state === LeaseState.LEASE_STATE_REVOKED ? 1 : 0, `${l.id}: one end event if revoked, none if live (${types.map((ty) => T[ty]).join(", ")})`);
  }
  for (const lease of issued.values()) {
    if (!lease.short) continue;
    assert.ok(w2.events.some((e) => e.leaseId === lease.id && e.type === T.LEASE_EVENT_TYPE_EXPIRED), `${lease.id} ended as expired`);
  }

  const state = (s: LeaseState) => leases.filter((l) => l.state === s).length;
  assert.ok([...issued.values()].some((l) => l.short) && [...issued.values()].some((l) => l.revoked) && [...issued.values()].some((l) => l.renewedTo !== undefined), "the load issued, expired, renewed and revoked leases");
  t.diagnostic(
    `load ${loadSeconds.toFixed(1)} s: ${issued.size} leases returned, ${unavailable} calls refused by the killed replica (${unknownOutcome} issuances with unknown outcome); ` +
      `${leases.length} leases recorded (${state(LeaseState.LEASE_STATE_ACTIVE)} live, ${state(LeaseState.LEASE_STATE_REVOKED)} revoked); ` +
      `${orphansAfterLoad} IAM users without a returned lease after the load, rolled back within ${settleSeconds.toFixed(1)} s; ` +
      `${excused.length} DeleteUser retried across the kills; ${w2.events.length} events`,
  );
});

test("a revocation slower than the retry delay is not taken up by a second replica while the first is still at it", { skip: PG_ONLY, timeout: 60_000 }, async (t) => {
  const c = await startCluster(t);
  await configure(c);
  const { emulator } = c;
  for (const r of c.replicas) {
    await waitFor(`${r.name} to see the short/ mount`, async () => (await r.client.mounts.list()).some((m) => m.path === "short/"), 10_000, 100);
  }
  const COUNT = 6;
  const leases = await Promise.all(Array.from({ length: COUNT }, (_, i) => replica(c, i % 3).client.aws.creds("deploy", { mount: "short" })));
  const users = leases.map((l) => userOfKey(emulator, l.accessKeyId));
  // IAM slow to answer DeleteUser (throttled, or a bad minute): a revocation takes longer than the first retry delay (0.5-1 s).
  emulator.addFault({ action: "DeleteUser", latencyMs: 2_000 });
  await waitFor(
    "the short leases to expire and be revoked",
    async () => {
      for (const l of leases) if ((await replica(c, 0).client.leases.lookup(l.lease.id)).state !== LeaseState.LEASE_STATE_REVOKED) return false;
      return true;
    },
    30_000,
    250,
  );
  const calls = deletions(emulator);
  assert.deepEqual(
    users.map((u) => `${u}: ${calls[u] ?? 0}`),
    users.map((u) => `${u}: 1`),
    "one DeleteUser per expired lease, though three replicas run expiry",
  );
});
