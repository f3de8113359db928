// The CLI bundle's entry (scripts/bundle-cli.js; bundle-loader.cts runs it).
// bin/lessor.js sends the agent's commands (agent, aws) to the compiled
// modules; one that reaches the bundle all the same (a flag's value before
// the command word: `lessor -address x agent`) is handed to them here, so
// the agent never runs from the bundle, which leaves its code out.
import { hideBin } from "yargs/helpers";
import { main } from "./cli.js";
import { positionalWords } from "./usage.js";

const AGENT_COMMANDS = new Set(["agent", "aws"]);

/** Runs the command line this process was given. */
export async function run(): Promise<void> {
  const argv = hideBin(process.argv);
  // main.js is outside the bundle (imported on demand): the CLI as compiled modules, which reads the same command line.
  if (AGENT_COMMANDS.has(positionalWords(argv)[0] ?? "")) await import("./main.js");
  else await main(argv);
}
