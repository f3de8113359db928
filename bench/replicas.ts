// `npm run bench -- replicas` (issues 8 and 17): lease-creating reads/s and
// revocations/s on SQLite, on one PostgreSQL with 1 replica and with 3, and
// PostgreSQL's own ceiling for the same writes (pgbench running the SQL the
// pg store runs for a lease creation and for a revocation), so the ratio
// Lessor/pgbench shows Lessor's overhead over its database.
//
// The engine is bench/lease-engine.ts (secrets that exist nowhere outside
// Lessor), so the figures measure Lessor and its store, not IAM. Server side
// (the Lessor replicas and PostgreSQL) on CPU 0; h2load, pgbench and this
// runner on CPU 1.
//
// Every RPC's outcome is counted: the measured reads are a fixed number of
// requests (h2load -n, none abandoned at the end), each answered, and each
// must have recorded its lease (a gRPC error answers HTTP 200 too, so h2load
// alone cannot tell): leases recorded = requests sent, or the run fails.
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
import { TOKEN_COLUMNS } from "../src/store/common.js";
import { Keyring } from "../src/store/encryption.js";
import { SEQUENCER_INTERVAL_MS } from "../src/store/pg-sequencer.js";
import { openStore } from "../src/store/open.js";
import { startPostgres, type Postgres } from "../test/helpers/postgres.js";
import { runH2load, type H2loadRun } from "./lib/h2load.js";
import { commitMeasured, cpuSeconds, spawnServer, type BenchServer } from "./lib/processes.js";

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
/** Lease names of the measured reads (the warm-up reads other names). */
const READ_PATH = "nothing/creds/bench";
/** Lease names pgbench makes. */
const PGBENCH_PREFIX = "nothing/creds/pgbench/";

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  name: string;
  /** PostgreSQL database, or undefined for SQLite. */
  db: string | undefined;
  replicas: number;
  /** SQLite only: servers sharing nothing (a store each), to see what several processes on one core cost by themselves. */
  independent?: boolean;
}

interface Measured extends Reads {
  revocationsPerSecond: number;
}

/** Pins PostgreSQL (the postmaster, its running children, and so every backend it forks later) to one CPU. */
function pinPostgres(pg: Postgres, cpu: number): void {
  const pid = Number(readFileSync(join(pg.baseDir as string, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).split("\n").filter((s) => s !== "");
  for (const p of [String(pid), ...children]) execFileSync("taskset", ["-a", "-p", "-c", String(cpu), p], { stdio: "ignore" });
}

/** The cluster's processes: the postmaster and its children (backends, WAL writer, autovacuum...). */
function postgresPids(pg: Postgres): number[] {
  const pid = Number(readFileSync(join(pg.baseDir as string, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).split("\n").filter((s) => s !== "");
  return [pid, ...children.map(Number)];
}

/** CPU seconds used so far by each process (those gone meanwhile are left out). */
function cpuByPid(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuSeconds(pid));
    } catch {
      // exited
    }
  }
  return out;
}

/** CPU seconds used between two readings (a process started in between counts from its start). */
function cpuUsed(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
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

/** Issuance intents left for leases under `prefix` (a read that failed mid-way leaves one until rolled back). */
async function intentCount(setup: Setup, pg: Postgres, dataDir: string, prefix: string): Promise<number> {
  if (setup.db) {
    const rows = await pg.query<{ n: string }>("SELECT count(*) AS n FROM intents WHERE lease_id LIKE $1", [`${prefix}%`], setup.db);
    return Number(rows[0]?.n ?? 0);
  }
  const db = new Database(join(dataDir, "lessor.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM intents WHERE lease_id LIKE ?").get(`${prefix}%`) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Forgets the statement counts so far (pg_stat_statements, in the cluster's postgres database). */
async function resetStatements(pg: Postgres, setup: Setup): Promise<void> {
  if (setup.db) await pg.query("SELECT pg_stat_statements_reset()");
}

/** The statements the replicas ran on `setup.db` since the reset, as calls per lease issued (at least 0.01 each). */
async function statementsPer(pg: Postgres, setup: Setup, leases: number): Promise<Array<[string, number]>> {
  if (!setup.db) return [];
  const rows = await pg.query<{ query: string; calls: string }>(
    `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) ORDER BY calls DESC`,
    [setup.db],
  );
  return rows
    .map((r): [string, number] => [r.query, Number(r.calls) / leases])
    .filter(([query, perLease]) => perLease >= 0.01 && !/pg_stat_activity|pg_stat_statements/.test(query));
}

/** Servers up, each serving the bench mount: with `independent`, each with a store and a root token of its own (SQLite only). */
async function prepare(
  o: ReplicaBenchOptions,
  setup: Setup,
  pg: Postgres,
  sealKey: string,
): Promise<{ servers: BenchServer[]; dirs: string[]; tokens: string[]; accessor: string }> {
  const { servers, dirs } = await startReplicas(o, setup, pg, sealKey, setup.name);
  const printed = (await Promise.all(servers.map((s) => s.ready))).map((r) => r.rootToken);
  const shared = printed.find((t) => t !== undefined);
  const tokens = servers.map((_, i) => (setup.independent ? printed[i] : shared));
  if (!tokens.every((t): t is string => t !== undefined)) throw new Error(`${setup.name}: no root token printed`);
  let accessor: string | undefined;
  for (const [i, s] of servers.entries()) {
    const c = new LessorClient({ address: s.address, token: tokens[i] as string });
    if (i === 0 || setup.independent) {
      await c.mounts.enable("bench-lease", { path: "nothing" });
      accessor ??= (await c.mounts.list()).find((m) => m.path === "nothing/")?.accessor;
    }
    // Every replica serves the mount (the others pick it up at their next config poll).
    const deadline = Date.now() + 15_000;
    while (!(await c.read("nothing/creds/warm").then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error(`${s.address} never served nothing/`);
      await sleep(100);
    }
    c.close();
  }
  if (!accessor) throw new Error("no nothing/ mount");
  return { servers, dirs, tokens, accessor };
}

/**
 * CPU time used by a set of processes over a run, sampled every 100 ms (a
 * process that ends during the run, as pgbench's backends do, counts up to
 * its last sample).
 */
class CpuMeter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: () => number[]) {
    for (const [pid, seconds] of cpuByPid(pids())) this.first.set(pid, seconds);
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sample(): void {
    for (const [pid, seconds] of cpuByPid(this.pids())) this.last.set(pid, seconds);
  }

  /** CPU seconds used since the meter started. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return cpuUsed(this.first, this.last);
  }
}

interface Reads {
  readsPerSecond: number;
  /** Per replica. */
  readRates: number[];
  /** Reads sent, and how many were answered OK (each recorded its lease). */
  reads: number;
  readsOk: number;
  /** CPU time per lease issued during the measured reads: the Lessor processes, and the PostgreSQL cluster's (0 on SQLite). */
  cpuMsPerLease: { lessor: number; postgres: number };
  /** Where PostgreSQL's busy backends were during the reads: wait event → share of samples. */
  waits: Array<[string, number]>;
  /** PostgreSQL transactions committed per lease issued, from pg_stat_database. */
  commitsPerLease: number | undefined;
  /** Statements run per lease issued, from pg_stat_statements: [statement, calls per lease]. */
  statementsPerLease: Array<[string, number]>;
}

/** Lease-creating reads spread over the servers (one h2load each, the connections split between them); stops the servers. */
async function leaseReads(o: ReplicaBenchOptions, setup: Setup, pg: Postgres, servers: BenchServer[], tokens: string[], dirs: string[]): Promise<Reads> {
  o.log(`R. ${setup.name}: lease-creating reads...`);
  const commits = async (): Promise<number | undefined> => {
    if (!setup.db) return undefined;
    const row = (await pg.query<{ n: string }>("SELECT xact_commit AS n FROM pg_stat_database WHERE datname = $1", [setup.db]))[0];
    return Number(row?.n);
  };
  const perReplica = Math.max(1, Math.round(o.clients / servers.length));
  const h2load = (i: number, path: string, count: { requests: number } | { seconds: number; warmupSeconds: number }) =>
    runH2load({
      url: `http://${(servers[i] as BenchServer).address}/lessor.v1.SecretsService/Read`,
      body: ReadRequest.encode({ path, data: undefined }).finish(),
      bodyFile: join(o.work, `replica-body-${i}.bin`),
      token: tokens[i],
      clients: perReplica,
      streams: o.streams,
      cpu: o.loadCpu,
      ...count,
    });
  // Warm-up (its own lease names, not counted), which also sizes the measured run: each replica is sent
  // what it served in the warm-up, scaled to o.seconds.
  const warm = await Promise.all(servers.map((_, i) => h2load(i, "nothing/creds/warm", { seconds: o.warmupSeconds, warmupSeconds: 0 })));
  for (const run of warm) {
    if (run.failed > 0 || run.errored > 0 || run.succeeded === 0) throw new Error(`${setup.name}: the warm-up reads failed (${run.failed} failed, ${run.errored} errored):\n${run.raw}`);
  }
  const requests = warm.map((run) => Math.max(200, Math.ceil(run.rps * o.seconds)));
  await resetStatements(pg, setup);
  const commitsBefore = await commits();
  // What the database's busy backends wait for during the reads, sampled on one connection of our own.
  const waitCounts = new Map<string, number>();
  let sampling = setup.db !== undefined;
  const sampler = (async () => {
    if (!setup.db) return;
    const client = new PgClient({ connectionString: pg.url(setup.db) });
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
  const lessorCpu = new CpuMeter(() => servers.map((s) => s.pid));
  const postgresCpu = new CpuMeter(() => (setup.db ? postgresPids(pg) : []));
  const runs: H2loadRun[] = await Promise.all(servers.map((_, i) => h2load(i, READ_PATH, { requests: requests[i] as number })));
  const cpuSeconds = { lessor: lessorCpu.stop(), postgres: postgresCpu.stop() };
  sampling = false;
  await sampler;
  const reads = requests.reduce((a, b) => a + b, 0);
  for (const [i, run] of runs.entries()) {
    if (run.done !== requests[i] || run.succeeded !== requests[i] || run.failed > 0 || run.errored > 0) {
      throw new Error(`${setup.name}: ${requests[i]} reads sent, ${run.done} answered, ${run.succeeded} HTTP 2xx, ${run.failed} failed, ${run.errored} errored:\n${run.raw}`);
    }
  }
  const samples = [...waitCounts.values()].reduce((a, b) => a + b, 0);
  const waits = [...waitCounts.entries()].sort((a, b) => b[1] - a[1]).map(([w, n]): [string, number] => [w, n / samples]);
  // Replicas sent equal shares of their warm-up rate end at about the same time; the slowest sets the rate.
  const readsPerSecond = reads / Math.max(...runs.map((r) => r.seconds));
  const readRates = runs.map((r) => r.rps);
  o.log(`   ${fmt(readsPerSecond)} reads/s (${readRates.map((r) => fmt(r)).join(" + ")}; ${fmt(reads)} sent)`);
  const statementsPerLease = await statementsPer(pg, setup, reads);
  const cpuMsPerLease = { lessor: (cpuSeconds.lessor * 1000) / reads, postgres: (cpuSeconds.postgres * 1000) / reads };
  o.log(`   CPU per lease: Lessor ${fmt(cpuMsPerLease.lessor, 2)} ms, PostgreSQL ${fmt(cpuMsPerLease.postgres, 2)} ms`);
  await Promise.all(servers.map((s) => s.stop()));
  // A gRPC error answers HTTP 200 like a success: the store says which reads issued their lease.
  const stores = setup.db ? dirs.slice(0, 1) : dirs;
  let readsOk = 0;
  let halfMade = 0;
  for (const dir of stores) {
    readsOk += await activeCount(setup, pg, dir, `${READ_PATH}/`);
    halfMade += await intentCount(setup, pg, dir, `${READ_PATH}/`);
  }
  o.log(`   outcomes: ${fmt(readsOk)} OK of ${fmt(reads)}; ${halfMade} issuance(s) left half-made`);
  if (readsOk !== reads || halfMade !== 0) throw new Error(`${setup.name}: ${reads} reads sent, ${readsOk} leases recorded, ${halfMade} intents left: not every read succeeded`);
  await sleep(1_500); // statistics reach pg_stat_database within a second
  const commitsAfter = await commits();
  const commitsPerLease = commitsBefore === undefined || commitsAfter === undefined ? undefined : (commitsAfter - commitsBefore) / reads;
  return { readsPerSecond, readRates, reads, readsOk, cpuMsPerLease, waits, commitsPerLease, statementsPerLease };
}

async function measure(o: ReplicaBenchOptions, setup: Setup, pg: Postgres): Promise<Measured> {
  const sealKey = randomBytes(32).toString("base64");
  if (setup.db) await pg.createDatabase(setup.db);
  const { servers: readServers, dirs, tokens, accessor } = await prepare(o, setup, pg, sealKey);
  const reads = await leaseReads(o, setup, pg, readServers, tokens, dirs);
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
  const { servers } = await startReplicas(o, setup, pg, sealKey, setup.name);
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
  return { ...reads, revocationsPerSecond };
}

// ---- PostgreSQL's own ceiling: pgbench with the pg store's SQL ----

/**
 * A lease creation as one replica runs it (the statements and calls per lease
 * the bench counts in pg_stat_statements, listed in the notes): the caller's
 * token read, the intent (committed before the engine's work), then the
 * intent's end, the lease and its queued event in one transaction. The
 * numbering calls run beside it (numberWhile), as the sequencer runs them.
 */
const CREATE_SCRIPT = `
SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = decode(:token_hash, 'hex');
INSERT INTO intents (id, lease_id, mount_accessor, secret_type, data, created_at, owner)
  VALUES (gen_random_uuid()::text, 'x', :accessor, 'nothing', decode(repeat('ab', 60), 'hex'), (:now)::bigint, 1)
  RETURNING id AS intent_id \\gset
BEGIN;
DELETE FROM intents WHERE id = (:intent_id)::text AND claimed_at IS NULL;
INSERT INTO leases (id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time, renewable, state, token_accessor, due_time, ttl)
  VALUES ('${PGBENCH_PREFIX}' || (:intent_id)::text, :accessor, 'nothing', decode(repeat('cd', 60), 'hex'), (:now)::bigint, (:now)::bigint + 2764800000, (:now)::bigint + 2764800000, true, 'active', NULL, (:now)::bigint + 2764800000, 2764800);
INSERT INTO lease_event_queue (type, lease_id, time, expire_time, detail) VALUES ('created', '${PGBENCH_PREFIX}' || (:intent_id)::text, (:now)::bigint, (:now)::bigint + 2764800000, NULL);
COMMIT;
`;

/** A revocation as the expiry scheduler and the pg store do it: take a due lease (claim), then mark it revoked with its queued event. */
const REVOKE_SCRIPT = `
UPDATE leases SET state = 'revoking', due_time = (:now)::bigint + 30000, next_attempt_time = (:now)::bigint + 30000, claimed_until = (:now)::bigint + 30000
  WHERE id = (SELECT id FROM leases WHERE due_time <= (:now)::bigint AND id LIKE 'nothing/creds/pgmass/%' ORDER BY due_time LIMIT 1 FOR UPDATE SKIP LOCKED)
    AND (claimed_until IS NULL OR claimed_until <= (:now)::bigint)
    AND (state = 'revoking' OR (state = 'active' AND expire_time <= (:now)::bigint))
  RETURNING id AS lease_id \\gset
BEGIN;
UPDATE leases SET state = 'revoked', due_time = NULL, next_attempt_time = NULL, revoke_time = (:now)::bigint, last_error = NULL, claimed_until = NULL
  WHERE id = (:lease_id)::text AND state != 'revoked';
INSERT INTO lease_event_queue (type, lease_id, time, expire_time, detail) VALUES ('expired', (:lease_id)::text, (:now)::bigint, NULL, NULL);
COMMIT;
`;

/** Runs pgbench (on the load CPU); resolves with its transactions per second and how many it completed. */
function pgbench(o: ReplicaBenchOptions, pg: Postgres, db: string, script: string, file: string, limit: string[], vars: Record<string, string>): Promise<{ tps: number; processed: number }> {
  writeFileSync(join(o.work, file), script);
  const args = [
    "-n",
    "-M", "prepared",
    "-c", String(PGBENCH_CLIENTS),
    "-j", "1",
    ...limit,
    ...Object.entries({ ...vars, now: String(Date.now()) }).flatMap(([k, v]) => ["-D", `${k}=${v}`]),
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
      const processed = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
      const failed = /number of failed transactions: (\d+)/.exec(out)?.[1];
      if (code !== 0 || !Number.isFinite(tps) || !Number.isFinite(processed) || (failed !== undefined && failed !== "0")) reject(new Error(`pgbench exited ${code}:\n${out}`));
      else resolve({ tps, processed });
    });
  });
}

/**
 * Numbers queued events every SEQUENCER_INTERVAL_MS with the sequencer's own
 * call, on a connection of this runner (CPU 1, as pgbench), until `until`
 * settles; then numbers what is left. Returns how many calls it made.
 */
async function numberWhile(pg: Postgres, db: string, until: Promise<unknown>): Promise<number> {
  const client = new PgClient({ connectionString: pg.url(db) });
  await client.connect();
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  let calls = 0;
  try {
    const call = async () => {
      calls++;
      return (await client.query<{ n: number }>("SELECT lessor_number_lease_events($1) AS n", [5_000])).rows[0]?.n ?? 0;
    };
    while (!done) {
      await call();
      await sleep(SEQUENCER_INTERVAL_MS);
    }
    while ((await call()) > 0);
    return calls;
  } finally {
    await client.end();
  }
}

async function pgbenchCeiling(o: ReplicaBenchOptions, pg: Postgres): Promise<{ createTps: number; createCpuMs: number; revokeTps: number }> {
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
  // The root token's row, read by its hash as each request reads its token.
  const tokenHash = (await pg.query<{ h: string }>("SELECT encode(hash, 'hex') AS h FROM tokens LIMIT 1", [], db))[0]?.h;
  if (!tokenHash) throw new Error("no token in the pgbench database");
  const count = async (sql: string) => Number((await pg.query<{ n: string }>(sql, [], db))[0]?.n);

  o.log("R. pgbench: lease creations...");
  const postgresCpu = new CpuMeter(() => postgresPids(pg));
  const creating = pgbench(o, pg, db, CREATE_SCRIPT, "create.sql", ["-T", String(o.seconds)], { accessor, token_hash: tokenHash });
  await numberWhile(pg, db, creating);
  const created = await creating;
  const createCpuMs = (postgresCpu.stop() * 1000) / created.processed;
  const createTps = created.tps;
  // Every transaction pgbench counts made its lease and its event (numbered).
  const leases = await count(`SELECT count(*) AS n FROM leases WHERE id LIKE '${PGBENCH_PREFIX}%'`);
  const events = await count(`SELECT count(*) AS n FROM lease_events WHERE lease_id LIKE '${PGBENCH_PREFIX}%'`);
  if (leases !== created.processed || events !== leases) throw new Error(`pgbench: ${created.processed} creations counted, ${leases} leases and ${events} events recorded`);
  o.log(`   ${fmt(createTps)} creations/s (${fmt(leases)} leases, each with its event numbered); PostgreSQL CPU ${fmt(createCpuMs, 2)} ms per lease`);

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
  const revoking = pgbench(o, pg, db, REVOKE_SCRIPT, "revoke.sql", ["-t", String(perClient)], { accessor });
  await numberWhile(pg, db, revoking);
  const revokeTps = (await revoking).tps;
  o.log(`   ${fmt(revokeTps)} revocations/s`);
  const left = await count("SELECT count(*) AS n FROM leases WHERE id LIKE 'nothing/creds/pgmass/%' AND state != 'revoked'");
  if (left !== 0) throw new Error(`pgbench left ${left} leases unrevoked`);
  return { createTps, createCpuMs, revokeTps };
}

/** Lease-creating reads on three SQLite servers sharing nothing, on the one server core. */
async function readsApart(o: ReplicaBenchOptions, pg: Postgres): Promise<Reads> {
  const setup: Setup = { name: "sqlite-3-apart", db: undefined, replicas: 3, independent: true };
  const { servers, dirs, tokens } = await prepare(o, setup, pg, randomBytes(32).toString("base64"));
  return leaseReads(o, setup, pg, servers, tokens, dirs);
}

/** A statement shortened for the notes: its verb and table (a SELECT's columns folded). */
function abbreviate(sql: string): string {
  const text = sql.replace(/^SELECT (?!lessor_)[^(]*? FROM/, "SELECT … FROM");
  return text.length <= 60 ? text : `${text.slice(0, 57)}…`;
}


/** Runs the replicas benchmark; returns the RESULTS.md section (markdown). */
export async function benchReplicas(o: ReplicaBenchOptions): Promise<string> {
  o.log("R. starting PostgreSQL (fsync on, synchronous_commit off: SQLite's WAL + synchronous=NORMAL guarantee)...");
  const loadBefore = loadavg()[0] ?? 0;
  const pg = await startPostgres({
    settings: { fsync: "on", full_page_writes: "on", synchronous_commit: "off", max_connections: "200", shared_buffers: "256MB", shared_preload_libraries: "'pg_stat_statements'" },
  });
  try {
    pinPostgres(pg, o.serverCpu);
    await pg.query("CREATE EXTENSION pg_stat_statements");
    const version = (await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]?.v ?? "?";
    const sqlite = await measure(o, { name: "sqlite", db: undefined, replicas: 1 }, pg);
    const apart = await readsApart(o, pg);
    const one = await measure(o, { name: "pg-1", db: "bench_one", replicas: 1 }, pg);
    const three = await measure(o, { name: "pg-3", db: "bench_three", replicas: 3 }, pg);
    const ceiling = await pgbenchCeiling(o, pg);

    const cpuTotal = (m: Reads) => m.cpuMsPerLease.lessor + m.cpuMsPerLease.postgres;
    const cpuText = (m: Reads) =>
      m.cpuMsPerLease.postgres > 0 ? `${fmt(cpuTotal(m), 2)} ms (Lessor ${fmt(m.cpuMsPerLease.lessor, 2)}, PostgreSQL ${fmt(m.cpuMsPerLease.postgres, 2)})` : `${fmt(m.cpuMsPerLease.lessor, 2)} ms`;
    const scale = three.readsPerSecond / one.readsPerSecond;
    const overPgbench = one.readsPerSecond / ceiling.createTps;
    const rows: ReplicaBenchRow[] = [
      {
        what: "R1. lease-creating reads/s (engine with no external side): 3 replicas ÷ 1 replica, on one shared core",
        figure: `SQLite **${fmt(sqlite.readsPerSecond)}**; PostgreSQL, 1 replica **${fmt(one.readsPerSecond)}** (${fmt(one.readsPerSecond / sqlite.readsPerSecond, 2)} of SQLite); 3 replicas **${fmt(three.readsPerSecond)}** (${three.readRates.map((r) => fmt(r)).join(" + ")}) → **${fmt(scale, 2)}** of 1 replica`,
        target: "≥ 0.9",
        met: scale >= 0.9,
      },
      {
        what: "R1b. the same reads on 3 SQLite servers sharing nothing ÷ 1 SQLite server, on one shared core: what three processes on a core cost by themselves",
        figure: `3 apart **${fmt(apart.readsPerSecond)}** (${apart.readRates.map((r) => fmt(r)).join(" + ")}) → **${fmt(apart.readsPerSecond / sqlite.readsPerSecond, 2)}** of 1; CPU per lease ${cpuText(apart)} against ${cpuText(sqlite)}`,
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
        what: `R3. 1 replica's lease creations ÷ PostgreSQL's own rate for the same SQL (pgbench, ${PGBENCH_CLIENTS} clients, one lease per transaction)`,
        figure: `pgbench **${fmt(ceiling.createTps)}**/s → Lessor 1 replica **${fmt(overPgbench, 2)}** (3 replicas ${fmt(three.readsPerSecond / ceiling.createTps, 2)})`,
        target: "≥ 0.8",
        met: overPgbench >= 0.8,
      },
      {
        what: "R3b. revocations ÷ pgbench running a revocation's SQL",
        figure: `pgbench ${fmt(ceiling.revokeTps)}/s → Lessor 1 replica **${fmt(one.revocationsPerSecond / ceiling.revokeTps, 2)}**, 3 replicas **${fmt(three.revocationsPerSecond / ceiling.revokeTps, 2)}**`,
        target: "(reported)",
        met: undefined,
      },
    ];
    const loadAfter = loadavg()[0] ?? 0;
    const waitText = (m: Reads) => m.waits.slice(0, 4).map(([w, share]) => `${w} ${fmt(share * 100)}%`).join(", ");
    const statementText = one.statementsPerLease.map(([sql, perLease]) => `${fmt(perLease, 2)} × \`${abbreviate(sql)}\``).join("; ");
    const notes = [
      `PostgreSQL ${version} from Debian's packages, a fresh cluster (initdb) in a temporary directory, \`fsync=on\`, \`synchronous_commit=off\`, \`shared_buffers=256MB\`, pg_stat_statements loaded (to count statements; the same for Lessor and pgbench): a commit survives a crash of Lessor or PostgreSQL and may be lost (never corrupted) on a power loss, the same guarantee as Lessor's SQLite (WAL, \`synchronous=NORMAL\`). pgbench runs against the same cluster.`,
      `CPUs: every Lessor replica and PostgreSQL (postmaster and backends, \`taskset\`) on CPU 0; h2load, pgbench and this runner on CPU 1. With one core for the server side, 3 replicas share the core 1 replica had: R1 and R2 show what coordinating through the database costs (connections, row locks, lease event numbering, SKIP LOCKED claims), not the scale-out three machines would give.`,
      `Reads: h2load per replica, ${o.clients} connections split between the replicas, ${o.streams} streams each; a ${o.warmupSeconds} s warm-up (other lease names), then a fixed number of requests per replica (what it served in the warm-up, scaled to ${o.seconds} s; none abandoned at the end), and the rate is all of them over the slowest replica's time. Each read of \`${READ_PATH}\` commits an intent, then the lease, its event and the intent's end (bench/lease-engine.ts). In cluster mode each request also reads its token from the database.`,
      `Outcomes, every RPC counted: a gRPC error is an HTTP 200 answer too, so each run checks that h2load got an answer to every request it sent and that the store holds exactly one lease per request sent (and no half-made issuance): SQLite ${fmt(sqlite.readsOk)} OK of ${fmt(sqlite.reads)}; 1 replica ${fmt(one.readsOk)} of ${fmt(one.reads)}; 3 replicas ${fmt(three.readsOk)} of ${fmt(three.reads)}. A shortfall fails the run.`,
      `Revocations: ${fmt(MASS_LEASES)} leases seeded through the store API (servers stopped), then their expiry set to one moment (an UPDATE of expire_time and due_time) just after the replicas start; timed from that moment until the database says all are revoked (none lost: the run waits for every one). Each revocation is a claim (UPDATE) and then the revoked state with its queued event (UPDATE, INSERT); the engine's revoke costs nothing.`,
      `Lease events are numbered after commit (no lock held across round trips; see the README's replicas section): one replica, the sequencer, calls \`lessor_number_lease_events\` every ${SEQUENCER_INTERVAL_MS} ms. Statements one replica ran per lease issued during the reads (pg_stat_statements; SQL abbreviated): ${statementText}.`,
      `CPU time per lease issued during the measured reads (/proc, sampled every 100 ms: every Lessor process and every process of the cluster; what the server core spends, whoever else is scheduled on it): SQLite ${cpuText(sqlite)}; 3 SQLite servers sharing nothing ${cpuText(apart)}; 1 replica ${cpuText(one)}; 3 replicas ${cpuText(three)}. Three replicas spend ${fmt(cpuTotal(three) / cpuTotal(one), 2)}× the CPU per lease of one; three SQLite servers that share nothing already spend ${fmt(cpuTotal(apart) / cpuTotal(sqlite), 2)}× that of one (R1b): that part is three Node processes taking turns on one core (context switches, less work done per wake-up), which no coordination through the database can remove; the rest is each replica's share of the load making smaller groups (more round trips per lease) and the sequencer's calls.`,
      `PostgreSQL transactions committed per lease issued during the reads (pg_stat_database, every statement of the replicas included): 1 replica ${fmt(one.commitsPerLease ?? NaN, 2)}, 3 replicas ${fmt(three.commitsPerLease ?? NaN, 2)}; without group commit it would be at least 3 (the token read, the intent, the lease).`,
      `What PostgreSQL's busy backends were doing during the reads (pg_stat_activity every 100 ms; ClientRead: inside a transaction, waiting for Lessor's next statement; Lock: waiting for a lock): 1 replica ${waitText(one)}; 3 replicas ${waitText(three)}.`,
      `pgbench: one pgbench transaction is one lease creation, the statements one replica runs per lease (above): the token read by hash, the intent INSERT committed alone, then DELETE intent + INSERT lease + INSERT into the event queue in one transaction; beside it, a connection of this runner calls the numbering function every ${SEQUENCER_INTERVAL_MS} ms as the sequencer does. A revocation is the claim (UPDATE ... FOR UPDATE SKIP LOCKED), then UPDATE + queued event. Prepared statements, one lease per transaction; every transaction pgbench counts is checked to have recorded its lease and its numbered event. Lessor groups the writes arriving together into one transaction (group commit), which pgbench does not, so a ratio above 1 is possible. pgbench is a C client on the other core; Lessor's replicas run on the database's core, so R3 compares Lessor and PostgreSQL sharing a core with PostgreSQL alone on it: PostgreSQL spent ${fmt(ceiling.createCpuMs, 2)} ms of CPU per pgbench lease, against ${cpuText(one)} of the core per lease for 1 replica.`,
      `The machine is shared (other engineers' builds and test suites): load average ${fmt(loadBefore, 1)} at the start of this section, ${fmt(loadAfter, 1)} at its end, on 2 cores. Every figure here is from one run under that load; the ratios are measured back to back to limit its effect, not to remove it.`,
    ];
    return [
      "## Replicas on PostgreSQL (issues 8 and 17)",
      "",
      `Run: ${new Date().toISOString()} (\`npm run bench -- replicas\`), commit ${commitMeasured()}.`,
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
