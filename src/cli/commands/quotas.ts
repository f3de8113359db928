// quota write|read|list|delete: rate limit quotas.
import { formatDuration, parseDuration } from "../../util/duration.js";
import { columns } from "../output.js";
import { parseKeyValues, UsageError } from "../input.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient } from "../context.js";
import { NO_COMMAND } from "../usage.js";

const QUOTA_FIELDS = ["rate", "interval", "path", "per_token"];

/** The quota a `quota write` describes, each field checked. */
function quotaFields(name: string, fields: Record<string, unknown>) {
  for (const k of Object.keys(fields)) {
    if (!QUOTA_FIELDS.includes(k)) throw new UsageError(`unknown field "${k.slice(0, 40)}"; a quota takes ${QUOTA_FIELDS.join(", ")}`);
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
  return { name, rate, intervalSeconds, path: String(fields.path ?? ""), perToken: perToken === "true" };
}

const writeCommand = defineCommand({
  command: "write <name> [fields..]",
  describe: "Create or replace a quota: rate=N [interval=1s] [path=prefix] [per_token=true]",
  builder: (y) => y.positional("name", { type: "string", demandOption: true }).positional("fields", { type: "string", array: true }),
  handler: (argv) =>
    withClient(argv, `writing to sys/quotas/rate-limit/${argv.name}`, async (c) => {
      await c.sys.writeQuota(quotaFields(argv.name, parseKeyValues(argv.fields ?? [], io.stdin)));
      io.out(`Success! Data written to: sys/quotas/rate-limit/${argv.name}`);
    }),
});

const readCommand = defineCommand({
  command: "read <name>",
  describe: "Show a quota",
  builder: (y) => y.positional("name", { type: "string", demandOption: true }).option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, `reading sys/quotas/rate-limit/${argv.name}`, async (c) => {
      const quota = await c.sys.readQuota(argv.name);
      const data = { interval: formatDuration(quota.intervalSeconds), name: quota.name, path: quota.path, per_token: quota.perToken, rate: quota.rate, type: "rate-limit" };
      if (asFormat(argv.format) === "json") io.out(JSON.stringify({ data }, null, 2));
      else io.out(columns(["Key", "Value"], Object.entries(data).map(([k, v]) => [k, String(v)])));
    }),
});

const listCommand = defineCommand({
  command: "list",
  describe: "List the quotas",
  builder: (y) => y.option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "listing sys/quotas/rate-limit", async (c) => {
      const names = (await c.sys.listQuotas()).map((q) => q.name);
      if (asFormat(argv.format) === "json") io.out(JSON.stringify(names, null, 2));
      else if (names.length === 0) io.out("No value found at sys/quotas/rate-limit");
      else io.out(columns(["Keys"], names.map((n) => [n])));
    }),
});

const deleteCommand = defineCommand({
  command: "delete <name>",
  describe: "Delete a quota",
  builder: (y) => y.positional("name", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, `deleting sys/quotas/rate-limit/${argv.name}`, async (c) => {
      await c.sys.deleteQuota(argv.name);
      io.out(`Success! Data deleted (if it existed) at: sys/quotas/rate-limit/${argv.name}`);
    }),
});

export const quotaCommand = defineCommand({
  command: "quota",
  describe: "Rate limit quotas (per path prefix, optionally per token)",
  builder: (y) => y.command(writeCommand).command(readCommand).command(listCommand).command(deleteCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
