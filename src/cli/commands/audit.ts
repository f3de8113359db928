// audit enable|disable|list|hash.
import { columns } from "../output.js";
import { parseKeyValues } from "../input.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient } from "../context.js";
import { NO_COMMAND } from "../usage.js";

const enableCommand = defineCommand({
  command: "enable <type> [options..]",
  describe: "Enable an audit device: file (file_path=...) or stdout",
  builder: (y) =>
    y
      .positional("type", { type: "string", demandOption: true })
      .positional("options", { type: "string", array: true, describe: "key=value options, e.g. file_path=/var/log/lessor_audit.log" })
      .option("path", { type: "string", describe: "Where to enable it (default: the type)" })
      .option("description", { type: "string", default: "" }),
  handler: (argv) =>
    withClient(argv, "enabling audit device", async (c) => {
      const options = Object.fromEntries(Object.entries(parseKeyValues(argv.options ?? [], io.stdin)).map(([k, v]) => [k, String(v)]));
      await c.sys.enableAudit(argv.type, { path: argv.path, description: argv.description, options });
      const at = (argv.path ?? argv.type).replace(/^\/+/, "").replace(/\/?$/, "/");
      io.out(`Success! Enabled the ${argv.type} audit device at: ${at}`);
    }),
});

const disableCommand = defineCommand({
  command: "disable <path>",
  describe: "Disable an audit device",
  builder: (y) => y.positional("path", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, "disabling audit device", async (c) => {
      await c.sys.disableAudit(argv.path);
      io.out(`Success! Disabled audit device (if it was enabled) at: ${argv.path.replace(/\/?$/, "/")}`);
    }),
});

const listCommand = defineCommand({
  command: "list",
  describe: "List the enabled audit devices",
  builder: (y) => y.option("detailed", { type: "boolean", default: false }).option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "listing audit devices", async (c) => {
      const devices = await c.sys.listAudit();
      if (asFormat(argv.format) === "json") {
        io.out(JSON.stringify(Object.fromEntries(devices.map((d) => [d.path, d])), null, 2));
        return;
      }
      if (devices.length === 0) {
        io.out("No audit devices are enabled.");
        return;
      }
      const header = argv.detailed ? ["Path", "Type", "Description", "Options"] : ["Path", "Type", "Description"];
      const rows = devices.map((d) => {
        const row = [d.path, d.type, d.description || "n/a"];
        if (argv.detailed) row.push(Object.entries(d.options).map(([k, v]) => `${k}=${v}`).join(" ") || "n/a");
        return row;
      });
      io.out(columns(header, rows));
    }),
});

const hashCommand = defineCommand({
  command: "hash <input>",
  describe: "Print the hmac-sha256 digest audit records hold for a value",
  builder: (y) => y.positional("input", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, "hashing", async (c) => {
      io.out(await c.sys.hashAudit(argv.input));
    }),
});

export const auditCommand = defineCommand({
  command: "audit",
  describe: "Enable, disable and list audit devices",
  builder: (y) => y.command(enableCommand).command(disableCommand).command(listCommand).command(hashCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
