// secrets enable|disable|list, and the legacy `mount`.
import type { Argv } from "yargs";
import { parseDuration } from "../../util/duration.js";
import { columns } from "../output.js";
import { UsageError } from "../input.js";
import { asFormat, processIo as io, withClient } from "../context.js";

function ttlSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDuration(value);
  if ("error" in parsed) throw new UsageError(`-${flag}: ${parsed.error}`);
  return parsed.seconds;
}

export function mountCommands<T>(y: Argv<T>): Argv<T> {
  const enableOptions = <U>(b: Argv<U>) =>
    b
      .positional("type", { type: "string", demandOption: true, describe: "Engine type: aws, kv" })
      .option("path", { type: "string", describe: "Where to mount it (default: the type)" })
      .option("description", { type: "string" })
      .option("default-lease-ttl", { type: "string", describe: "Default lease TTL, e.g. 1h" })
      .option("max-lease-ttl", { type: "string", describe: "Maximum lease TTL, e.g. 768h" });

  return y
    .command("secrets", "Enable, disable and list secrets engines", (s) =>
      s
        .command(
          "enable <type>",
          "Enable a secrets engine",
          enableOptions,
          (argv) =>
            withClient({ address: argv.address as string | undefined, format: "table" }, "enabling", async (c) => {
              const mount = await c.mounts.enable(argv.type, {
                path: argv.path,
                description: argv.description,
                defaultLeaseTtlSeconds: ttlSeconds("default-lease-ttl", argv["default-lease-ttl"]),
                maxLeaseTtlSeconds: ttlSeconds("max-lease-ttl", argv["max-lease-ttl"]),
              });
              io.out(`Success! Enabled the ${mount.type} secrets engine at: ${mount.path}`);
            }),
        )
        .command(
          "disable <path>",
          "Disable a secrets engine (revokes its leases)",
          (b) => b.positional("path", { type: "string", demandOption: true }),
          (argv) =>
            withClient({ address: argv.address as string | undefined, format: "table" }, "disabling", async (c) => {
              await c.mounts.disable(argv.path);
              io.out(`Success! Disabled the secrets engine (if it existed) at: ${argv.path.replace(/\/?$/, "/")}`);
            }),
        )
        .command(
          "list",
          "List the enabled secrets engines",
          (b) => b.option("format", { type: "string" }),
          (argv) =>
            withClient({ address: argv.address as string | undefined, format: "table" }, "listing secrets engines", async (c) => {
              const mounts = await c.mounts.list();
              if (asFormat(argv.format) === "json") {
                io.out(JSON.stringify(Object.fromEntries(mounts.map((m) => [m.path, m])), null, 2));
                return;
              }
              io.out(
                columns(
                  ["Path", "Type", "Accessor", "Description"],
                  mounts.map((m) => [m.path, m.type, m.accessor, m.description || "n/a"]),
                ),
              );
            }),
        )
        .demandCommand(1, "Say what to do: enable, disable or list"),
    )
    .command(
      "mount <type>",
      "Mount a secrets engine (old name of `secrets enable`)",
      enableOptions,
      (argv) =>
        withClient({ address: argv.address as string | undefined, format: "table" }, "mounting", async (c) => {
          const mount = await c.mounts.enable(argv.type, { path: argv.path, description: argv.description });
          const at = mount.path.replace(/\/$/, "");
          io.out(`Successfully mounted '${mount.type}' at '${at}'!`);
        }),
    ) as unknown as Argv<T>;
}
