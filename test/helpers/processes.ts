// Real processes for tests: the `lessor` server and CLI, run exactly as a
// user runs them (node bin/lessor.js), on free loopback ports.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";
import { LessorClient } from "@lessor/client";
import { storageArgs } from "./store.js";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const LESSOR_BIN = join(REPO_ROOT, "bin", "lessor.js");

/** Directories made by tempDir in this process, removed when it is done with them. */
const tempDirs: string[] = [];

function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

// In a test file (node --test runs each in a process of its own, with
// NODE_TEST_CONTEXT set): after its last test, when every server it started
// has been stopped by its test's t.after. Elsewhere (the demo): at exit.
if (process.env.NODE_TEST_CONTEXT !== undefined) after(removeTempDirs);
else process.once("exit", removeTempDirs);

/** A new directory under the system's temporary directory, removed after the file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lessor-test-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export interface ServerProcess {
  address: string;
  /** Vault's HTTP API ("http://host:port"), when the server serves it (-http-listen-address, -dev). */
  httpUrl: string | undefined;
  /** Present on the start that created it. */
  rootToken: string | undefined;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the server printed so far (banner and logs). */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash. */
  kill(): Promise<void>;
}

export interface StartServerOptions {
  dataDir?: string;
  dev?: boolean;
  env?: NodeJS.ProcessEnv;
  args?: string[];
  /** HOME for the server (dev mode writes ~/.lessor-token there). */
  home?: string;
  /** Instead of 127.0.0.1:0. */
  listenAddress?: string;
  /** A -config file that gives the data directory (`dataDir`) and listen address instead of flags. */
  configFile?: string;
  /** Serve Vault's HTTP API too, on a free loopback port. */
  http?: boolean;
  /** Node's own flags, before the script (`--import` an engine plugin). */
  nodeArgs?: string[];
}

/**
 * Starts `lessor server` on 127.0.0.1:0 and waits for its banner. On the
 * PostgreSQL pass (helpers/store.ts) it also gets `-storage-url` for the
 * database of its data directory (a dev server: of a directory of its own),
 * unless the test gives one of its own (-storage-url, LESSOR_STORAGE_URL).
 */
export async function startServer(options: StartServerOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? tempDir("data");
  const args = options.dev
    ? ["server", "-dev", "-dev-listen-address=127.0.0.1:0"]
    : options.configFile !== undefined
      ? ["server", `-config=${options.configFile}`]
      : ["server", `-data-dir=${dataDir}`, `-listen-address=${options.listenAddress ?? "127.0.0.1:0"}`];
  if (options.http) args.push("-http-listen-address=127.0.0.1:0");
  // A test that picks its own storage (replicas sharing one database) says so with -storage-url or LESSOR_STORAGE_URL.
  const ownStorage = (options.args ?? []).some((a) => /^--?storage-url(=|$)/.test(a)) || options.env?.LESSOR_STORAGE_URL !== undefined;
  const storage = ownStorage ? [] : await storageArgs(dataDir);
  args.push(...storage);
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), LESSOR_BIN, ...args, ...(options.args ?? [])], {
    env: { ...process.env, HOME: options.home ?? tempDir("home"), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));

  const deadline = Date.now() + 20_000;
  // The banner's Storage line comes after its Listener line.
  while (!/Listener: \S+/.test(out) || !/Storage: \S+/.test(out)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (storage.length > 0 && !/Storage: postgresql/.test(out)) {
    proc.kill("SIGKILL");
    throw new Error(`the PostgreSQL pass started a server that is not on PostgreSQL:\n${out}`);
  }
  const address = (/Listener: (\S+)/.exec(out) as RegExpExecArray)[1] as string;
  const rootToken = /Root Token: (\S+)/.exec(out)?.[1];
  return {
    address,
    httpUrl: /Vault API: (https?:\/\/\S+)/.exec(out)?.[1],
    rootToken,
    dataDir,
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
    async kill() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `lessor` CLI with the given environment and standard input. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [LESSOR_BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    proc.on("error", reject);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    proc.stdin.end(options.stdin ?? "");
  });
}

export function clientFor(server: ServerProcess, token = server.rootToken): LessorClient {
  return new LessorClient({ address: server.address, token });
}
