// audit enable|disable|list|hash, quota write|read|list|delete, and the
// operator commands: generate-root (offline), rotate-key, key-status, prune-keys.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Argv } from "yargs";
import { formatDuration, parseDuration } from "../../util/duration.js";
import { columns } from "../output.js";
import { parseKeyValues, UsageError } from "../input.js";
import { asFormat, processIo as io, withClient } from "../context.js";

const globals = (argv: object) => ({ address: (argv as { address?: string }).address, format: "table" as const });

function auditCommands<T>(y: Argv<T>): Argv<T> {
  return y.command("audit", "Enable, disable and list audit devices", (a) =>
    a
      .command(
        "enable <type> [options..]",
        "Enable an audit device: file (file_path=...) or stdout",
        (b) =>
          b
            .positional("type", { type: "string", demandOption: true })
            .positional("options", { type: "string", array: true, describe: "key=value options, e.g. file_path=/var/log/lessor_audit.log" })
            .option("path", { type: "string", describe: "Where to enable it (default: the type)" })
            .option("description", { type: "string", default: "" }),
        (argv) =>
          withClient(globals(argv), "enabling audit device", async (c) => {
            const options = Object.fromEntries(Object.entries(parseKeyValues(argv.options ?? [], io.stdin)).map(([k, v]) => [k, String(v)]));
            await c.sys.enableAudit(argv.type, { path: argv.path, description: argv.description, options });
            const at = (argv.path ?? argv.type).replace(/^\/+/, "").replace(/\/?$/, "/");
            io.out(`Success! Enabled the ${argv.type} audit device at: ${at}`);
          }),
      )
      .command(
        "disable <path>",
        "Disable an audit device",
        (b) => b.positional("path", { type: "string", demandOption: true }),
        (argv) =>
          withClient(globals(argv), "disabling audit device", async (c) => {
            await c.sys.disableAudit(argv.path);
            io.out(`Success! Disabled audit device (if it was enabled) at: ${argv.path.replace(/\/?$/, "/")}`);
          }),
      )
      .command(
        "list",
        "List the enabled audit devices",
        (b) => b.option("detailed", { type: "boolean", default: false }).option("format", { type: "string" }),
        (argv) =>
          withClient(globals(argv), "listing audit devices", async (c) => {
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
            io.out(
              columns(
                header,
                devices.map((d) => {
                  const row = [d.path, d.type, d.description || "n/a"];
                  if (argv.detailed) row.push(Object.entries(d.options).map(([k, v]) => `${k}=${v}`).join(" ") || "n/a");
                  return row;
                }),
              ),
            );
          }),
      )
      .command(
        "hash <input>",
        "Print the hmac-sha256 digest audit records hold for a value",
        (b) => b.positional("input", { type: "string", demandOption: true }),
        (argv) =>
          withClient(globals(argv), "hashing", async (c) => {
            io.out(await c.sys.hashAudit(argv.input));
          }),
      )
      .demandCommand(1, "Say what to do: enable, disable, list or hash"),
  ) as unknown as Argv<T>;
}

function quotaCommands<T>(y: Argv<T>): Argv<T> {
  return y.command("quota", "Rate limit quotas (per path prefix, optionally per token)", (q) =>
    q
      .command(
        "write <name> [fields..]",
        "Create or replace a quota: rate=N [interval=1s] [path=prefix] [per_token=true]",
        (b) => b.positional("name", { type: "string", demandOption: true }).positional("fields", { type: "string", array: true }),
        (argv) =>
          withClient(globals(argv), `writing to sys/quotas/rate-limit/${argv.name}`, async (c) => {
            const fields = parseKeyValues(argv.fields ?? [], io.stdin);
            const known = ["rate", "interval", "path", "per_token"];
            for (const k of Object.keys(fields)) {
              if (!known.includes(k)) throw new UsageError(`unknown field "${k.slice(0, 40)}"; a quota takes ${known.join(", ")}`);
            }
            const rate = Number(fields.rate);
            if (fields.rate === undefined || !Number.isFinite(rate)) throw new UsageError("rate=N is required (requests per interval)");
            let intervalSeconds = 1;
            if (fields.interval !== undefined) {
              const parsed = parseDuration(String(fields.interval));
              if ("error" in parsed) throw new UsageError(`interval: ${parsed.error}`);
              intervalSeconds = parsed.seconds;
            }
            const perToken = String(fields.per_token ?? "false");
            if (!["true", "false"].includes(perToken)) throw new UsageError("per_token must be true or false");
            await c.sys.writeQuota({ name: argv.name, rate, intervalSeconds, path: String(fields.path ?? ""), perToken: perToken === "true" });
            io.out(`Success! Data written to: sys/quotas/rate-limit/${argv.name}`);
          }),
      )
      .command(
        "read <name>",
        "Show a quota",
        (b) => b.positional("name", { type: "string", demandOption: true }).option("format", { type: "string" }),
        (argv) =>
          withClient(globals(argv), `reading sys/quotas/rate-limit/${argv.name}`, async (c) => {
            const quota = await c.sys.readQuota(argv.name);
            const data = { interval: formatDuration(quota.intervalSeconds), name: quota.name, path: quota.path, per_token: quota.perToken, rate: quota.rate, type: "rate-limit" };
            if (asFormat(argv.format) === "json") io.out(JSON.stringify({ data }, null, 2));
            else io.out(columns(["Key", "Value"], Object.entries(data).map(([k, v]) => [k, String(v)])));
          }),
      )
      .command(
        "list",
        "List the quotas",
        (b) => b.option("format", { type: "string" }),
        (argv) =>
          withClient(globals(argv), "listing sys/quotas/rate-limit", async (c) => {
            const names = (await c.sys.listQuotas()).map((q) => q.name);
            if (asFormat(argv.format) === "json") io.out(JSON.stringify(names, null, 2));
            else if (names.length === 0) io.out("No value found at sys/quotas/rate-limit");
            else io.out(columns(["Keys"], names.map((n) => [n])));
          }),
      )
      .command(
        "delete <name>",
        "Delete a quota",
        (b) => b.positional("name", { type: "string", demandOption: true }),
        (argv) =>
          withClient(globals(argv), `deleting sys/quotas/rate-limit/${argv.name}`, async (c) => {
            await c.sys.deleteQuota(argv.name);
            io.out(`Success! Data deleted (if it existed) at: sys/quotas/rate-limit/${argv.name}`);
          }),
      )
      .demandCommand(1, "Say what to do: write, read, list or delete"),
  ) as unknown as Argv<T>;
}

function operatorCommands<T>(y: Argv<T>): Argv<T> {
  return y.command("operator", "Operator functions: root tokens and encryption keys", (o) =>
    o
      .command(
        "generate-root",
        "Make a new root token, offline, with the data directory and its key (works while the server runs)",
        (b) =>
          b
            .option("data-dir", { type: "string", demandOption: true, describe: "The server's data directory" })
            .option("key-file", { type: "string", describe: "Key file (default <data-dir>/lessor.key; LESSOR_SEAL_KEY also works)" })
            .option("storage-url", { type: "string", describe: "The server's PostgreSQL URL, when it uses one (env LESSOR_STORAGE_URL)" })
            .option("storage-ca-file", { type: "string", describe: "CA bundle (PEM) for the PostgreSQL server's certificate (env LESSOR_STORAGE_CA_FILE)" }),
        async (argv) => {
          const dataDir = resolve(argv["data-dir"]);
          const dbPath = join(dataDir, "lessor.db");
          const keyFile = argv["key-file"] ?? join(dataDir, "lessor.key");
          const sealKey = process.env.LESSOR_SEAL_KEY;
          const storageUrl = argv["storage-url"] ?? (process.env.LESSOR_STORAGE_URL || undefined);
          const storageCaFile = argv["storage-ca-file"] ?? (process.env.LESSOR_STORAGE_CA_FILE || undefined);
          if (storageUrl === undefined && !existsSync(dbPath)) {
            io.err(`Error generating root token: no Lessor database at ${dbPath}`);
            process.exitCode = 1;
            return;
          }
          if (!sealKey && !existsSync(keyFile)) {
            io.err(`Error generating root token: no key file at ${keyFile} (give -key-file or LESSOR_SEAL_KEY)`);
            process.exitCode = 1;
            return;
          }
          const { Keyring } = await import("../../store/encryption.js");
          const { openStore } = await import("../../store/open.js");
          const { TokenAuthority } = await import("../../auth/tokens.js");
          try {
            // Opening verifies the key sealed this database: only its holder gets a root token.
            const keyring = sealKey ? Keyring.fromBase64(sealKey) : Keyring.loadOrCreate(keyFile);
            const store = await openStore({ dataDir, storageUrl, storageCaFile, keyring });
            try {
              const token = await new TokenAuthority(store).createRoot(Date.now());
              io.out(
                [
                  "Success! A new root token was made. It is shown once and never again; Lessor keeps only its hash.",
                  "",
                  `Root Token: ${token}`,
                  "",
                  "Revoke it (lessor token revoke -self) once the work that needed it is done.",
                ].join("\n"),
              );
            } finally {
              await store.close();
            }
          } catch (err) {
            io.err(`Error generating root token: ${err instanceof Error ? err.message : String(err)}`);
            process.exitCode = 1;
          }
        },
      )
      .command(
        ["rotate-key", "rotate"],
        "Add a new encryption key; older values are re-encrypted in the background",
        (b) => b,
        (argv) =>
          withClient(globals(argv), "rotating the encryption key", async (c) => {
            const id = await c.sys.rotateKey();
            io.out(`Success! Rotated key: new writes are sealed with key ${id}; older values are re-encrypted in the background.`);
          }),
      )
      .command(
        "key-status",
        "Show the encryption keys and how many values each still seals",
        (b) => b.option("format", { type: "string" }),
        (argv) =>
          withClient(globals(argv), "reading key status", async (c) => {
            const status = await c.sys.keyStatus();
            if (asFormat(argv.format) === "json") {
              io.out(JSON.stringify(status, null, 2));
              return;
            }
            io.out(columns(["Key ID", "Active", "Sealed Values"], status.keys.map((k) => [String(k.id), String(k.active), String(k.sealedValues)])));
            io.out(`\nKey source: ${status.keySource}\nRe-encrypting: ${status.reencrypting}`);
          }),
      )
      .command(
        "prune-keys",
        "Drop old encryption keys no value uses any more",
        (b) => b,
        (argv) =>
          withClient(globals(argv), "pruning keys", async (c) => {
            const dropped = await c.sys.pruneKeys();
            io.out(dropped.length === 0 ? "No key was dropped: every old key still seals some value (see operator key-status)." : `Success! Dropped keys: ${dropped.join(", ")}`);
          }),
      )
      .demandCommand(1, "Say what to do: generate-root, rotate-key, key-status or prune-keys"),
  ) as unknown as Argv<T>;
}

export function sysCommands<T>(y: Argv<T>): Argv<T> {
  return operatorCommands(quotaCommands(auditCommands(y)));
}
