// `lessor aws credential-process` and `lessor aws exec`: leased AWS
// credentials for programs that only know the AWS SDKs' own ways of getting
// them (src/agent/credential-process.ts, src/agent/exec.ts).
import { join } from "node:path";
import { DEFAULT_ADDRESS } from "@lessor/client";
import { agentHome, ROLE_NAME } from "../../agent/names.js";
import { ConfigError } from "../../util/hcl-config.js";
import { silenceAwsSdkNodeNotice } from "../../util/aws-sdk-notice.js";
import { defineCommand, processIo as io } from "../context.js";
import { EXIT_USAGE } from "../output.js";
import { AUTH_OPTIONS } from "./agent.js";
import { LOG_LEVELS } from "../../util/log-options.js";
import { NO_COMMAND } from "../usage.js";

/** Where credential-process looks for a running agent unless told: LESSOR_AGENT_FILE, else ~/.lessor/agent.json. */
function defaultAgentFile(env: NodeJS.ProcessEnv): string {
  return env.LESSOR_AGENT_FILE || join(agentHome(env), "agent.json");
}

function checkRole(role: unknown): string {
  if (typeof role !== "string" || !ROLE_NAME.test(role)) {
    throw new ConfigError("-role must name a role (1 to 64 characters from letters, digits and +=,.@_-)");
  }
  return role;
}

/** Runs `work`; a ConfigError is a usage error (exit 1) naming the flag. */
async function usage(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`Error: ${err.message}`);
    process.exitCode = EXIT_USAGE;
  }
}

const COMMON = {
  role: { type: "string", demandOption: true, describe: "The Lessor role (reads <mount>/creds/<role>)" },
  mount: { type: "string", describe: "Where the aws engine is mounted (default aws)" },
  "verify-timeout": { type: "string", describe: "Wait this long for AWS to accept a new IAM key; 0: do not ask STS (default 60s)" },
} as const;

const credentialProcessCommand = defineCommand({
  command: "credential-process",
  describe: "Print credentials for credential_process in ~/.aws/config (from a running agent, else a sealed cache)",
  builder: (y) =>
    y.options({
      ...COMMON,
      "token-file": { type: "string", describe: "Lessor token file (default: LESSOR_TOKEN, else ~/.lessor-token); for an auth method, run `lessor agent`" },
      "agent-file": { type: "string", describe: "A running agent's file (default: LESSOR_AGENT_FILE, else ~/.lessor/agent.json)" },
      "use-agent": { type: "boolean", default: true, describe: "Ask a running agent first" },
    }),
  handler: (argv) =>
    usage(async () => {
      const role = checkRole(argv.role);
      const address = argv.address ?? process.env.LESSOR_ADDR ?? DEFAULT_ADDRESS;
      // The agent's code is loaded only by the commands that run it.
      const { resolveAgentSettings, resolveAuth } = await import("../../agent/config.js");
      const base = resolveAgentSettings({ address, mount: argv.mount, "verify-timeout": argv["verify-timeout"] }, process.env);
      const auth = resolveAuth({ "token-file": argv["token-file"] }, process.env);
      silenceAwsSdkNodeNotice();
      const { credentialProcess } = await import("../../agent/credential-process.js");
      const { defaultCacheDir } = await import("../../agent/credential-cache.js");
      try {
        const creds = await credentialProcess({
          role,
          mount: base.mount,
          lessor: base.lessor,
          address,
          auth,
          agentFile: argv["use-agent"] ? (argv["agent-file"] ?? defaultAgentFile(process.env)) : undefined,
          cacheDir: defaultCacheDir(process.env),
          verifyTimeoutMs: base.verifyTimeoutMs,
        });
        io.out(JSON.stringify(creds));
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        io.err(`Error getting AWS credentials for ${base.mount}/creds/${role}: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      }
    }),
});

const execCommand = defineCommand({
  command: "exec",
  describe: "Run a command with leased AWS credentials: lessor aws exec -role=R -- command args...",
  builder: (y) =>
    y
      .options({
        ...COMMON,
        ...AUTH_OPTIONS,
        "credential-ttl": { type: "string", describe: "Longest Expiration handed out (default 1h)" },
        "log-level": { type: "string", choices: LOG_LEVELS, default: "warn", describe: "The agent's log level (on standard error)" },
      })
      .usage("Usage: lessor aws exec -role=R -- command [args...]"),
  handler: (argv) =>
    usage(async () => {
      // What follows "--" (after "aws exec") is the command, untouched.
      const command = argv._.slice(2).map(String);
      const role = checkRole(argv.role);
      if (command.length === 0) throw new ConfigError("give the command to run after --, e.g. lessor aws exec -role=deploy -- aws sts get-caller-identity");
      const [{ resolveAgentSettings }, { serverLog }] = await Promise.all([import("../../agent/config.js"), import("../server/logging.js")]);
      const settings = resolveAgentSettings(
        {
          address: argv.address,
          "token-file": argv["token-file"],
          "auth-method": argv["auth-method"],
          "auth-mount": argv["auth-mount"],
          "auth-config": argv["auth-config"],
          "listen-address": "127.0.0.1:0",
          mount: argv.mount,
          "credential-ttl": argv["credential-ttl"],
          "verify-timeout": argv["verify-timeout"],
          "revoke-on-exit": true,
          "log-level": argv["log-level"],
        },
        process.env,
      );
      // The command gets the environment as it was given, not the notice switch set below for the agent's own SDK.
      const commandBase = { ...process.env };
      silenceAwsSdkNodeNotice();
      const { logger, release } = await serverLog(settings.logLevel, settings.logFormat, process.stderr);
      release();
      const { execWithAgent } = await import("../../agent/exec.js");
      let status: number;
      try {
        status = await execWithAgent(settings, role, { command: command[0] as string, args: command.slice(1), env: commandBase }, logger);
      } catch (err) {
        io.err(`Error: ${err instanceof Error ? err.message : String(err)}`);
        status = 1;
      }
      process.exit(status);
    }),
});

export const awsCommand = defineCommand({
  command: "aws",
  describe: "AWS credentials for programs that use the AWS SDKs or the AWS CLI",
  builder: (y) => y.command(credentialProcessCommand).command(execCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
