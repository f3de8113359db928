// `npm run bench -- replicas` (issue 8): lease-creating reads/s and
// revocations/s on SQLite, on one PostgreSQL with 1 replica and with 3, and
// PostgreSQL's own ceiling for the same writes (pgbench running the SQL the
// pg store runs for a lease creation and for a revocation), so the ratio
// Lessor/pgbench shows Lessor's overhead over its database.
//
// The engine is bench/lease-engine.ts (secrets that exist nowhere outside
// Lessor), so the figures measure Lessor and its store, not IAM. Server side
// (the Lessor replicas and PostgreSQL) on CPU 0; h2load, pgbench and this
// runner on CPU 1.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import Database from "better-sqlite3";
import pgLib from "pg";
import { LessorClient } from "@lessor/client";
import { ReadRequest } from "@lessor/client/gen/lessor/v1/secrets.js";
import { Keyring } from "../src/store/encryption.js";
import { EVENT_LOCK } from "../src/store/pg-db.js";
import { openStore } from "../src/store/open.js";
import { startPostgres, type Postgres } from "../test/helpers/postgres.js";
import { runH2load, type H2loadRun } from "./lib/h2load.js";
import { spawnServer, type BenchServer } from "./lib/processes.js";

export interface ReplicaBenchRow {
  what: string;
  figure: string;
  target: string;
  met: boolean | undefined;
}

export interface ReplicaBenchOptions {
  work: string;
  seconds: number;
  warmupSeconds: number;
  clients: number;
  streams: number;
  serverCpu: number;
  loadCpu: number;
  log: (s: string) => void;
}

const PgClient = pgLib.Client;
const BENCH_DIR = fileURLToPath(new URL(".", import.meta.url));
const LEASE_ENGINE = join(BENCH_DIR, "lease-engine.js");
const MASS_LEASES = Number(process.env.BENCH_REPLICA_LEASES ?? 20_000);
/** Revocations running at once per replica (as measurement 4). */
const EXPIRY_CONCURRENCY = 64;
const PGBENCH_CLIENTS = 16;

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  name: string;
  /** PostgreSQL database, or undefined for SQLite. */
  db: string | undefined;
  replicas: number;
}

interface Measured {
  /** Where PostgreSQL's busy backends were during the reads: wait event → share of samples. */
  waits: Array<[string, number]>;
  /** PostgreSQL transactions committed per lease issued (reads phase), from pg_stat_database. */
  commitsPerLease: number | undefined;
  readsPerSecond: number;
  revocationsPerSecond: number;
  reads: number;
}

/** Pins PostgreSQL (the postmaster, its running children, and so every backend it forks later) to one CPU. */
function pinPostgres(pg: Postgres, cpu: number): void {
  const pid = Number(readFileSync(join(pg.baseDir as string, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).split("\n").filter((s) => s !== "");
  for (const p of [String(pid), ...children]) execFileSync("taskset", ["-a", "-p", "-c", String(cpu), p], { stdio: "ignore" });
}

async function startReplicas(o: ReplicaBenchOptions, setup: Setup, pg: Postgres, sealKey: string, tag: string): Promise<{ servers: BenchServer[]; dirs: string[] }> {
  const dirs = Array.from({ length: setup.replicas }, (_, i) => join(o.work, `${setup.name}-${i}`));
  const args = ["-revoke-rate=0", `-expiry-concurrency=${EXPIRY_CONCURRENCY}`, `-expiry-mount-concurrency=${EXPIRY_CONCURRENCY}`, "-log-level=warn"];
  if (setup.db) args.push(`-storage-url=${pg.url(setup.db)}`);
  const servers: BenchServer[] = [];
  for (const dataDir of dirs) {
    servers.push(await spawnServer({ dataDir, cpu: o.serverCpu, preload: [LEASE_ENGINE], env: { LESSOR_SEAL_KEY: sealKey }, args }));
  }
  await Promise.all(servers.map((s) => s.ready));
  o.log(`   ${tag}: ${servers.length} server(s) up`);
  return { servers, dirs };
}

/** Leases under `prefix` that are revoked, read straight from the database (cheap, and the same for every replica). */
async function revokedCount(setup: Setup, pg: Postgres, dataDir: string, prefix: string): Promise<number> {
  if (setup.db) {
    const rows = await pg.query<{ n: string }>("SELECT count(*) AS n FROM leases WHERE state = 'revoked' AND id LIKE $1", [`${prefix}%`], setup.db);
    return Number(rows[0]?.n ?? 0);
  }
  const db = new Database(join(dataDir, "lessor.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM leases WHERE state = 'revoked' AND id LIKE ?").get(`${prefix}%`) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Moves the expiry (and due time) of every lease under `prefix` to `at` (servers stopped). */
async function setExpiry(setup: Setup, pg: Postgres, dataDir: string, prefix: string, at: number): Promise<void> {
  if (setup.db) {
    await pg.query("UPDATE leases SET expire_time = $1, max_expire_time = $1, due_time = $1 WHERE id LIKE $2", [at, `${prefix}%`], setup.db);
    return;
  }
  const db = new Database(join(dataDir, "lessor.db"), { fileMustExist: true });
  try {
    db.prepare("UPDATE leases SET expire_time = ?, max_expire_time = ?, due_time = ? WHERE id LIKE ?").run(at, at, at, `${prefix}%`);
  } finally {
    db.close();
  }
}

async function activeCount(setup: Setup, pg: Postgres, dataDir: string, prefix: string): Promise<number> {
  if (setup.db) {
    const rows = await pg.query<{ n: string }>("SELECT count(*) AS n FROM leases WHERE state = 'active' AND id LIKE $1", [`${prefix}%`], setup.db);
    return Number(rows[0]?.n ?? 0);
  }
  const db = new Database(join(dataDir, "lessor.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM leases WHERE state = 'active' AND id LIKE ?").get(`${prefix}%`) as { n: number }).n;
  } finally {
    db.close();
  }
}

async function measure(o: ReplicaBenchOptions, setup: Setup, pgServer: Postgres): Promise<Measured> {
  const pg = pgServer;
  const sealKey = randomBytes(32).toString("base64");
  if (setup.db) await pg.createDatabase(setup.db);

  // --- lease-creating reads, spread over the replicas (one h2load each, the connections split between them)
  o.log(`R. ${setup.name}: lease-creating reads...`);
  let { servers, dirs } = await startReplicas(o, setup, pg, sealKey, setup.name);
  const token = (await Promise.all(servers.map((s) => s.ready))).map((r) => r.rootToken).find((t) => t !== undefined);
  if (!token) throw new Error(`${setup.name}: no replica printed a root token`);
  const first = new LessorClient({ address: (servers[0] as BenchServer).address, token });
  await first.mounts.enable("bench-lease", { path: "nothing" });
  const accessor = (await first.mounts.list()).find((m) => m.path === "nothing/")?.accessor;
  first.close();
  if (!accessor) throw new Error("no nothing/ mount");
  // Every replica serves the mount (the others pick it up at their next config poll).
  for (const s of servers) {
    const c = new LessorClient({ address: s.address, token });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ok = await c.read("nothing/creds/warm").then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${s.address} never served nothing/`);
      await sleep(100);
    }
    c.close();
  }
  const commits = async (): Promise<number | undefined> => {
    if (!setup.db) return undefined;
    const row = (await pg.query<{ n: string }>("SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1", [setup.db]))[0];
    return Number(row?.n);
  };
  const commitsBefore = await commits();
  const body = ReadRequest.encode({ path: "nothing/creds/bench", data: undefined }).finish();
  const perReplica = Math.max(1, Math.round(o.clients / servers.length));
  // What the database's busy backends wait for during the reads, sampled on one connection of our own.
  const waitCounts = new Map<string, number>();
  let sampling = setup.db !== undefined;
  const sampler = (async () => {
    if (!setup.db) return;
    const client = new PgClient({ connectionString: pgServer.url(setup.db) });
    await client.connect();
    try {
      while (sampling) {
        const { rows } = await client.query<{ w: string }>(
          "SELECT coalesce(wait_event_type || ':' || wait_event, 'running') AS w FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()",
        );
        for (const r of rows) waitCounts.set(r.w, (waitCounts.get(r.w) ?? 0) + 1);
        await sleep(100);
      }
    } finally {
      await client.end();
    }
  })();
  const runs: H2loadRun[] = await Promise.all(
    servers.map((s, i) =>
      runH2load({
        url: `http://${s.address}/lessor.v1.SecretsService/Read`,
        body,
        bodyFile: join(o.work, `replica-body-${i}.bin`),
        token,
        seconds: o.seconds,
        warmupSeconds: o.warmupSeconds,
        clients: perReplica,
        streams: o.streams,
        cpu: o.loadCpu,
      }),
    ),
  );
  for (const run of runs) {
    if (run.failed > 0 || run.errored > 0 || run.succeeded === 0 || run.dataBytesPerRequest < 100) {
      throw new Error(`${setup.name}: the reads did not all succeed (${run.failed} failed, ${run.errored} errored):\n${run.raw}`);
    }
  }
  sampling = false;
  await sampler;
  const samples = [...waitCounts.values()].reduce((a, b) => a + b, 0);
  const waits = [...waitCounts.entries()].sort((a, b) => b[1] - a[1]).map(([w, n]): [string, number] => [w, n / samples]);
  const readsPerSecond = runs.reduce((n, r) => n + r.rps, 0);
  const reads = runs.reduce((n, r) => n + r.succeeded, 0);
  o.log(`   ${fmt(readsPerSecond)} reads/s (${runs.map((r) => fmt(r.rps)).join(" + ")})`);
  await Promise.all(servers.map((s) => s.stop()));
  const recorded = await activeCount(setup, pg, dirs[0] as string, "nothing/creds/bench/");
  if (recorded < reads) throw new Error(`${setup.name}: only ${recorded} leases recorded for ${reads} reads`);
  await sleep(1_500); // statistics reach pg_stat_database within a second
  const commitsAfter = await commits();
  const commitsPerLease = commitsBefore === undefined || commitsAfter === undefined ? undefined : (commitsAfter - commitsBefore) / recorded;

  // --- revocations: MASS_LEASES leases expiring at one moment, revoked by the replicas' expiry schedulers
  o.log(`R. ${setup.name}: seeding ${fmt(MASS_LEASES)} leases expiring at once...`);
  const store = await openStore({ dataDir: dirs[0] as string, storageUrl: setup.db ? pg.url(setup.db) : undefined, keyring: Keyring.fromBase64(sealKey) });
  // Seeded far in the future (seeding takes a while), then all moved to one moment a few seconds ahead.
  const later = Date.now() + 3_600_000;
  const prefix = "nothing/creds/mass/";
  for (let i = 0; i < MASS_LEASES; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, MASS_LEASES - i) }, (_, j) =>
        store.leases.insertFromIntent(
          {
            id: `${prefix}${String(i + j).padStart(8, "0")}`,
            mountAccessor: accessor,
            secretType: "nothing",
            internal: { name: "mass" },
            issueTime: Date.now(),
            expireTime: later,
            maxExpireTime: later,
            ttlSeconds: 3600,
            renewable: true,
            tokenAccessor: null,
          },
          null,
        ),
      ),
    );
  }
  await store.close();
  const expireAt = Date.now() + 10_000;
  await setExpiry(setup, pg, dirs[0] as string, prefix, expireAt);
  ({ servers, dirs } = await startReplicas(o, setup, pg, sealKey, setup.name));
  if (Date.now() > expireAt - 1_000) throw new Error(`${setup.name}: the replicas took too long to start`);
  await sleep(Math.max(0, expireAt - Date.now()));
  const start = Math.max(Date.now(), expireAt);
  let revoked = 0;
  while (revoked < MASS_LEASES) {
    await sleep(100);
    revoked = await revokedCount(setup, pg, dirs[0] as string, prefix);
    if (Date.now() - start > 300_000) throw new Error(`${setup.name}: only ${revoked} of ${MASS_LEASES} revoked after 5 minutes`);
  }
  const seconds = (Date.now() - start) / 1000;
  await Promise.all(servers.map((s) => s.stop()));
  const revocationsPerSecond = MASS_LEASES / seconds;
  o.log(`   ${fmt(MASS_LEASES)} revoked in ${fmt(seconds, 1)} s: ${fmt(revocationsPerSecond)} revocations/s`);
  return { readsPerSecond, revocationsPerSecond, reads, commitsPerLease, waits };
}

// ---- PostgreSQL's own ceiling: pgbench with the pg store's SQL ----

/** A lease creation as the pg store writes it: the intent (its own commit), then the lease, its event and the intent's end. */
const CREATE_SCRIPT = `
INSERT INTO intents (id, lease_id, mount_accessor, secret_type, data, created_at)
  VALUES (gen_random_uuid()::text, 'x', :accessor, 'nothing', decode(repeat('ab', 60), 'hex'), (extract(epoch from now()) * 1000)::bigint)
  RETURNING id AS intent_id \\gset
BEGIN;
DELETE FROM intents WHERE id = (:intent_id)::text AND claimed_at IS NULL;
INSERT INTO leases (id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time, renewable, state, token_accessor, due_time)
  VALUES ('nothing/creds/pgbench/' || (:intent_id)::text, :accessor, 'nothing', decode(repeat('cd', 60), 'hex'), (:now)::bigint, (:now)::bigint + 2764800000, (:now)::bigint + 2764800000, true, 'active', NULL, (:now)::bigint + 2764800000);
SELECT pg_advisory_xact_lock(${EVENT_LOCK});
INSERT INTO lease_events (type, lease_id, time, expire_time, detail) VALUES ('created', 'nothing/creds/pgbench/' || (:intent_id)::text, (:now)::bigint, (:now)::bigint + 2764800000, NULL);
COMMIT;
`;

/** A revocation as the expiry scheduler and the pg store do it: take a due lease (claim), then mark it revoked with its event. */
const REVOKE_SCRIPT = `
UPDATE leases SET state = 'revoking', due_time = (:now)::bigint + 30000, next_attempt_time = (:now)::bigint + 30000, claimed_until = (:now)::bigint + 30000
  WHERE id = (SELECT id FROM leases WHERE due_time <= (:now)::bigint AND id LIKE 'nothing/creds/pgmass/%' ORDER BY due_time LIMIT 1 FOR UPDATE SKIP LOCKED)
    AND (claimed_until IS NULL OR claimed_until <= (:now)::bigint)
    AND (state = 'revoking' OR (state = 'active' AND expire_time <= (:now)::bigint))
  RETURNING id AS lease_id \\gset
BEGIN;
UPDATE leases SET state = 'revoked', due_time = NULL, next_attempt_time = NULL, revoke_time = (:now)::bigint, last_error = NULL, claimed_until = NULL
  WHERE id = (:lease_id)::text AND state != 'revoked';
SELECT pg_advisory_xact_lock(${EVENT_LOCK});
INSERT INTO lease_events (type, lease_id, time, expire_time, detail) VALUES ('expired', (:lease_id)::text, (:now)::bigint, NULL, NULL);
COMMIT;
`;

function pgbench(o: ReplicaBenchOptions, pg: Postgres, db: string, script: string, file: string, limit: string[], accessor: string): Promise<number> {
  writeFileSync(join(o.work, file), script);
  const args = [
    "-n",
    "-M", "prepared",
    "-c", String(PGBENCH_CLIENTS),
    "-j", "1",
    ...limit,
    "-D", `accessor=${accessor}`,
    "-D", `now=${Date.now()}`,
    "-f", join(o.work, file),
    "-h", pg.host,
    "-p", String(pg.port),
    "-U", pg.user,
    db,
  ];
  return new Promise((resolve, reject) => {
    const p = spawn("taskset", ["-c", String(o.loadCpu), "pgbench", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (c: Buffer) => (out += c.toString()));
    p.stderr.on("data", (c: Buffer) => (out += c.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
      const failed = /number of failed transactions: (\d+)/.exec(out)?.[1];
      if (code !== 0 || !Number.isFinite(tps) || (failed !== undefined && failed !== "0")) reject(new Error(`pgbench exited ${code}:\n${out}`));
      else resolve(tps);
    });
  });
}

async function pgbenchCeiling(o: ReplicaBenchOptions, pg: Postgres): Promise<{ createTps: number; revokeTps: number }> {
  const db = "pgbench_ceiling";
  await pg.createDatabase(db);
  // The schema exactly as Lessor makes it: one start of a server on the database.
  const { servers } = await startReplicas(o, { name: "schema", db, replicas: 1 }, pg, randomBytes(32).toString("base64"), "pgbench schema");
  const token = (await (servers[0] as BenchServer).ready).rootToken as string;
  const c = new LessorClient({ address: (servers[0] as BenchServer).address, token });
  await c.mounts.enable("bench-lease", { path: "nothing" });
  const accessor = (await c.mounts.list()).find((m) => m.path === "nothing/")?.accessor as string;
  c.close();
  await (servers[0] as BenchServer).stop();

  o.log("R. pgbench: lease creations...");
  const createTps = await pgbench(o, pg, db, CREATE_SCRIPT, "create.sql", ["-T", String(o.seconds)], accessor);
  o.log(`   ${fmt(createTps)} creations/s`);

  const perClient = Math.floor(MASS_LEASES / PGBENCH_CLIENTS);
  await pg.query(
    `INSERT INTO leases (id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time, renewable, state, due_time)
     SELECT 'nothing/creds/pgmass/' || lpad(i::text, 8, '0'), $1, 'nothing', decode(repeat('cd', 60), 'hex'), 0, 1, 1, true, 'active', 1
     FROM generate_series(1, $2::int) AS i`,
    [accessor, perClient * PGBENCH_CLIENTS],
    db,
  );
  await pg.query("VACUUM ANALYZE leases", [], db);
  o.log("R. pgbench: revocations...");
  const revokeTps = await pgbench(o, pg, db, REVOKE_SCRIPT, "revoke.sql", ["-t", String(perClient)], accessor);
  o.log(`   ${fmt(revokeTps)} revocations/s`);
  const left = await pg.query<{ n: string }>("SELECT count(*) AS n FROM leases WHERE id LIKE 'nothing/creds/pgmass/%' AND state != 'revoked'", [], db);
  if (Number(left[0]?.n) !== 0) throw new Error(`pgbench left ${left[0]?.n} leases unrevoked`);
  return { createTps, revokeTps };
}

/** Runs the replicas benchmark; returns the RESULTS.md section (markdown). */
export async function benchReplicas(o: ReplicaBenchOptions): Promise<string> {
  o.log("R. starting PostgreSQL (fsync on, synchronous_commit off: SQLite's WAL + synchronous=NORMAL guarantee)...");
  const loadBefore = loadavg()[0] ?? 0;
  const pg = await startPostgres({ settings: { fsync: "on", full_page_writes: "on", synchronous_commit: "off", max_connections: "200", shared_buffers: "256MB" } });
  try {
    pinPostgres(pg, o.serverCpu);
    const version = (await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]?.v ?? "?";
    const sqlite = await measure(o, { name: "sqlite", db: undefined, replicas: 1 }, pg);
    const one = await measure(o, { name: "pg-1", db: "bench_one", replicas: 1 }, pg);
    const three = await measure(o, { name: "pg-3", db: "bench_three", replicas: 3 }, pg);
    const ceiling = await pgbenchCeiling(o, pg);

    const rows: ReplicaBenchRow[] = [
      {
        what: "R1. lease-creating reads/s (engine with no external side)",
        figure: `SQLite **${fmt(sqlite.readsPerSecond)}**; PostgreSQL, 1 replica **${fmt(one.readsPerSecond)}** (${fmt(one.readsPerSecond / sqlite.readsPerSecond, 2)} of SQLite); 3 replicas **${fmt(three.readsPerSecond)}** (${fmt(three.readsPerSecond / one.readsPerSecond, 2)} of 1 replica)`,
        target: "(reported)",
        met: undefined,
      },
      {
        what: `R2. revocations/s (${fmt(MASS_LEASES)} leases expiring at once, revoke rate unlimited, ${EXPIRY_CONCURRENCY} at once per replica)`,
        figure: `SQLite **${fmt(sqlite.revocationsPerSecond)}**; PostgreSQL, 1 replica **${fmt(one.revocationsPerSecond)}** (${fmt(one.revocationsPerSecond / sqlite.revocationsPerSecond, 2)} of SQLite); 3 replicas **${fmt(three.revocationsPerSecond)}** (${fmt(three.revocationsPerSecond / one.revocationsPerSecond, 2)} of 1 replica)`,
        target: "(reported)",
        met: undefined,
      },
      {
        what: `R3. PostgreSQL's own ceiling for the same writes (pgbench, ${PGBENCH_CLIENTS} clients, the pg store's SQL) and Lessor ÷ pgbench`,
        figure: `creations ${fmt(ceiling.createTps)}/s → Lessor 1 replica **${fmt(one.readsPerSecond / ceiling.createTps, 2)}**, 3 replicas **${fmt(three.readsPerSecond / ceiling.createTps, 2)}**; revocations ${fmt(ceiling.revokeTps)}/s → Lessor 1 replica **${fmt(one.revocationsPerSecond / ceiling.revokeTps, 2)}**, 3 replicas **${fmt(three.revocationsPerSecond / ceiling.revokeTps, 2)}**`,
        target: "(reported)",
        met: undefined,
      },
    ];
    const loadAfter = loadavg()[0] ?? 0;
    const waitText = (m: Measured) => m.waits.slice(0, 3).map(([w, share]) => `${w} ${fmt(share * 100)}%`).join(", ");
    const notes = [
      `PostgreSQL ${version} from Debian's packages, a fresh cluster (initdb) in a temporary directory, \`fsync=on\`, \`synchronous_commit=off\`, \`shared_buffers=256MB\`: a commit survives a crash of Lessor or PostgreSQL and may be lost (never corrupted) on a power loss, the same guarantee as Lessor's SQLite (WAL, \`synchronous=NORMAL\`). pgbench runs against the same cluster.`,
      `CPUs: every Lessor replica and PostgreSQL (postmaster and backends, \`taskset\`) on CPU 0; h2load, pgbench and this runner on CPU 1. With one core for the server side, 3 replicas share the core 1 replica had: R1 and R2 show what coordinating through the database costs (connections, row locks, the event lock, SKIP LOCKED claims), not the scale-out three machines would give.`,
      `Reads: h2load per replica, ${o.clients} connections split between the replicas, ${o.streams} streams each, ${o.warmupSeconds} s warm-up then ${o.seconds} s; each read of \`nothing/creds/bench\` commits an intent, then the lease, its event and the intent's end (bench/lease-engine.ts); every lease is checked to be recorded. In cluster mode each request also reads its token from the database (no in-memory token memory across replicas).`,
      `Revocations: ${fmt(MASS_LEASES)} leases seeded through the store API (servers stopped), then their expiry set to one moment (an UPDATE of expire_time and due_time) just after the replicas start; timed from that moment until the database says all are revoked. Each revocation is a claim (UPDATE) and then the revoked state with its event (UPDATE, INSERT); the engine's revoke costs nothing.`,
      `PostgreSQL transactions committed per lease issued during the reads (pg_stat_database, every statement of the replicas included): 1 replica ${fmt(one.commitsPerLease ?? NaN, 2)}, 3 replicas ${fmt(three.commitsPerLease ?? NaN, 2)}; without group commit it would be at least 3 (the token read, the intent, the lease).`,
      `What PostgreSQL's busy backends were doing during the reads (pg_stat_activity every 100 ms; ClientRead: inside a transaction, waiting for Lessor's next statement; Lock:advisory: waiting for the event lock every event-writing transaction takes until it commits): 1 replica ${waitText(one)}; 3 replicas ${waitText(three)}.`,
      three.readsPerSecond < one.readsPerSecond
        ? `Likely why 3 replicas issue fewer leases than 1 here (from the waits above): every transaction that writes lease events holds one advisory lock (EVENT_LOCK, so events become visible in sequence order) from its event INSERT through its COMMIT, across replicas. Its holder needs its own Lessor process scheduled for the next round trip; with three Node processes and PostgreSQL on one core (and the machine loaded), that wait grows, every other replica's group commit queues behind it, and each replica's groups get smaller (a third of the load each), so more lock turns per lease.`
        : `3 replicas kept up with 1 replica on the same core: coordinating through the database cost no throughput here.`,
      `The machine is shared (other engineers' builds and test suites): load average ${fmt(loadBefore, 1)} at the start of this section, ${fmt(loadAfter, 1)} at its end, on 2 cores. Every figure here is from one run under that load; the ratios are measured back to back to limit its effect, not to remove it.`,
      `pgbench: one pgbench transaction is one lease creation (the intent INSERT committed alone, then DELETE intent + INSERT lease + the event lock + INSERT event in one transaction) or one revocation (the claim UPDATE ... FOR UPDATE SKIP LOCKED, then UPDATE + event lock + INSERT event), prepared statements, one lease per transaction. Lessor groups the writes arriving together into one transaction (group commit), which pgbench does not, so a ratio above 1 is possible. Lessor's reads (token, due leases in batches) are not in the scripts.`,
    ];
    return [
      "## Replicas on PostgreSQL (issue 8)",
      "",
      `Run: ${new Date().toISOString()} (\`npm run bench -- replicas\`).`,
      "",
      "| Measurement | Result | Target | Met |",
      "| --- | --- | --- | --- |",
      ...rows.map((r) => `| ${r.what} | ${r.figure} | ${r.target} | ${r.met === undefined ? "" : r.met ? "yes" : "**no**"} |`),
      "",
      ...notes.map((n) => `- ${n}`),
      "",
    ].join("\n");
  } finally {
    await pg.stop();
  }
}
