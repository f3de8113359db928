// token create|lookup|renew|revoke, with Vault's flags and tables.
import type { TokenInfo } from "@lessor/client";
import { formatDuration, parseDuration } from "../../util/duration.js";
import { columns, formatValue } from "../output.js";
import { UsageError } from "../input.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient } from "../context.js";
import { NO_COMMAND } from "../usage.js";

function seconds(flag: string, value: string | undefined): number {
  if (value === undefined) return 0;
  const parsed = parseDuration(value);
  if ("error" in parsed) throw new UsageError(`-${flag}: ${parsed.error}`);
  return parsed.seconds;
}

function asList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(",")).map((v) => v.trim()).filter((v) => v !== "");
}

function metadata(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    const text = String(pair);
    const eq = text.indexOf("=");
    if (eq <= 0) throw new UsageError(`-metadata: "${text.slice(0, 40)}" is not key=value`);
    out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}

/** Vault prints these lists Go-style: ["default" "ops"]. */
const jsonList = (items: string[]) => `[${items.map((i) => JSON.stringify(i)).join(" ")}]`;

/** The table `token create`, `token renew` and `login` print (metadata as token_meta_<key> rows, as Vault's). */
function authRows(token: string, info: TokenInfo): string[][] {
  const policies = info.policies;
  return [
    ["token", token || "n/a"],
    ["token_accessor", info.accessor],
    ["token_duration", info.expireTime ? formatDuration(info.ttlSeconds) : "∞"],
    ["token_renewable", String(info.renewable)],
    ["token_policies", jsonList(policies)],
    ["identity_policies", "[]"],
    ["policies", jsonList(policies)],
    ...Object.keys(info.meta)
      .sort()
      .map((k) => [`token_meta_${k}`, info.meta[k] ?? ""]),
  ];
}

function authJson(token: string, info: TokenInfo): string {
  return JSON.stringify(
    {
      request_id: "",
      lease_id: "",
      lease_duration: 0,
      renewable: false,
      data: null,
      warnings: null,
      auth: {
        client_token: token,
        accessor: info.accessor,
        policies: info.policies,
        token_policies: info.policies,
        metadata: Object.keys(info.meta).length > 0 ? info.meta : null,
        lease_duration: info.expireTime ? info.ttlSeconds : 0,
        renewable: info.renewable,
        orphan: info.parentAccessor === "",
        num_uses: info.numUses,
      },
    },
    null,
    2,
  );
}

function lookupData(info: TokenInfo): Record<string, unknown> {
  const created = info.creationTime ? Math.floor(info.creationTime.getTime() / 1000) : 0;
  const maxTtl = info.maxExpireTime && info.creationTime ? Math.round((info.maxExpireTime.getTime() - info.creationTime.getTime()) / 1000) : 0;
  return {
    accessor: info.accessor,
    creation_time: created,
    display_name: info.displayName,
    expire_time: info.expireTime ? info.expireTime.toISOString() : null,
    explicit_max_ttl: formatDuration(maxTtl),
    issue_time: info.creationTime ? info.creationTime.toISOString() : null,
    meta: Object.keys(info.meta).length > 0 ? info.meta : null,
    num_uses: info.numUses,
    orphan: info.parentAccessor === "",
    parent_accessor: info.parentAccessor || null,
    path: "auth/token/create",
    policies: info.policies,
    renewable: info.renewable,
    ttl: info.expireTime ? formatDuration(info.ttlSeconds) : "0s",
    type: "service",
  };
}

/** Prints a token as Vault prints an auth response: one field, JSON, or the table. */
export function printAuth(token: string, info: TokenInfo, format: unknown, field: unknown): void {
  if (typeof field === "string") {
    const row = authRows(token, info).find(([k]) => k === field);
    if (!row) throw new UsageError(`field "${field}" not present in the response`);
    io.raw(row[1] as string);
    return;
  }
  if (asFormat(format) === "json") io.out(authJson(token, info));
  else io.out(columns(["Key", "Value"], authRows(token, info)));
}

/** Which token a command acts on: the argument as a token, as an accessor (-accessor), or the caller's own. */
function target(argv: { token?: string; accessor?: boolean }): { token?: string; accessor?: string } {
  return argv.token === undefined ? {} : argv.accessor ? { accessor: argv.token } : { token: argv.token };
}

const createCommand = defineCommand({
  command: "create",
  describe: "Create a token (a child of yours unless -orphan)",
  builder: (y) =>
    y
      .option("policy", { type: "string", array: true, describe: "Policy to attach (repeatable); default: yours" })
      .option("ttl", { type: "string", describe: "Initial TTL, e.g. 1h (default 768h)" })
      .option("explicit-max-ttl", { type: "string", describe: "Hard limit on renewals, e.g. 24h" })
      .option("renewable", { type: "boolean", default: true, describe: "Allow renewals" })
      .option("use-limit", { type: "number", default: 0, describe: "Uses before the token stops working (0: unlimited)" })
      .option("display-name", { type: "string", default: "" })
      .option("orphan", { type: "boolean", default: false, describe: "No parent: survives yours (needs sudo)" })
      .option("metadata", { type: "string", array: true, describe: "key=value (repeatable)" })
      .option("format", FORMAT_OPTION)
      .option("field", { type: "string" }),
  handler: (argv) =>
    withClient(argv, "creating token", async (c) => {
      const useLimit = argv["use-limit"];
      if (!Number.isSafeInteger(useLimit) || useLimit < 0) throw new UsageError("-use-limit must be zero or a positive whole number");
      const res = await c.tokens.create({
        policies: asList(argv.policy),
        ttlSeconds: seconds("ttl", argv.ttl),
        explicitMaxTtlSeconds: seconds("explicit-max-ttl", argv["explicit-max-ttl"]),
        renewable: argv.renewable,
        numUses: useLimit,
        displayName: argv["display-name"],
        orphan: argv.orphan,
        meta: metadata(argv.metadata),
      });
      printAuth(res.token, res.info, argv.format, argv.field);
    }),
});

const lookupCommand = defineCommand({
  command: "lookup [token]",
  describe: "Show a token (yours when none is given)",
  builder: (y) =>
    y
      .positional("token", { type: "string" })
      .option("accessor", { type: "boolean", default: false, describe: "The argument is an accessor" })
      .option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "looking up token", async (c) => {
      const info = argv.token === undefined ? await c.tokens.lookupSelf() : await c.tokens.lookup(target(argv));
      const data = lookupData(info);
      if (asFormat(argv.format) === "json") io.out(JSON.stringify({ data }, null, 2));
      else io.out(columns(["Key", "Value"], Object.entries(data).map(([k, v]) => [k, formatValue(v)])));
    }),
});

const renewCommand = defineCommand({
  command: "renew [token]",
  describe: "Extend a token's TTL (yours when none is given)",
  builder: (y) =>
    y
      .positional("token", { type: "string" })
      .option("accessor", { type: "boolean", default: false })
      .option("increment", { type: "string", alias: "i", describe: "Requested extension, e.g. 1h (default: the token's TTL)" })
      .option("format", FORMAT_OPTION)
      .option("field", { type: "string" }),
  handler: (argv) =>
    withClient(argv, "renewing token", async (c) => {
      const info = await c.tokens.renew({ ...target(argv), incrementSeconds: seconds("increment", argv.increment) });
      printAuth(argv.accessor ? "" : (argv.token ?? ""), info, argv.format, argv.field);
    }),
});

const revokeCommand = defineCommand({
  command: "revoke [token]",
  describe: "Revoke a token, its children and the leases they created",
  builder: (y) =>
    y
      .positional("token", { type: "string" })
      .option("accessor", { type: "boolean", default: false })
      .option("self", { type: "boolean", default: false, describe: "Revoke your own token" })
      .option("mode", { type: "string", choices: ["", "orphan"], default: "", describe: "orphan: keep the children (needs sudo)" }),
  handler: (argv) =>
    withClient(argv, "revoking token", async (c) => {
      if (argv.token === undefined && !argv.self) throw new UsageError("give a token (or -accessor and an accessor), or -self");
      if (argv.token !== undefined && argv.self) throw new UsageError("-self takes no token argument");
      await c.tokens.revoke({ ...target(argv), orphan: argv.mode === "orphan" });
      io.out("Success! Revoked token (if it existed)");
    }),
});

export const tokenCommand = defineCommand({
  command: "token",
  describe: "Create, look up, renew and revoke tokens",
  builder: (y) => y.command(createCommand).command(lookupCommand).command(renewCommand).command(revokeCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
