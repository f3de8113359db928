// lease lookup|renew|revoke|list|tidy, as Vault's `vault lease ...`, and the
// legacy `revoke`.
import cliProgress from "cli-progress";
import type { Argv } from "yargs";
import { LeaseState, type LeaseInfo, type LessorClient, type RevokeLeasePrefixResponse } from "@lessor/client";
import { formatDuration, parseDuration } from "../../util/duration.js";
import { columns, EXIT_API_ERROR, secretJson, secretTable, warningsBlock } from "../output.js";
import { asFormat, processIo as io, withClient } from "../context.js";
import { UsageError } from "../input.js";

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

function address(argv: object): { address: string | undefined; format: "table" } {
  return { address: (argv as { address?: string }).address, format: "table" };
}

/** Prints revoke-prefix progress: a bar on a terminal, plain lines otherwise. */
async function followPrefix(stream: AsyncIterable<RevokeLeasePrefixResponse>, showProgress: boolean): Promise<RevokeLeasePrefixResponse> {
  const tty = process.stdout.isTTY === true && showProgress;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: "Revoking [{bar}] {value}/{total} leases | failed {failed} | {duration_formatted}", stream: process.stdout, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let last: RevokeLeasePrefixResponse = { matched: 0, revoked: 0, failed: 0, done: false, warnings: [] };
  let started = false;
  let printed = "";
  try {
    for await (const p of stream) {
      if (p.warnings.length > 0) io.err(warningsBlock(p.warnings));
      last = p;
      const settled = Number(p.revoked) + Number(p.failed);
      if (bar) {
        if (p.matched === 0 && !p.done) continue; // nothing to show yet (an empty bar reads as 100%)
        if (!started) bar.start(Number(p.matched), settled, { failed: Number(p.failed) });
        started = true;
        bar.setTotal(Number(p.matched));
        bar.update(settled, { failed: Number(p.failed) });
      } else if (showProgress) {
        const line = `matched ${p.matched}, revoked ${p.revoked}, failed ${p.failed}`;
        if (line !== printed && (p.matched > 0 || p.done)) io.out(line);
        printed = line;
      }
    }
  } finally {
    bar?.stop();
  }
  return last;
}

async function revokeCommand(c: LessorClient, target: string, flags: { prefix: boolean; force: boolean; sync: boolean }): Promise<void> {
  if (!flags.prefix) {
    const res = await c.leases.revoke(target, { force: flags.force, enqueue: !flags.sync && !flags.force });
    if (res.warnings.length > 0) io.err(warningsBlock(res.warnings));
    if (flags.force) io.out(`Success! Force revoked the lease: ${res.leaseId}`);
    else if (res.queued) io.out("All revocation operations queued successfully!");
    else io.out(`Success! Revoked lease: ${res.leaseId}`);
    return;
  }
  const enqueue = !flags.sync && !flags.force;
  const last = await followPrefix(c.leases.revokePrefix(target, { force: flags.force, enqueue }), !enqueue && !flags.force);
  // The server takes a prefix as a path, as Vault does: "aws/creds/x" means "aws/creds/x/".
  target = target.endsWith("/") ? target : `${target}/`;
  if (!last.done) throw new UsageError("the server ended the revocation early; it continues on the server (see `lessor lease list`)");
  if (flags.force) {
    io.out(`Dropped ${last.revoked} leases under ${target} without revoking their secrets.`);
    io.out(`Success! Force revoked any leases with prefix: ${target}`);
  } else if (enqueue) {
    io.out(`Queued ${last.matched} leases under ${target} for revocation.`);
    io.out("All revocation operations queued successfully!");
  } else {
    io.out(`Revoked ${last.revoked} of ${last.matched} leases under ${target}; ${last.failed} failed and are being retried.`);
    if (last.failed > 0) {
      io.err(
        `Error revoking leases with prefix ${target}: ${last.failed} revocations failed and are being retried by the server; see \`lessor lease list -state=revoking ${target}\``,
      );
      process.exitCode = EXIT_API_ERROR;
      return;
    }
    io.out(`Success! Revoked any leases with prefix: ${target}`);
  }
}

export function leaseCommands<T>(y: Argv<T>): Argv<T> {
  return y
    .command("lease", "Look up, renew, revoke, list and tidy leases", (l) =>
      l
        .command(
          "lookup <id>",
          "Show a lease",
          (b) => b.positional("id", { type: "string", demandOption: true }).option("format", { type: "string" }),
          (argv) =>
            withClient(address(argv), `looking up lease ${argv.id}`, async (c) => {
              const format = asFormat(argv.format);
              const lease = await c.leases.lookup(argv.id);
              if (format === "json") io.out(JSON.stringify(leaseJson(lease), null, 2));
              else io.out(columns(["Key", "Value"], lookupRows(lease)));
            }),
        )
        .command(
          "renew <id>",
          "Extend a lease (never past its max TTL)",
          (b) =>
            b
              .positional("id", { type: "string", demandOption: true })
              .option("increment", { type: "string", describe: "New TTL from now, e.g. 1h (default: the lease's own duration)" })
              .option("format", { type: "string" }),
          (argv) =>
            withClient(address(argv), `renewing lease ${argv.id}`, async (c) => {
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
        )
        .command(
          "revoke <target>",
          "Revoke a lease (or with -prefix every lease under a path): destroy its secret now",
          (b) =>
            b
              .positional("target", { type: "string", demandOption: true, describe: "Lease id, or path prefix with -prefix" })
              .option("prefix", { type: "boolean", default: false, describe: "Revoke every lease under the path" })
              .option("force", {
                type: "boolean",
                default: false,
                describe: "Drop the lease WITHOUT destroying its secret (for secrets already destroyed by hand); needs sudo",
              })
              .option("sync", { type: "boolean", default: true, describe: "Wait for the revocation (-sync=false: queue it and return)" }),
          (argv) =>
            withClient(address(argv), argv.prefix ? `revoking leases with prefix ${argv.target}` : `revoking lease ${argv.target}`, (c) =>
              revokeCommand(c, argv.target, { prefix: argv.prefix, force: argv.force, sync: argv.sync }),
            ),
        )
        .command(
          "list [prefix]",
          "List leases under a prefix (every page)",
          (b) =>
            b
              .positional("prefix", { type: "string", default: "", describe: "Lease id prefix, e.g. aws/creds/deploy/" })
              .option("state", { type: "string", choices: Object.keys(STATE_FILTERS), describe: "Only leases in this state" })
              .option("format", { type: "string" }),
          (argv) =>
            withClient(address(argv), `listing leases under ${argv.prefix || "/"}`, async (c) => {
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
              io.out(
                columns(
                  ["Lease ID", "State", "TTL", "Expire Time", "Attempts", "Last Error"],
                  all.map((l) => [
                    l.id,
                    stateName(l.state),
                    formatDuration(Number(l.ttlSeconds)),
                    l.expireTime?.toISOString() ?? "<nil>",
                    String(l.revokeAttempts),
                    l.lastError || "",
                  ]),
                ),
              );
            }),
        )
        .command(
          "tidy",
          "Repair the lease index and dangling entries; forget old revoked leases",
          (b) => b.option("format", { type: "string" }),
          (argv) =>
            withClient(address(argv), "tidying leases", async (c) => {
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
        )
        .demandCommand(1, "Say what to do: lookup, renew, revoke, list or tidy"),
    )
    .command(
      "revoke <id>",
      "Revoke a lease (old name of `lease revoke`)",
      (b) => b.positional("id", { type: "string", demandOption: true }),
      (argv) =>
        withClient(address(argv), `revoking lease ${argv.id}`, async (c) => {
          const res = await c.leases.revoke(argv.id);
          io.out(`Key revoked with ID '${res.leaseId}'.`);
        }),
    ) as unknown as Argv<T>;
}
