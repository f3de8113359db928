// The agent's names and defaults the CLI shows before anything runs (its
// help, its flags' choices): apart from agent/config.ts, so `lessor read`
// need not load the agent's settings parser to list the agent's flags.
import { homedir } from "node:os";
import { join } from "node:path";

/** Role names as the aws engine takes them. */
export const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
/** Where the agent listens unless told otherwise (loopback; the port Vault Agent's examples use). */
export const DEFAULT_AGENT_ADDRESS = "127.0.0.1:8100";
/** The auth methods the agent logs in with. */
export const AUTH_METHODS = ["jwt", "approle", "cert", "aws"] as const;

/** The agent's own directory: ~/.lessor. */
export function agentHome(env: NodeJS.ProcessEnv): string {
  return join(env.HOME ?? homedir(), ".lessor");
}
