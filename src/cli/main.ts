// The `lessor` command. Vault's single-dash flags (-path=aws, -format=json)
// work as well as --path: yargs is told not to split -abc into -a -b -c.
import { readFileSync } from "node:fs";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { processIo } from "./context.js";
import { leaseCommands } from "./commands/leases.js";
import { mountCommands } from "./commands/mounts.js";
import { pathCommands } from "./commands/paths.js";
import { serverCommand } from "./commands/server.js";
import { agentCommand } from "./commands/agent.js";
import { awsCommands } from "./commands/aws.js";
import { tokenCommands } from "./commands/tokens.js";
import { policyCommands } from "./commands/policies.js";
import { sysCommands } from "./commands/sys.js";
import { EXIT_USAGE } from "./output.js";
import { STDIN_ARG } from "./input.js";

processIo.stdin = () => readFileSync(0, "utf8");

export async function main(argv: string[]): Promise<void> {
  let cli = yargs(argv.map((a) => (a === "-" ? STDIN_ARG : a)))
    .scriptName("lessor")
    .parserConfiguration({ "short-option-groups": false, "camel-case-expansion": false, "strip-aliased": true })
    .option("address", { type: "string", global: true, describe: "Server address (default LESSOR_ADDR, else 127.0.0.1:8200)" })
    .usage("Usage: lessor <command> [args]\n\nDynamic secrets on lease: AWS credentials made when read, destroyed when the lease ends.")
    .strict()
    .demandCommand(1, "Say what to do; see the commands above.")
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, err) => {
      if (err) throw err;
      processIo.err(`Error: ${message}\nRun "lessor --help" for usage.`);
      process.exit(EXIT_USAGE);
    });
  cli = serverCommand(cli);
  cli = agentCommand(cli);
  cli = awsCommands(cli);
  cli = mountCommands(cli);
  cli = pathCommands(cli);
  cli = leaseCommands(cli);
  cli = tokenCommands(cli);
  cli = policyCommands(cli);
  cli = sysCommands(cli);
  await cli.parseAsync();
}

await main(hideBin(process.argv));
