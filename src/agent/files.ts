// The files an agent leaves for others: the authorization token AWS SDKs
// read (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), and the agent file that
// tells `lessor aws credential-process` where a running agent is. Both are
// owner-only, written whole (a reader never sees half a file), and removed
// when the agent stops.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

/** Largest agent file read. */
const MAX_AGENT_FILE_BYTES = 16 * 1024;

/** Writes `content` owner-only (0600), replacing the file atomically; makes the directory (0700) if needed. */
export function writePrivateFile(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, content, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}

export function removeFile(path: string | undefined): void {
  if (path !== undefined) rmSync(path, { force: true });
}

const agentFileSchema = z.object({
  version: z.literal(1),
  pid: z.number().int().positive(),
  /** http://127.0.0.1:8100, or unix:/path for a socket. */
  url: z.string(),
  /** The file holding the authorization token. */
  authorization_token_file: z.string(),
  /** The Lessor address the agent talks to, as it was given. */
  lessor_address: z.string(),
  mount: z.string(),
  /** Roles served; empty: any. */
  roles: z.array(z.string()),
});

export type AgentFile = z.infer<typeof agentFileSchema>;

/** The agent file's contents, or undefined when it is absent, unreadable or not an agent file. */
export function readAgentFile(path: string): AgentFile | undefined {
  try {
    if (statSync(path).size > MAX_AGENT_FILE_BYTES) return undefined;
    const parsed = agentFileSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeAgentFile(path: string, contents: AgentFile): void {
  writePrivateFile(path, `${JSON.stringify(contents, null, 2)}\n`);
}

/** Whether a process with this id runs (and may be signalled by us). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
