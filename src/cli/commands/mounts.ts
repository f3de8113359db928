// secrets enable|disable|list, and the legacy `mount`.
import type { Argv } from "yargs";
import { parseDuration } from "../../util/duration.js";
import { columns } from "../output.js";
import { UsageError } from "../input.js";
import { NO_COMMAND } from "../usage.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient, type GlobalArgs } from "../context.js";

function ttlSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDuration(value);
  if ("error" in parsed) throw new UsageError(`-${flag}: ${parsed.error}`);
  return parsed.seconds;
}

const enableArgs = (y: Argv<GlobalArgs>) =>
  y
    .positional("type", { type: "string", demandOption: true, describe: "Engine type: aws, kv" })
    .option("path", { type: "string", describe: "Where to mount it (default: the type)" })
    .option("description", { type: "string" })
    .option("default-lease-ttl", { type: "string", describe: "Default lease TTL, e.g. 1h" })
    .option("max-lease-ttl", { type: "string", describe: "Maximum lease TTL, e.g. 768h" });

const enableCommand = defineCommand({
  command: "enable <type>",
  describe: "Enable a secrets engine",
  builder: enableArgs,
  handler: (argv) =>
    withClient(argv, "enabling", async (c) => {
      const mount = await c.mounts.enable(argv.type, {
        path: argv.path,
        description: argv.description,
        defaultLeaseTtlSeconds: ttlSeconds("default-lease-ttl", argv["default-lease-ttl"]),
        maxLeaseTtlSeconds: ttlSeconds("max-lease-ttl", argv["max-lease-ttl"]),
      });
      io.out(`Success! Enabled the ${mount.type} secrets engine at: ${mount.path}`);
    }),
});

const disableCommand = defineCommand({
  command: "disable <path>",
  describe: "Disable a secrets engine (revokes its leases)",
  builder: (y) => y.positional("path", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, "disabling", async (c) => {
      await c.mounts.disable(argv.path);
      io.out(`Success! Disabled the secrets engine (if it existed) at: ${argv.path.replace(/\/?$/, "/")}`);
    }),
});

const listCommand = defineCommand({
  command: "list",
  describe: "List the enabled secrets engines",
  builder: (y) => y.option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "listing secrets engines", async (c) => {
      const mounts = await c.mounts.list();
      if (asFormat(argv.format) === "json") {
        io.out(JSON.stringify(Object.fromEntries(mounts.map((m) => [m.path, m])), null, 2));
        return;
      }
      io.out(columns(["Path", "Type", "Accessor", "Description"], mounts.map((m) => [m.path, m.type, m.accessor, m.description || "n/a"])));
    }),
});

export const secretsCommand = defineCommand({
  command: "secrets",
  describe: "Enable, disable and list secrets engines",
  builder: (y) => y.command(enableCommand).command(disableCommand).command(listCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});

export const mountCommand = defineCommand({
  command: "mount <type>",
  describe: "Mount a secrets engine (old name of `secrets enable`)",
  builder: enableArgs,
  handler: (argv) =>
    withClient(argv, "mounting", async (c) => {
      const mount = await c.mounts.enable(argv.type, { path: argv.path, description: argv.description });
      const at = mount.path.replace(/\/$/, "");
      io.out(`Successfully mounted '${mount.type}' at '${at}'!`);
    }),
});
