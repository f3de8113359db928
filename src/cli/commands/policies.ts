// policy write|read|list|delete.
import { readFileSync } from "node:fs";
import type { Argv } from "yargs";
import { STDIN_ARG, UsageError } from "../input.js";
import { asFormat, processIo as io, withClient } from "../context.js";

export function policyCommands<T>(y: Argv<T>): Argv<T> {
  return y.command("policy", "Write, read, list and delete ACL policies", (p) =>
    p
      .command(
        "write <name> <file>",
        "Upload a policy from a file, or - for standard input",
        (b) => b.positional("name", { type: "string", demandOption: true }).positional("file", { type: "string", demandOption: true }),
        (argv) =>
          withClient({ address: argv.address as string | undefined, format: "table" }, "uploading policy", async (c) => {
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
      )
      .command(
        "read <name>",
        "Print a policy",
        (b) => b.positional("name", { type: "string", demandOption: true }).option("format", { type: "string" }),
        (argv) =>
          withClient({ address: argv.address as string | undefined, format: "table" }, "reading policy", async (c) => {
            const text = await c.policies.read(argv.name);
            if (asFormat(argv.format) === "json") io.out(JSON.stringify({ name: argv.name.toLowerCase(), rules: text }, null, 2));
            else io.out(text);
          }),
      )
      .command(
        "list",
        "List the policies",
        (b) => b.option("format", { type: "string" }),
        (argv) =>
          withClient({ address: argv.address as string | undefined, format: "table" }, "listing policies", async (c) => {
            const names = await c.policies.list();
            if (asFormat(argv.format) === "json") io.out(JSON.stringify(names, null, 2));
            else io.out(names.join("\n"));
          }),
      )
      .command(
        "delete <name>",
        "Delete a policy (tokens that name it lose what it granted)",
        (b) => b.positional("name", { type: "string", demandOption: true }),
        (argv) =>
          withClient({ address: argv.address as string | undefined, format: "table" }, "deleting policy", async (c) => {
            await c.policies.delete(argv.name);
            io.out(`Success! Deleted policy: ${argv.name.toLowerCase()}`);
          }),
      )
      .demandCommand(1, "Say what to do: write, read, list or delete"),
  ) as unknown as Argv<T>;
}
