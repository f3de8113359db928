// `lessor agent`: the long-running sidecar serving leased AWS credentials on
// the AWS container credentials endpoint (src/agent/). Flags, or -config with
// the same settings in HCL; a flag given overrides the file.
import type { Argv } from "yargs";
import { AgentConfigError, DEFAULT_AGENT_ADDRESS, readAgentConfig, resolveAgentSettings, type AgentFlags, type AgentSettings } from "../../agent/config.js";
import type { RunningAgent } from "../../agent/agent.js";
import { processIo as io } from "../context.js";
import { EXIT_USAGE } from "../output.js";

export function agentCommand<T>(y: Argv<T>): Argv<T> {
  return y.command(
    "agent",
    "Serve leased AWS credentials to programs on the AWS container credentials endpoint",
    (b) =>
      b
        .option("config", { type: "string", describe: "Configuration file (HCL: lessor, auto_auth, listener, aws, telemetry, ...); flags override it" })
        .option("token-file", { type: "string", describe: "Lessor token file, read again when it changes (default: LESSOR_TOKEN, else ~/.lessor-token)" })
        .option("listen-address", { type: "string", describe: `host:port on loopback, or unix:/path (default ${DEFAULT_AGENT_ADDRESS})` })
        .option("role", { type: "string", array: true, describe: "A role to serve (repeat for several; default: any role the token may read)" })
        .option("mount", { type: "string", describe: "Where the aws engine is mounted (default aws)" })
        .option("credential-ttl", { type: "string", describe: "Longest Expiration handed out; SDKs come back before it (default 1h)" })
        .option("verify-timeout", { type: "string", describe: "Wait this long for AWS to accept a new IAM key before serving it; 0: do not ask STS (default 60s)" })
        .option("authorization-token-file", { type: "string", describe: "Where to write the token SDKs must send (0600; default ~/.lessor/agent-token)" })
        .option("agent-file", { type: "string", describe: "Where to say where this agent is, for `lessor aws credential-process` (default ~/.lessor/agent.json)" })
        .option("revoke-on-exit", { type: "boolean", describe: "Revoke the leases held on SIGTERM/SIGINT (default true)" })
        .option("metrics-listen-address", { type: "string", describe: "host:port for a second listener with only /metrics and /health (off unless given)" })
        .option("log-level", { type: "string", describe: "trace, debug, info, warn or error (default info)" }),
    async (argv) => {
      let settings: AgentSettings;
      try {
        const flags: AgentFlags = {
          address: argv.address as string | undefined,
          config: argv.config,
          "token-file": argv["token-file"],
          "listen-address": argv["listen-address"],
          role: argv.role,
          mount: argv.mount,
          "credential-ttl": argv["credential-ttl"],
          "verify-timeout": argv["verify-timeout"],
          "authorization-token-file": argv["authorization-token-file"],
          "agent-file": argv["agent-file"],
          "revoke-on-exit": argv["revoke-on-exit"],
          "metrics-listen-address": argv["metrics-listen-address"],
          "log-level": argv["log-level"],
        };
        settings = resolveAgentSettings(flags, process.env, flags.config === undefined ? undefined : readAgentConfig(flags.config));
      } catch (err) {
        if (!(err instanceof AgentConfigError)) throw err;
        io.err(`Error: ${err.message}`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      const { default: pino } = await import("pino");
      const logger = pino({ name: "lessor-agent", level: settings.logLevel });
      const { startAgent } = await import("../../agent/agent.js");
      let agent: RunningAgent;
      try {
        agent = await startAgent(settings, logger);
      } catch (err) {
        io.err(`Error starting the agent: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
        return;
      }
      io.out(banner(agent, settings));
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          // A second signal: leave now, whatever is still being revoked (those leases run out on their own).
          logger.warn({ signal }, "stopping at once");
          process.exit(1);
        }
        stopping = true;
        logger.info({ signal, revoke: settings.revokeOnExit }, "shutting down");
        void agent.stop().finally(() => process.exit(0));
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    },
  ) as unknown as Argv<T>;
}

function banner(agent: RunningAgent, settings: AgentSettings): string {
  const roles = settings.roles.length > 0 ? settings.roles.join(", ") : "any role the token may read";
  const example = settings.roles[0] ?? "<role>";
  const lines = [
    "==> Lessor agent started! Log data will stream in below:",
    "",
    `          Listener: ${agent.url} (AWS container credentials)`,
    `            Lessor: ${settings.lessor.address ?? process.env.LESSOR_ADDR ?? "127.0.0.1:8200"}`,
    `              Auth: ${agent.auth}`,
    `             Roles: ${roles} (at /aws/creds/<role> under ${settings.mount}/)`,
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
