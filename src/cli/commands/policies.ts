// policy write|read|list|delete.
import { readFileSync } from "node:fs";
import { STDIN_ARG, UsageError } from "../input.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient } from "../context.js";
import { NO_COMMAND } from "../usage.js";

const writeCommand = defineCommand({
  command: "write <name> <file>",
  describe: "Upload a policy from a file, or - for standard input",
  builder: (y) => y.positional("name", { type: "string", demandOption: true }).positional("file", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, "uploading policy", async (c) => {
      let text: string;
      if (argv.file === "-" || argv.file === STDIN_ARG) text = io.stdin();
      else {
        try {
          text = readFileSync(argv.file, "utf8");
        } catch {
          throw new UsageError(`could not read the policy file ${argv.file}`);
        }
      }
      await c.policies.write(argv.name, text);
      io.out(`Success! Uploaded policy: ${argv.name.toLowerCase()}`);
    }),
});

const readCommand = defineCommand({
  command: "read <name>",
  describe: "Print a policy",
  builder: (y) => y.positional("name", { type: "string", demandOption: true }).option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "reading policy", async (c) => {
      const text = await c.policies.read(argv.name);
      if (asFormat(argv.format) === "json") io.out(JSON.stringify({ name: argv.name.toLowerCase(), rules: text }, null, 2));
      else io.out(text);
    }),
});

const listCommand = defineCommand({
  command: "list",
  describe: "List the policies",
  builder: (y) => y.option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "listing policies", async (c) => {
      const names = await c.policies.list();
      if (asFormat(argv.format) === "json") io.out(JSON.stringify(names, null, 2));
      else io.out(names.join("\n"));
    }),
});

const deleteCommand = defineCommand({
  command: "delete <name>",
  describe: "Delete a policy (tokens that name it lose what it granted)",
  builder: (y) => y.positional("name", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, "deleting policy", async (c) => {
      await c.policies.delete(argv.name);
      io.out(`Success! Deleted policy: ${argv.name.toLowerCase()}`);
    }),
});

export const policyCommand = defineCommand({
  command: "policy",
  describe: "Write, read, list and delete ACL policies",
  builder: (y) => y.command(writeCommand).command(readCommand).command(listCommand).command(deleteCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
