// `lessor aws credential-process` and `lessor aws exec`: leased AWS
// credentials for programs that only know the AWS SDKs' own ways of getting
// them (src/agent/credential-process.ts, src/agent/exec.ts).
import { join } from "node:path";
import type { Argv } from "yargs";
import { DEFAULT_ADDRESS } from "@lessor/client";
import { AgentConfigError, agentHome, resolveAgentSettings, resolveAuth, ROLE_NAME } from "../../agent/config.js";
import { processIo as io } from "../context.js";
import { EXIT_USAGE } from "../output.js";

/** Where credential-process looks for a running agent unless told: LESSOR_AGENT_FILE, else ~/.lessor/agent.json. */
function defaultAgentFile(env: NodeJS.ProcessEnv): string {
  return env.LESSOR_AGENT_FILE || join(agentHome(env), "agent.json");
}

function checkRole(role: unknown): string {
  if (typeof role !== "string" || !ROLE_NAME.test(role)) {
    throw new AgentConfigError("-role must name a role (1 to 64 characters from letters, digits and +=,.@_-)");
  }
  return role;
}

function single(argv: Record<string, unknown>, flags: string[]): void {
  for (const flag of flags) if (Array.isArray(argv[flag])) throw new AgentConfigError(`-${flag} was given more than once`);
}

export function awsCommands<T>(y: Argv<T>): Argv<T> {
  return y.command("aws", "AWS credentials for programs that use the AWS SDKs or the AWS CLI", (a) =>
    a
      .command(
        "credential-process",
        "Print credentials for credential_process in ~/.aws/config (from a running agent, else a sealed cache)",
        (b) =>
          b
            .option("role", { type: "string", demandOption: true, describe: "The Lessor role (reads <mount>/creds/<role>)" })
            .option("mount", { type: "string", default: "aws", describe: "Where the aws engine is mounted" })
            .option("token-file", { type: "string", describe: "Lessor token file (default: LESSOR_TOKEN, else ~/.lessor-token)" })
            .option("agent-file", { type: "string", describe: "A running agent's file (default: LESSOR_AGENT_FILE, else ~/.lessor/agent.json)" })
            .option("use-agent", { type: "boolean", default: true, describe: "Ask a running agent first" })
            .option("verify-timeout", { type: "string", describe: "Wait this long for AWS to accept a new IAM key; 0: do not ask STS (default 60s)" }),
        async (argv) => {
          let run;
          try {
            single(argv, ["role", "mount", "token-file", "agent-file", "verify-timeout"]);
            const role = checkRole(argv.role);
            const address = (argv.address as string | undefined) ?? process.env.LESSOR_ADDR ?? DEFAULT_ADDRESS;
            const base = resolveAgentSettings({ address, mount: argv.mount, "verify-timeout": argv["verify-timeout"] }, process.env);
            const { credentialProcess } = await import("../../agent/credential-process.js");
            const { defaultCacheDir } = await import("../../agent/credential-cache.js");
            run = () =>
              credentialProcess({
                role,
                mount: base.mount,
                lessor: base.lessor,
                address,
                auth: resolveAuth({ "token-file": argv["token-file"] }, process.env),
                agentFile: argv["use-agent"] ? (argv["agent-file"] ?? defaultAgentFile(process.env)) : undefined,
                cacheDir: defaultCacheDir(process.env),
                verifyTimeoutMs: base.verifyTimeoutMs,
              });
          } catch (err) {
            if (!(err instanceof AgentConfigError)) throw err;
            io.err(`Error: ${err.message}`);
            process.exitCode = EXIT_USAGE;
            return;
          }
          try {
            io.out(JSON.stringify(await run()));
          } catch (err) {
            io.err(`Error getting AWS credentials: ${err instanceof Error ? err.message : String(err)}`);
            process.exitCode = 1;
          }
        },
      )
      .command(
        "exec",
        "Run a command with leased AWS credentials: lessor aws exec -role=R -- command args...",
        (b) =>
          b
            .option("role", { type: "string", demandOption: true, describe: "The Lessor role (reads <mount>/creds/<role>)" })
            .option("mount", { type: "string", default: "aws", describe: "Where the aws engine is mounted" })
            .option("token-file", { type: "string", describe: "Lessor token file (default: LESSOR_TOKEN, else ~/.lessor-token)" })
            .option("credential-ttl", { type: "string", describe: "Longest Expiration handed out (default 1h)" })
            .option("verify-timeout", { type: "string", describe: "Wait this long for AWS to accept a new IAM key; 0: do not ask STS (default 60s)" })
            .option("log-level", { type: "string", default: "warn", describe: "The agent's log level (on standard error)" })
            .usage("Usage: lessor aws exec -role=R -- command [args...]"),
        async (argv) => {
          const command = argv._.slice(2).map(String);
          let settings;
          let role: string;
          try {
            single(argv, ["role", "mount", "token-file", "credential-ttl", "verify-timeout", "log-level"]);
            role = checkRole(argv.role);
            if (command.length === 0) throw new AgentConfigError("give the command to run after --, e.g. lessor aws exec -role=deploy -- aws sts get-caller-identity");
            settings = resolveAgentSettings(
              {
                address: argv.address as string | undefined,
                "token-file": argv["token-file"],
                "listen-address": "127.0.0.1:0",
                mount: argv.mount,
                "credential-ttl": argv["credential-ttl"],
                "verify-timeout": argv["verify-timeout"],
                "revoke-on-exit": true,
                "log-level": argv["log-level"],
              },
              process.env,
            );
          } catch (err) {
            if (!(err instanceof AgentConfigError)) throw err;
            io.err(`Error: ${err.message}`);
            process.exitCode = EXIT_USAGE;
            return;
          }
          const { default: pino } = await import("pino");
          const logger = pino({ name: "lessor-aws-exec", level: settings.logLevel }, pino.destination(2));
          const { execWithAgent } = await import("../../agent/exec.js");
          let status: number;
          try {
            status = await execWithAgent(settings, role, command[0] as string, command.slice(1), logger);
          } catch (err) {
            io.err(`Error: ${err instanceof Error ? err.message : String(err)}`);
            status = 1;
          }
          process.exit(status);
        },
      )
      .demandCommand(1, "Say what to do: credential-process or exec"),
  );
}
