// A real PostgreSQL for tests and benchmarks, from the Debian packages
// (`postgresql`): a throw-away cluster made with initdb in a temporary
// directory, served by pg_ctl on a free loopback port, and removed by stop().
//
//   const pg = await startPostgres();            // ~1-2 s
//   const url = await pg.createDatabase("a");    // postgres://postgres@127.0.0.1:<port>/a
//   ... lessor server -storage-url=<url> ...
//   await pg.stop();                             // fast shutdown, directory removed
//
// Or, in a test process, the cluster the suite runner started (its URL is in
// LESSOR_TEST_POSTGRES_URL), else one of its own: `await testPostgres(t)`.
//
// As root (CI), initdb refuses to run, so the cluster belongs to the `postgres`
// system user (or `nobody`) and its tools run through `runuser`. The server
// trusts every loopback connection (no password) and is tuned for tests:
// fsync and synchronous commit are off, since what the tests crash is Lessor,
// never PostgreSQL. Every wait is bounded. If the process that started it dies
// without stop(), a watchdog shuts the cluster down and removes its directory.
import { execFile, execFileSync, spawn } from "node:child_process";
import { appendFileSync, chownSync, copyFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** The environment variable that hands a running cluster's base URL to test processes. */
export const TEST_POSTGRES_URL_ENV = "LESSOR_TEST_POSTGRES_URL";

export interface StartPostgresOptions {
  /** Directory of initdb, pg_ctl, postgres. Default: $LESSOR_TEST_PG_BIN, the newest /usr/lib/postgresql/<v>/bin, `pg_config --bindir`. */
  binDir?: string;
  /** Serve TLS too (clients may still connect in plaintext): PEM certificate and key files, copied into the cluster. */
  ssl?: { certFile: string; keyFile: string };
  /** Extra postgresql.conf settings, e.g. { max_connections: "500" }. */
  settings?: Record<string, string>;
  /** Bound on initdb and on the start (default 60 s each). */
  timeoutMs?: number;
}

export interface Postgres {
  readonly host: string;
  readonly port: number;
  /** The superuser the URLs connect as. */
  readonly user: string;
  /** The cluster's directory (absent when attached to a cluster started elsewhere). */
  readonly baseDir: string | undefined;
  /** postgres://user@host:port/<db> (db defaults to "postgres"). */
  url(db?: string): string;
  /** Creates database `name` (must not exist) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Creates database `name` unless it exists (safe to race with other processes) and returns its URL. */
  ensureDatabase(name: string): Promise<string>;
  /** Drops database `name` if it exists (disconnecting its sessions). */
  dropDatabase(name: string): Promise<void>;
  /** A query on database `db` (default "postgres") through a connection of its own. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], db?: string): Promise<R[]>;
  /** Stops the cluster and removes its directory (only when this process started it). */
  stop(): Promise<void>;
  /** Only for a cluster this process started: stops the server, keeping its data, and starts it again (same port). */
  halt?(): Promise<void>;
  resume?(): Promise<void>;
}

const USER = "postgres";
const NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** A valid database name made from any text (lower case, [a-z0-9_], at most 63 characters). */
export function databaseName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/^([^a-z_])/, "_$1")
    .slice(0, 63);
  return name === "" ? "_" : name;
}

function quoteIdent(name: string): string {
  if (!NAME_RE.test(name)) throw new Error(`not a test database name: ${JSON.stringify(name)} (use databaseName())`);
  return `"${name}"`;
}

function findBinDir(explicit: string | undefined): string {
  const candidates: string[] = [];
  if (explicit) candidates.push(explicit);
  if (process.env.LESSOR_TEST_PG_BIN) candidates.push(process.env.LESSOR_TEST_PG_BIN);
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql")
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(join("/usr/lib/postgresql", v, "bin"));
  }
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
  } catch {
    // no pg_config on PATH
  }
  const found = candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
  if (!found) {
    throw new Error(
      `PostgreSQL server binaries (initdb, pg_ctl) not found in ${candidates.join(", ") || "/usr/lib/postgresql/*/bin"}: install Debian's postgresql package, or set LESSOR_TEST_PG_BIN`,
    );
  }
  return found;
}

/** Who runs the cluster: this user, or (as root, which initdb refuses) a system user through runuser. */
function clusterOwner(): { asUser: string | undefined; uid: number; gid: number } {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return { asUser: undefined, uid, gid: process.getgid?.() ?? -1 };
  for (const name of ["postgres", "nobody"]) {
    try {
      const u = Number(execFileSync("id", ["-u", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
      const g = Number(execFileSync("id", ["-g", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
      if (u > 0) return { asUser: name, uid: u, gid: g };
    } catch {
      // no such user
    }
  }
  throw new Error("running as root, and neither a `postgres` nor a `nobody` user exists to own the test PostgreSQL cluster (initdb refuses root)");
}

function run(owner: { asUser: string | undefined }, file: string, args: string[], timeoutMs: number): Promise<string> {
  const [cmd, argv] = owner.asUser ? ["runuser", ["-u", owner.asUser, "--", file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: timeoutMs, killSignal: "SIGKILL", encoding: "utf8", cwd: "/", env: { ...process.env, LC_ALL: "C", TZ: "UTC" } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file.split("/").pop()} ${args.join(" ")} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** A loopback port free at the moment of asking (nothing listens on it afterwards). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a fresh PostgreSQL cluster in a temporary directory. Always call stop(). */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<Postgres> {
  const bin = findBinDir(options.binDir);
  const owner = clusterOwner();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const baseDir = mkdtempSync(join(tmpdir(), "lessor-pg-"));
  const dataDir = join(baseDir, "data");
  const logFile = join(baseDir, "postgres.log");
  let watchdogPid: number | undefined;
  const cleanup = () => {
    if (watchdogPid !== undefined) {
      try {
        process.kill(watchdogPid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(baseDir, { recursive: true, force: true });
  };
  try {
    if (owner.asUser) chownSync(baseDir, owner.uid, owner.gid);
    await run(owner, join(bin, "initdb"), ["-D", dataDir, "-U", USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], timeoutMs);

    const settings: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: "''",
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      max_connections: "400",
      shared_buffers: "64MB",
      log_min_messages: "warning",
      log_line_prefix: "'%m [%p] %d '",
      ...options.settings,
    };
    if (options.ssl) {
      for (const [from, to] of [
        [options.ssl.certFile, "server.crt"],
        [options.ssl.keyFile, "server.key"],
      ] as const) {
        copyFileSync(from, join(dataDir, to));
        chmodSync(join(dataDir, to), 0o600);
        if (owner.asUser) chownSync(join(dataDir, to), owner.uid, owner.gid);
      }
      Object.assign(settings, { ssl: "on", ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'" });
    }

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const conf = Object.entries({ ...settings, port: String(port) })
        .map(([k, v]) => `${k} = ${v}\n`)
        .join("");
      appendFileSync(join(dataDir, "postgresql.conf"), `\n# lessor tests (attempt ${attempt})\n${conf}`);
      try {
        await run(owner, join(bin, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-w", "-t", String(Math.ceil(timeoutMs / 1000)), "start"], timeoutMs + 5_000);
        break;
      } catch (err) {
        const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
        // Another process took the port between freePort() and the bind: try another.
        if (attempt < 5 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`${(err as Error).message}\n--- postgres.log ---\n${log}`);
      }
    }

    // If this process dies without stop(), shut the cluster down and remove it.
    const pgCtlStop = owner.asUser
      ? `runuser -u ${owner.asUser} -- "${bin}/pg_ctl" -D "${dataDir}" -m immediate -w -t 30 stop`
      : `"${bin}/pg_ctl" -D "${dataDir}" -m immediate -w -t 30 stop`;
    const watchdog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${pgCtlStop} >/dev/null 2>&1; rm -rf "${baseDir}"`], {
      detached: true,
      stdio: "ignore",
    });
    watchdog.unref();
    watchdogPid = watchdog.pid;

    const pgServer = attach(`postgres://${USER}@127.0.0.1:${port}/postgres`, baseDir, async () => {
      try {
        await run(owner, join(bin, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "-t", "30", "stop"], 40_000);
      } catch {
        await run(owner, join(bin, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "-t", "30", "stop"], 40_000).catch(() => undefined);
      }
      cleanup();
    });
    const pgCtl = (args: string[]) => run(owner, join(bin, "pg_ctl"), ["-D", dataDir, ...args], 65_000).then(() => undefined);
    return {
      ...pgServer,
      halt: () => pgCtl(["-m", "fast", "-w", "-t", "30", "stop"]),
      resume: () => pgCtl(["-l", logFile, "-w", "-t", "60", "start"]),
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** A cluster started elsewhere, by its base URL (any database in it); stop() does nothing. */
export function attachPostgres(baseUrl: string): Postgres {
  return attach(baseUrl, undefined, async () => undefined);
}

function attach(baseUrl: string, baseDir: string | undefined, stop: () => Promise<void>): Postgres {
  const base = new URL(baseUrl);
  const url = (db = "postgres"): string => {
    const u = new URL(base.toString());
    u.pathname = `/${db}`;
    return u.toString();
  };
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], db = "postgres"): Promise<R[]> => {
    const client = new pg.Client({ connectionString: url(db), connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const create = async (name: string, ifMissing: boolean): Promise<string> => {
    const ident = quoteIdent(name);
    for (let attempt = 1; ; attempt++) {
      try {
        await query(`CREATE DATABASE ${ident}`);
        return url(name);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "42P04" && ifMissing) return url(name); // duplicate_database
        // 55006: template1 busy with another CREATE DATABASE; 23505: a concurrent create of the same name.
        if (code === "23505" && ifMissing) return url(name);
        if (code === "55006" && attempt < 20) {
          await new Promise((r) => setTimeout(r, 50 * attempt));
          continue;
        }
        throw err;
      }
    }
  };
  let stopped: Promise<void> | undefined;
  return {
    host: base.hostname,
    port: Number(base.port || 5432),
    user: decodeURIComponent(base.username),
    baseDir,
    url,
    createDatabase: (name) => create(name, false),
    ensureDatabase: (name) => create(name, true),
    async dropDatabase(name) {
      await query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
    query,
    stop: () => (stopped ??= stop()),
  };
}

/**
 * For a test file: the cluster the suite runner started (LESSOR_TEST_POSTGRES_URL),
 * or else a fresh one of its own, stopped after the test.
 */
export async function testPostgres(t: { after: (fn: () => Promise<void>) => void }, options: StartPostgresOptions = {}): Promise<Postgres> {
  const shared = process.env[TEST_POSTGRES_URL_ENV];
  if (shared && !options.ssl && !options.settings) return attachPostgres(shared);
  const started = await startPostgres(options);
  t.after(() => started.stop());
  return started;
}
