// `npm test`: every test file against SQLite, then against PostgreSQL (a
// real server this runner starts in a temporary directory with initdb/pg_ctl,
// see helpers/postgres.ts, and stops at the end); files whose outcome the
// store cannot change run in the SQLite pass only (RUN_ONCE). Each pass is
// `node --test --test-concurrency=2`; the test processes learn the pass from
// LESSOR_TEST_STORE and the cluster from LESSOR_TEST_POSTGRES_URL
// (helpers/store.ts gives each server data directory a database of its own).
// Exits non-zero if any pass fails.
//
//   node dist/test/run-suite.js                          both passes, every file
//   node dist/test/run-suite.js --store=postgres FILE..  one pass, some files
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { startPostgres, TEST_POSTGRES_URL_ENV, type Postgres } from "./helpers/postgres.js";
import { TEST_STORE_ENV, type TestStoreKind } from "./helpers/store.js";
import { silenceAwsSdkNodeNotice } from "../src/util/aws-sdk-notice.js";

const DIST_TEST = fileURLToPath(new URL(".", import.meta.url));

/**
 * Files whose outcome the store cannot change run in the SQLite pass only. A
 * new file runs on both stores unless it is listed here with its reason; a
 * file that checks what is stored, recovery after a crash, concurrency,
 * replicas, the lease lifecycle or token trees must not be here.
 */
const RUN_ONCE = [
  // Start no server and open no SQLite or PostgreSQL store: the AWS emulator's
  // own tests, pure unit tests, unit tests on the in-memory store (which the
  // conformance suite holds to the others' behaviour).
  /^aws-emulator\//,
  /^unit\/(acl|agent-config|agent-timing|aws-engine|aws-username-template|duration|fields|generated|jwt-claims|keyring|paths|proto-files|server-config|expiry|lease-manager|random)\.test\.js$/,
  /^clients\/protoc\.test\.js$/,
  // Start a server, but test what lies above the store: the CLI's printing
  // (the walkthroughs drive the CLI on both stores), the client package and
  // its retries and renewals, the transport (TLS, gRPC conventions, reflection,
  // Python stubs, metrics), the aws engine's validation of what it is given,
  // and the agent (a client: lessor agent, credential_process, aws exec).
  /^e2e\/cli(-auth)?\.test\.js$/,
  /^clients\/(tarball|renewer|errors-and-retries|aws-credentials|auto-auth)\.test\.js$/,
  /^integration\/(tls|grpc-conventions|readme-grpcurl|python|metrics|bad-input|agent)\.test\.js$/,
  /^integration\/aws-(roles|sts|iam-user|rotate-root|sdk-config)\.test\.js$/,
];

/**
 * Longer than any test file takes on a loaded machine (the longest,
 * aws-crash, about two minutes); node --test applies it to each file as well.
 */
const TEST_TIMEOUT_MS = 10 * 60_000;
/** Longer than a pass takes on a loaded machine; a pass that reaches it has hung. */
const PASS_LIMIT_MS = 25 * 60_000;

/** The longest files start first, so neither worker is left with a long one at the end. */
const LONGEST_FIRST = [
  "integration/aws-crash.test.js",
  "hostile/corpus.test.js",
  "integration/agent.test.js",
  "integration/revoke-prefix.test.js",
  "clients/tarball.test.js",
];

function schedule(files: string[], store: TestStoreKind, explicit: boolean): string[] {
  const rel = (f: string) => relative(DIST_TEST, f).split(sep).join("/");
  const chosen = explicit || store === "sqlite" ? files : files.filter((f) => !RUN_ONCE.some((re) => re.test(rel(f))));
  const rank = (f: string) => {
    const i = LONGEST_FIRST.indexOf(rel(f));
    return i === -1 ? LONGEST_FIRST.length : i;
  };
  return [...chosen].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

interface PassResult {
  store: TestStoreKind;
  code: number | null;
  seconds: number;
  counts: Record<string, number>;
  failed: string[];
  error?: string;
}

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out.sort();
}

/** The summary lines of a TAP report (# tests, # pass, ...) and the names of failed tests. */
function readTap(file: string): { counts: Record<string, number>; failed: string[] } {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { counts: {}, failed: [] };
  }
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/gm)) counts[m[1] as string] = Number(m[2]);
  // Top-level results are files' tests (4-space indentation for subtests).
  const failed = [...text.matchAll(/^(?: {4})*not ok \d+ - (.*)$/gm)].map((m) => (m[1] as string).replace(/ # .*$/, ""));
  return { counts, failed };
}

function runPass(store: TestStoreKind, files: string[], env: NodeJS.ProcessEnv, tapFile: string): Promise<number | null> {
  const args = [
    "--test",
    "--test-concurrency=2",
    // A test that hangs fails with its name instead of holding the pass until CI's limit.
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, [TEST_STORE_ENV]: store };
    // Test files use the AWS SDK themselves (the emulator's tests, checks of issued keys).
    silenceAwsSdkNodeNotice(childEnv);
    // A process group of its own: whatever a test file leaves running (a
    // child it failed to stop, one holding its output open so that it never
    // exits) is ended with the pass, and at the pass's time limit.
    const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"], env: childEnv, detached: true });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // the group has gone
      }
    };
    process.on("SIGINT", killGroup);
    process.on("SIGTERM", killGroup);
    const limit = setTimeout(() => {
      console.error(`\n${store} pass: still running after ${PASS_LIMIT_MS / 60_000} minutes; ending it`);
      killGroup("SIGKILL");
    }, PASS_LIMIT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(limit);
      process.off("SIGINT", killGroup);
      process.off("SIGTERM", killGroup);
      killGroup("SIGKILL");
      resolve(code ?? (signal ? 128 : null));
    });
  });
}

async function main(): Promise<number> {
  let stores: TestStoreKind[] = ["sqlite", "postgres"];
  const files: string[] = [];
  for (const arg of process.argv.slice(2)) {
    const m = /^--store=(sqlite|postgres|both)$/.exec(arg);
    if (m) stores = m[1] === "both" ? ["sqlite", "postgres"] : [m[1] as TestStoreKind];
    else if (arg.startsWith("-")) throw new Error(`unknown option ${arg} (expected --store=sqlite|postgres|both, then test files)`);
    else files.push(arg);
  }
  const chosen = files.length > 0 ? files : testFiles(DIST_TEST);
  const reports = mkdtempSync(join(tmpdir(), "lessor-test-reports-"));
  const results: PassResult[] = [];
  let postgres: Postgres | undefined;
  const stopPostgres = async () => {
    const p = postgres;
    postgres = undefined;
    await p?.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    void stopPostgres().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (const store of stores) {
      const passFiles = schedule(chosen, store, files.length > 0);
      console.log(`\n===== ${store} pass: ${passFiles.length} test files =====\n`);
      const started = Date.now();
      const env: NodeJS.ProcessEnv = {};
      if (store === "postgres") {
        try {
          postgres = await startPostgres();
        } catch (err) {
          results.push({ store, code: 1, seconds: (Date.now() - started) / 1000, counts: {}, failed: [], error: `could not start PostgreSQL: ${(err as Error).message}` });
          continue;
        }
        env[TEST_POSTGRES_URL_ENV] = postgres.url();
        console.log(`PostgreSQL for this pass: ${postgres.url()} (cluster in ${postgres.baseDir})\n`);
      }
      const tapFile = join(reports, `${store}.tap`);
      const code = await runPass(store, passFiles, env, tapFile);
      if (store === "postgres") await stopPostgres();
      results.push({ store, code, seconds: (Date.now() - started) / 1000, ...readTap(tapFile) });
    }
  } finally {
    await stopPostgres();
    rmSync(reports, { recursive: true, force: true });
  }

  console.log("\n===== summary =====");
  for (const r of results) {
    const c = r.counts;
    const line = r.error
      ? r.error
      : `${c.tests ?? "?"} tests, ${c.pass ?? "?"} passed, ${c.fail ?? "?"} failed, ${c.skipped ?? 0} skipped, ${c.cancelled ?? 0} cancelled`;
    console.log(`${r.code === 0 ? "PASS" : "FAIL"}  ${r.store.padEnd(8)} ${r.seconds.toFixed(0).padStart(4)} s  ${line}`);
    for (const name of r.failed) console.log(`        not ok: ${name}`);
  }
  return results.every((r) => r.code === 0) && results.length === stores.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  },
);
