// auth enable|disable|list: auth methods, mounted under auth/ (Vault's verbs and output).
import { columns } from "../output.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient } from "../context.js";
import { NO_COMMAND } from "../usage.js";

/** One mount as sys/auth lists it (zod is loaded only for the list: the CLI starts faster without it). */
async function authMountSchema() {
  const { z } = await import("zod");
  return z.object({ type: z.string(), accessor: z.string().default(""), description: z.string().default("") });
}

/** "jwt", "auth/jwt/" and "jwt/" name one mount: the path under auth/, without slashes at the ends. */
function methodPath(path: string): string {
  return path.replace(/^\/+/, "").replace(/^auth\//, "").replace(/\/+$/, "");
}

const enableCommand = defineCommand({
  command: "enable <type>",
  describe: "Enable an auth method (at auth/<type>/ unless -path says otherwise)",
  builder: (y) =>
    y
      .positional("type", { type: "string", demandOption: true, describe: "Method type: jwt, approle, ..." })
      .option("path", { type: "string", describe: "Where under auth/ to mount it (default: the type)" })
      .option("description", { type: "string", default: "" }),
  handler: (argv) =>
    withClient(argv, "enabling", async (c) => {
      const path = methodPath(argv.path ?? argv.type);
      await c.write(`sys/auth/${path}`, { type: argv.type, description: argv.description });
      io.out(`Success! Enabled ${argv.type} auth method at: ${path}/`);
    }),
});

const disableCommand = defineCommand({
  command: "disable <path>",
  describe: "Disable an auth method (its tokens stop working when revoked)",
  builder: (y) => y.positional("path", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, "disabling auth method", async (c) => {
      const path = methodPath(argv.path);
      await c.delete(`sys/auth/${path}`);
      io.out(`Success! Disabled the auth method (if it existed) at: ${path}/`);
    }),
});

const listCommand = defineCommand({
  command: "list",
  describe: "List the enabled auth methods",
  builder: (y) => y.option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "listing enabled auth methods", async (c) => {
      const { data } = await c.read("sys/auth");
      if (asFormat(argv.format) === "json") {
        io.out(JSON.stringify(data, null, 2));
        return;
      }
      const schema = await authMountSchema();
      const rows = Object.entries(data)
        .map(([path, raw]) => [path, schema.parse(raw)] as const)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([path, m]) => [path, m.type, m.accessor, m.description || "n/a"]);
      io.out(columns(["Path", "Type", "Accessor", "Description"], rows));
    }),
});

export const authCommand = defineCommand({
  command: "auth",
  describe: "Enable, disable and list auth methods",
  builder: (y) => y.command(enableCommand).command(disableCommand).command(listCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
