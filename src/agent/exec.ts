// `lessor aws exec -role=R -- command args...`, as `aws-vault exec` does: an
// agent on a random loopback port for the command's lifetime, the command
// run with the container credential variables pointing at it (and the
// variables that would take precedence removed), signals passed on, and its
// exit status returned. When it ends, the agent stops and revokes the lease.
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import type { Logger } from "pino";
import { startAgent } from "./agent.js";
import type { AgentSettings } from "./config.js";

/** Signals passed on to the command (a terminal's Ctrl-C reaches its process group anyway). */
const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

/** Credential variables the AWS SDKs read before the container endpoint's, or instead of ours. */
const SHADOWING = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SECURITY_TOKEN",
  "AWS_CREDENTIAL_EXPIRATION",
  "AWS_PROFILE",
  "AWS_DEFAULT_PROFILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_ROLE_ARN",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/** The command's environment: ours, less what would shadow the agent, plus the endpoint and its token. */
export function commandEnv(env: NodeJS.ProcessEnv, credentialsUrl: string, token: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of SHADOWING) delete out[name];
  // The token itself rather than a file: every SDK version reads this one (old botocore knows no _FILE).
  return { ...out, AWS_CONTAINER_CREDENTIALS_FULL_URI: credentialsUrl, AWS_CONTAINER_AUTHORIZATION_TOKEN: token };
}

export class ExecError extends Error {}

/**
 * Runs the command with an agent serving `role`; resolves to the exit status
 * to leave with: the command's, 128 + the signal's number if a signal ended
 * it, 127 if it could not be started.
 */
export async function execWithAgent(
  settings: AgentSettings,
  role: string,
  run: { command: string; args: string[]; env: NodeJS.ProcessEnv },
  logger: Logger,
): Promise<number> {
  const { command, args } = run;
  const agent = await startAgent({ ...settings, roles: [role], authorizationTokenFile: undefined, agentFile: undefined, metricsListen: undefined }, logger);
  try {
    // Issued before the command starts, so a refusal is said at once and the command's first call is not kept waiting.
    await agent.prefetch(role);
  } catch (err) {
    await agent.stop({ revoke: true });
    throw new ExecError(err instanceof Error ? err.message : String(err));
  }
  // The handlers go on before the command starts (they run on the event loop,
  // after `child` is set): a signal sent as soon as the command is seen running
  // must reach it, not end us with the command orphaned.
  let child: ChildProcess | undefined = undefined;
  const forward = (signal: NodeJS.Signals) => () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const started = spawn(command, args, { stdio: "inherit", env: commandEnv(run.env, agent.credentialsUrl(role), agent.authorizationToken) });
  child = started;
  const status = await new Promise<number>((resolve) => {
    started.once("error", (err: NodeJS.ErrnoException) => {
      process.stderr.write(`Error: cannot run ${command}: ${err.code ?? err.message}\n`);
      resolve(127);
    });
    started.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
  for (const [signal, handler] of handlers) process.off(signal, handler);
  await agent.stop({ revoke: true });
  return status;
}
