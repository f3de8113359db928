// `lessor agent` as a real process for tests, and the programs that use it:
// an ordinary AWS SDK v3 program (sts-caller.ts) and Debian's boto3.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LESSOR_BIN, tempDir } from "./processes.js";

export const PYTHON = "/usr/bin/python3";
/** The SDK program, compiled beside this file. */
export const STS_CALLER = fileURLToPath(new URL("./sts-caller.js", import.meta.url));

export interface AgentProcess {
  /** http://127.0.0.1:port */
  url: string;
  tokenFile: string;
  agentFile: string;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

/** Starts `lessor agent` on a free loopback port with its files in a fresh directory; waits for its banner. */
export async function startAgent(options: { args?: string[]; env: NodeJS.ProcessEnv; dir?: string }): Promise<AgentProcess> {
  const dir = options.dir ?? tempDir("agent");
  const tokenFile = join(dir, "agent-token");
  const agentFile = join(dir, "agent.json");
  const proc = spawn(
    process.execPath,
    [LESSOR_BIN, "agent", "-listen-address=127.0.0.1:0", `-authorization-token-file=${tokenFile}`, `-agent-file=${agentFile}`, ...(options.args ?? [])],
    { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  proc.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/Listener: http:\/\/\S+/.test(out)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`the agent did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const url = (/Listener: (http:\/\/\S+)/.exec(out) as RegExpExecArray)[1] as string;
  return {
    url,
    tokenFile,
    agentFile,
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** What one call of the SDK program printed. */
export type CallResult = { t: number; arn: string } | { t: number; error: string };

/** Environment that leaves a program only the container endpoint to find credentials with. */
export function endpointEnv(base: NodeJS.ProcessEnv, credentialsUrl: string, token: { file: string } | { value: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) if (!key.startsWith("AWS_")) env[key] = value;
  return {
    ...env,
    HOME: tempDir("sdk-home"),
    AWS_ENDPOINT_URL: base.AWS_ENDPOINT_URL,
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONTAINER_CREDENTIALS_FULL_URI: credentialsUrl,
    ...("file" in token ? { AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: token.file } : { AWS_CONTAINER_AUTHORIZATION_TOKEN: token.value }),
  };
}

/** A running SDK program calling STS GetCallerIdentity in a loop until `stop()`. */
export interface CallerLoop {
  results(): CallResult[];
  stop(): Promise<CallResult[]>;
}

/** Runs the SDK program: `calls` calls, or (calls = 0) a loop until stopped. */
export function runCaller(env: NodeJS.ProcessEnv, calls: number): CallerLoop {
  const proc = spawn(process.execPath, [STS_CALLER, String(calls)], { env, stdio: ["pipe", "pipe", "pipe"] });
  const results: CallResult[] = [];
  let buffer = "";
  let stderr = "";
  proc.stdout.on("data", (c: Buffer) => {
    buffer += c.toString();
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      results.push(JSON.parse(buffer.slice(0, nl)) as CallResult);
      buffer = buffer.slice(nl + 1);
    }
  });
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve, reject) =>
    proc.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`the SDK program exited with ${code}:\n${stderr}`)))),
  );
  const killer = setTimeout(() => proc.kill("SIGKILL"), 120_000);
  return {
    results: () => results,
    async stop() {
      proc.stdin.end();
      await exited.finally(() => clearTimeout(killer));
      return results;
    },
  };
}

/** Whether Debian's boto3 is there (CI installs python3-boto3); a reason when not. */
export async function boto3Missing(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const ok = await new Promise<boolean>((resolve) => {
    const p = spawn(PYTHON, ["-c", "import boto3"], { stdio: "ignore" });
    p.once("exit", (code) => resolve(code === 0));
    p.once("error", () => resolve(false));
  });
  return ok ? undefined : "Debian's python3-boto3 is not installed (.ci/run installs it)";
}

/**
 * boto3 calling GetCallerIdentity `calls` times with the default credential
 * chain; prints the ARNs. Debian's botocore (1.29) predates AWS_ENDPOINT_URL,
 * so the endpoint is given to the client; credentials are left to the chain.
 */
export function boto3(env: NodeJS.ProcessEnv, calls: number): Promise<{ code: number | null; arns: string[]; stderr: string }> {
  const script = [
    "import os, boto3",
    "sts = boto3.client('sts', region_name='us-east-1', endpoint_url=os.environ['AWS_ENDPOINT_URL'])",
    `for _ in range(${calls}): print(sts.get_caller_identity()['Arn'])`,
  ].join("\n");
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, ["-c", script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    p.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.once("error", reject);
    p.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, arns: stdout.split("\n").filter((l) => l !== ""), stderr });
    });
  });
}
