// `lessor agent`: the long-running sidecar serving leased AWS credentials on
// the AWS container credentials endpoint (src/agent/). Flags, or -config with
// the same settings in HCL; a flag given overrides the file. SIGTERM/SIGINT
// revoke the leases held and stop (a second one exits at once).
import type { Logger } from "pino";
import type { AgentSettings } from "../../agent/config.js";
import { AUTH_METHODS, DEFAULT_AGENT_ADDRESS } from "../../agent/names.js";
import { ConfigError } from "../../util/hcl-config.js";
import type { RunningAgent } from "../../agent/agent.js";
import { DEFAULT_ADDRESS } from "@lessor/client";
import { silenceAwsSdkNodeNotice } from "../../util/aws-sdk-notice.js";
import { defineCommand, processIo as io } from "../context.js";
import { EXIT_USAGE } from "../output.js";
import { LOG_FORMATS, LOG_LEVELS } from "../../util/log-options.js";

/** How the agent logs in to Lessor (also `lessor aws exec`'s). */
export const AUTH_OPTIONS = {
  "token-file": { type: "string", describe: "Lessor token file, read again when it changes (default: LESSOR_TOKEN, else ~/.lessor-token)" },
  "auth-method": { type: "string", choices: AUTH_METHODS, describe: "Log in with an auth method instead: jwt, approle, cert or aws" },
  "auth-mount": { type: "string", describe: "Where the auth method is mounted (default: its name)" },
  "auth-config": {
    type: "string",
    array: true,
    describe: "The method's settings, key=value (repeat): jwt: role, token_file; approle: role_id, secret_id_file; cert: name; aws: role, header_value, region",
  },
} as const;

/** The flags, without yargs defaults: a flag not given must not hide the file (defaults are applied in agent/config.ts). */
const OPTIONS = {
  config: { type: "string", describe: "Configuration file (HCL: lessor, auto_auth, listener, aws, telemetry, ...); flags override it" },
  ...AUTH_OPTIONS,
  "listen-address": { type: "string", describe: `host:port on loopback, or unix:/path (default ${DEFAULT_AGENT_ADDRESS})` },
  role: { type: "string", array: true, describe: "A role to serve (repeat for several; default: any role the token may read)" },
  mount: { type: "string", describe: "Where the aws engine is mounted (default aws)" },
  "credential-ttl": { type: "string", describe: "Longest Expiration handed out; SDKs come back before it (default 1h)" },
  "verify-timeout": { type: "string", describe: "Wait this long for AWS to accept a new IAM key before serving it; 0: do not ask STS (default 60s)" },
  "authorization-token-file": { type: "string", describe: "Where to write the token SDKs must send (0600; default ~/.lessor/agent-token)" },
  "agent-file": { type: "string", describe: "Where to say where this agent is, for `lessor aws credential-process` (default ~/.lessor/agent.json)" },
  "revoke-on-exit": { type: "boolean", describe: "Revoke the leases held on SIGTERM/SIGINT (default true)" },
  "metrics-listen-address": { type: "string", describe: "host:port for a second listener with only /metrics and /health (off unless given)" },
  "log-level": { type: "string", choices: LOG_LEVELS, describe: "Log level (default info)" },
  "log-format": { type: "string", choices: LOG_FORMATS, describe: "Log format: text or json (default: text on a terminal, else json)" },
} as const;

export const agentCommand = defineCommand({
  command: "agent",
  describe: "Serve leased AWS credentials to programs on the AWS container credentials endpoint",
  builder: (y) => y.options(OPTIONS),
  handler: async (argv) => {
    // The agent's code is loaded only when it runs: every other command starts faster without it.
    const [{ readAgentConfig, resolveAgentSettings }, { serverLog }] = await Promise.all([import("../../agent/config.js"), import("../server/logging.js")]);
    let settings: AgentSettings;
    try {
      settings = resolveAgentSettings(argv, process.env, argv.config === undefined ? undefined : readAgentConfig(argv.config));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.err(`Error: ${err.message}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    silenceAwsSdkNodeNotice();
    const { logger, release } = await serverLog(settings.logLevel, settings.logFormat);
    const { startAgent } = await import("../../agent/agent.js");
    let agent: RunningAgent;
    try {
      agent = await startAgent(settings, logger);
    } catch (err) {
      release();
      io.err(`Error starting the agent: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
      return;
    }
    release(`${banner(agent, settings)}\n`);
    handleSignals(agent, settings, logger);
  },
});

function handleSignals(agent: RunningAgent, settings: AgentSettings, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // Whatever is still being revoked runs out at its lease's end.
      logger.warn({ signal }, "second signal: exiting at once, without waiting for revocations under way");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, revoke: settings.revokeOnExit }, "shutting down (send the signal again to exit at once)");
    agent.stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, "stopping failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function banner(agent: RunningAgent, settings: AgentSettings): string {
  const roles = settings.roles.length > 0 ? settings.roles.join(", ") : "any role the token may read";
  const example = settings.roles[0] ?? "<role>";
  const lines = [
    "==> Lessor agent started! Log data will stream in below:",
    "",
    `          Listener: ${agent.url} (AWS container credentials)`,
    `            Lessor: ${settings.lessor.address ?? process.env.LESSOR_ADDR ?? DEFAULT_ADDRESS}`,
    `              Auth: ${agent.auth}`,
    `             Roles: ${roles} (${settings.mount}/creds/<role>, served at /aws/creds/<role>)`,
  ];
  if (agent.metricsUrl !== undefined) lines.push(`           Metrics: ${agent.metricsUrl}/metrics`);
  lines.push("");
  if (agent.url.startsWith("http") && agent.authorizationTokenFile !== undefined) {
    lines.push(
      "Point AWS SDKs and the AWS CLI at it with:",
      "",
      `    $ export AWS_CONTAINER_CREDENTIALS_FULL_URI=${agent.credentialsUrl(example)}`,
      `    $ export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=${agent.authorizationTokenFile}`,
      "",
    );
  }
  return lines.join("\n");
}
