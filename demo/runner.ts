// Runs walkthrough steps through bash and the real `lessor` CLI, as a user at
// a terminal would, and checks what they print.
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compareOutput, type Step } from "./walkthroughs.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Shell {
  /** Working directory (files of a step are written here). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Variables captured from earlier steps. */
  vars: Record<string, string>;
}

export interface StepResult {
  stdout: string;
  stderr: string;
  status: number | null;
  /** What did not match the step's expectation; empty when it passed. */
  problems: string[];
}

/** A directory with a `lessor` executable in it, to put first on PATH. */
export function makeBinDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const shim = join(dir, "lessor");
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, "bin", "lessor.js")}" "$@"\n`);
  chmodSync(shim, 0o755);
  return dir;
}

export async function runStep(step: Step, shell: Shell): Promise<StepResult> {
  for (const [name, content] of Object.entries(step.files ?? {})) writeFileSync(join(shell.cwd, name), content);
  const { stdout, stderr, status } = await new Promise<{ stdout: string; stderr: string; status: number | null }>((resolve, reject) => {
    const proc = spawn("bash", ["-c", step.command], {
      cwd: shell.cwd,
      env: { ...shell.env, ...shell.vars },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (err += c.toString()));
    proc.on("error", reject);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout: out, stderr: err, status: code });
    });
  });
  const problems: string[] = [];
  if (status !== step.status) problems.push(`exit status ${status}, expected ${step.status}`);
  if (step.stdout !== undefined) problems.push(...compareOutput(stdout, step.stdout).map((p) => `stdout ${p}`));
  for (const needle of step.stderr ?? []) {
    if (!stderr.includes(needle)) problems.push(`stderr does not contain ${JSON.stringify(needle)}`);
  }
  for (const [name, pattern] of Object.entries(step.capture ?? {})) {
    const m = pattern.exec(stdout);
    if (m?.[1]) shell.vars[name] = m[1];
    else problems.push(`could not capture ${name} from stdout`);
  }
  return { stdout, stderr, status, problems };
}
