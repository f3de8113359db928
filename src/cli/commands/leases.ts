// lease lookup|renew|revoke|list|tidy, as Vault's `vault lease ...`.
import { LeaseState, type LeaseInfo } from "@lessor/client";
import { formatDuration, parseDuration } from "../../util/duration.js";
import { columns, secretJson, secretTable, warningsBlock } from "../output.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient } from "../context.js";
import { UsageError } from "../input.js";
import { NO_COMMAND } from "../usage.js";
import { leaseRevokeCommand } from "./lease-revoke.js";

const STATE_NAMES = ["unspecified", "active", "revoking", "revoked", "irrevocable"];

function stateName(state: LeaseState): string {
  return STATE_NAMES[state] ?? String(state);
}

function lookupRows(l: LeaseInfo): string[][] {
  return [
    ["expire_time", l.expireTime?.toISOString() ?? "<nil>"],
    ["id", l.id],
    ["issue_time", l.issueTime?.toISOString() ?? "<nil>"],
    ["last_error", l.lastError || "<nil>"],
    ["last_renewal", l.lastRenewalTime?.toISOString() ?? "<nil>"],
    ["max_expire_time", l.maxExpireTime?.toISOString() ?? "<nil>"],
    ["renewable", String(l.renewable)],
    ["revoke_attempts", String(l.revokeAttempts)],
    ["state", stateName(l.state)],
    ["ttl", formatDuration(l.ttlSeconds)],
  ];
}

/** A lease as -format=json prints it: snake_case, states by name. */
function leaseJson(l: LeaseInfo): Record<string, unknown> {
  return {
    id: l.id,
    issue_time: l.issueTime?.toISOString() ?? null,
    expire_time: l.expireTime?.toISOString() ?? null,
    max_expire_time: l.maxExpireTime?.toISOString() ?? null,
    last_renewal: l.lastRenewalTime?.toISOString() ?? null,
    ttl: l.ttlSeconds,
    renewable: l.renewable,
    state: stateName(l.state),
    revoke_attempts: l.revokeAttempts,
    last_error: l.lastError || null,
  };
}

const STATE_FILTERS: Record<string, LeaseState> = {
  active: LeaseState.LEASE_STATE_ACTIVE,
  revoking: LeaseState.LEASE_STATE_REVOKING,
  revoked: LeaseState.LEASE_STATE_REVOKED,
  irrevocable: LeaseState.LEASE_STATE_IRREVOCABLE,
};

const lookupCommand = defineCommand({
  command: "lookup <id>",
  describe: "Show a lease",
  builder: (y) => y.positional("id", { type: "string", demandOption: true }).option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, `looking up lease ${argv.id}`, async (c) => {
      const format = asFormat(argv.format);
      const lease = await c.leases.lookup(argv.id);
      if (format === "json") io.out(JSON.stringify(leaseJson(lease), null, 2));
      else io.out(columns(["Key", "Value"], lookupRows(lease)));
    }),
});

const renewCommand = defineCommand({
  command: "renew <id>",
  describe: "Extend a lease (never past its max TTL)",
  builder: (y) =>
    y
      .positional("id", { type: "string", demandOption: true })
      .option("increment", { type: "string", describe: "New TTL from now, e.g. 1h (default: the lease's own duration)" })
      .option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, `renewing lease ${argv.id}`, async (c) => {
      const format = asFormat(argv.format);
      let increment = 0;
      if (argv.increment !== undefined) {
        const parsed = parseDuration(argv.increment);
        if ("error" in parsed) throw new UsageError(`-increment ${parsed.error}`);
        increment = parsed.seconds;
      }
      const res = await c.leases.renew(argv.id, increment);
      const view = { id: argv.id, durationSeconds: Number(res.durationSeconds), renewable: res.lease?.renewable ?? false };
      const warnings = res.clamped
        ? [
            `TTL of "${formatDuration(increment)}" exceeded the lease's max TTL; the lease now expires at ${res.lease?.maxExpireTime?.toISOString() ?? "its max TTL"} (in ${formatDuration(Number(res.durationSeconds))})`,
          ]
        : [];
      if (format === "json") {
        io.out(secretJson(view, {}, warnings));
        return;
      }
      if (warnings.length > 0) io.err(warningsBlock(warnings));
      io.out(secretTable(view, {}));
    }),
});

const listCommand = defineCommand({
  command: "list [prefix]",
  describe: "List leases under a prefix (every page)",
  builder: (y) =>
    y
      .positional("prefix", { type: "string", default: "", describe: "Lease id prefix, e.g. aws/creds/deploy/" })
      .option("state", { type: "string", choices: Object.keys(STATE_FILTERS), describe: "Only leases in this state" })
      .option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, `listing leases under ${argv.prefix || "/"}`, async (c) => {
      const format = asFormat(argv.format);
      const state = argv.state === undefined ? undefined : STATE_FILTERS[argv.state];
      const all: LeaseInfo[] = [];
      for await (const lease of c.leases.listAll(argv.prefix, { pageSize: 1000, state })) all.push(lease);
      if (format === "json") {
        io.out(JSON.stringify(all.map(leaseJson), null, 2));
        return;
      }
      if (all.length === 0) {
        io.err(`No leases found under ${argv.prefix || "/"}${argv.state ? ` in state ${argv.state}` : ""}`);
        process.exitCode = 2;
        return;
      }
      const rows = all.map((l) => [
        l.id,
        stateName(l.state),
        formatDuration(Number(l.ttlSeconds)),
        l.expireTime?.toISOString() ?? "<nil>",
        String(l.revokeAttempts),
        l.lastError || "",
      ]);
      io.out(columns(["Lease ID", "State", "TTL", "Expire Time", "Attempts", "Last Error"], rows));
    }),
});

const tidyCommand = defineCommand({
  command: "tidy",
  describe: "Repair the lease index and dangling entries; forget old revoked leases",
  builder: (y) => y.option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, "tidying leases", async (c) => {
      const format = asFormat(argv.format);
      const r = await c.leases.tidy();
      const rows: Array<[string, number]> = [
        ["index_entries_repaired", Number(r.indexEntriesRepaired)],
        ["intents_rolled_back", Number(r.intentsRolledBack)],
        ["lease_events_purged", Number(r.leaseEventsPurged)],
        ["orphaned_leases", Number(r.orphanedLeases)],
        ["revocations_rescheduled", Number(r.revocationsRescheduled)],
        ["revoked_records_purged", Number(r.revokedRecordsPurged)],
      ];
      if (format === "json") io.out(JSON.stringify(Object.fromEntries(rows), null, 2));
      else {
        io.out(columns(["Key", "Value"], rows.map(([k, v]) => [k, String(v)])));
        io.out("Success! Tidied the leases.");
      }
    }),
});

export const leaseCommand = defineCommand({
  command: "lease",
  describe: "Look up, renew, revoke, list and tidy leases",
  builder: (y) =>
    y.command(lookupCommand).command(renewCommand).command(leaseRevokeCommand).command(listCommand).command(tidyCommand).demandCommand(1, NO_COMMAND),
  handler: () => undefined,
});
