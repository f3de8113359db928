// The `lessor` command: one yargs command module per command or command group
// (src/cli/commands/). Vault's single-dash flags (-path=aws, -format=json)
// work as well as --path: yargs is told not to split -abc into -a -b -c.
// Run by main.ts (the compiled modules) or, bundled, by bundle.ts: no
// top-level await here, so the bundle can be a CommonJS script.
import { readFileSync } from "node:fs";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { processIo } from "./context.js";
import { auditCommand } from "./commands/audit.js";
import { authCommand } from "./commands/auth.js";
import { loginCommand } from "./commands/login.js";
import { leaseCommand } from "./commands/leases.js";
import { legacyRevokeCommand } from "./commands/lease-revoke.js";
import { mountCommand, secretsCommand } from "./commands/mounts.js";
import { operatorCommand } from "./commands/operator.js";
import { deleteCommand, listCommand, pathHelpCommand, readCommand, writeCommand } from "./commands/paths.js";
import { policyCommand } from "./commands/policies.js";
import { quotaCommand } from "./commands/quotas.js";
import { serverCommand } from "./commands/server.js";
import { agentCommand } from "./commands/agent.js";
import { awsCommand } from "./commands/aws.js";
import { tokenCommand } from "./commands/tokens.js";
import { versionCommand } from "./commands/version.js";
import { EXIT_USAGE } from "./output.js";
import { STDIN_ARG } from "./input.js";
import { failureText, NO_COMMAND, skipHelpCache, VERSION_FLAGS } from "./usage.js";

processIo.stdin = () => readFileSync(0, "utf8");

export async function main(argv: string[]): Promise<void> {
  // `lessor --version` is `lessor version`; a lone "-" (standard input) survives yargs as STDIN_ARG.
  const args = argv.map((a, i) => (a === "-" ? STDIN_ARG : i === 0 && VERSION_FLAGS.includes(a) ? "version" : a));
  const cli = yargs(args)
    .scriptName("lessor")
    .parserConfiguration({ "short-option-groups": false, "camel-case-expansion": false, "strip-aliased": true })
    .option("address", { type: "string", global: true, describe: "Server address (default LESSOR_ADDR, else 127.0.0.1:8200)" })
    .usage("Usage: lessor <command> [args]\n\nDynamic secrets on lease: AWS credentials made when read, destroyed when the lease ends.")
    .strict()
    .demandCommand(1, NO_COMMAND)
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, err, failed) => {
      if (err) throw err;
      let help = "";
      failed.showHelp((text) => (help = text));
      processIo.err(failureText({ message, help, args }));
      process.exit(EXIT_USAGE);
    })
    .command(serverCommand)
    .command(agentCommand)
    .command(awsCommand)
    .command(readCommand)
    .command(writeCommand)
    .command(deleteCommand)
    .command(listCommand)
    .command(pathHelpCommand)
    .command(secretsCommand)
    .command(mountCommand)
    .command(leaseCommand)
    .command(legacyRevokeCommand)
    .command(tokenCommand)
    .command(authCommand)
    .command(loginCommand)
    .command(policyCommand)
    .command(auditCommand)
    .command(quotaCommand)
    .command(operatorCommand)
    .command(versionCommand);
  skipHelpCache(cli);
  await cli.parseAsync();
}

/** Runs the command line this process was given. */
export function run(): Promise<void> {
  return main(hideBin(process.argv));
}
