// Processes for the benchmarks: the real `lessor server`, optionally pinned to
// a CPU and with a preload module, on a port chosen up front so a client can
// knock before the banner is printed.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const LESSOR_BIN = join(REPO_ROOT, "bin", "lessor.js");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface BenchServer {
  address: string;
  proc: ChildProcess;
  pid: number;
  output(): string;
  /** Its Prometheus endpoint, when asked for (`metrics`). */
  metricsUrl: string | undefined;
  /** Resolves when the banner (and the root token, on a first start) was printed. */
  ready: Promise<{ rootToken: string | undefined }>;
  stop(): Promise<void>;
}

export interface BenchServerOptions {
  dataDir: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cpu?: number;
  /** Modules loaded before the server (node --import). */
  preload?: string[];
  nodeFlags?: string[];
  /** Serve Prometheus metrics (the benchmarks count every call's outcome from them). */
  metrics?: boolean;
}

export async function spawnServer(o: BenchServerOptions): Promise<BenchServer> {
  mkdirSync(o.dataDir, { recursive: true });
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const metricsAddress = o.metrics ? `127.0.0.1:${await freePort()}` : undefined;
  const node = [
    ...(o.nodeFlags ?? []),
    // BENCH_SERVER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers under test.
    ...(process.env.BENCH_SERVER_NODE_FLAGS ?? "").split(" ").filter((f) => f !== ""),
    ...(o.preload ?? []).flatMap((p) => ["--import", p]),
    LESSOR_BIN,
    "server",
    `-data-dir=${o.dataDir}`,
    `-listen-address=${address}`,
    ...(metricsAddress ? [`-metrics-listen-address=${metricsAddress}`] : []),
    ...(o.args ?? []),
  ];
  const [cmd, argv] = o.cpu === undefined ? [process.execPath, node] : ["taskset", ["-c", String(o.cpu), process.execPath, ...node]];
  const proc = spawn(cmd as string, argv as string[], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const ready = (async () => {
    const deadline = Date.now() + 60_000;
    while (!/Listener: \S+/.test(out)) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return { rootToken: /Root Token: (\S+)/.exec(out)?.[1] };
  })();
  ready.catch(() => undefined);
  return {
    address,
    proc,
    pid: proc.pid as number,
    output: () => out,
    metricsUrl: metricsAddress && `http://${metricsAddress}/metrics`,
    ready,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Resident set size of a process, in MB (from /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** CPU time a process has used so far (user + system), in seconds (from /proc). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The commit the code under test came from, and whether the working tree differed from it. */
export function commitMeasured(): string {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  const commit = git("rev-parse", "--short", "HEAD");
  // Only what runs in a measurement counts: the server, the client, the CLI bundle script, the benchmarks.
  const dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src", "clients/ts/src", "scripts", "bench", "package.json", "package-lock.json") !== "";
  return dirty ? `${commit} with uncommitted changes` : commit;
}
