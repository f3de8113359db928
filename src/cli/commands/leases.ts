// lease lookup|revoke, and the legacy `revoke`.
import type { Argv } from "yargs";
import type { LeaseInfo } from "@lessor/client";
import { formatDuration } from "../../util/duration.js";
import { columns } from "../output.js";
import { asFormat, processIo as io, withClient } from "../context.js";

const STATE_NAMES = ["unspecified", "active", "revoking", "revoked", "irrevocable"];

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
    ["state", STATE_NAMES[l.state] ?? String(l.state)],
    ["ttl", formatDuration(l.ttlSeconds)],
  ];
}

export function leaseCommands<T>(y: Argv<T>): Argv<T> {
  return y
    .command("lease", "Look up and revoke leases", (l) =>
      l
        .command(
          "lookup <id>",
          "Show a lease",
          (b) => b.positional("id", { type: "string", demandOption: true }).option("format", { type: "string" }),
          (argv) =>
            withClient({ address: argv.address as string | undefined, format: "table" }, `looking up lease ${argv.id}`, async (c) => {
              const lease = await c.leases.lookup(argv.id);
              if (asFormat(argv.format) === "json") io.out(JSON.stringify(lease, null, 2));
              else io.out(columns(["Key", "Value"], lookupRows(lease)));
            }),
        )
        .command(
          "revoke <id>",
          "Revoke a lease: destroy its secret now",
          (b) => b.positional("id", { type: "string", demandOption: true }),
          (argv) =>
            withClient({ address: argv.address as string | undefined, format: "table" }, `revoking lease ${argv.id}`, async (c) => {
              const res = await c.leases.revoke(argv.id);
              io.out(`Success! Revoked lease: ${res.leaseId}`);
            }),
        )
        .demandCommand(1, "Say what to do: lookup or revoke"),
    )
    .command(
      "revoke <id>",
      "Revoke a lease (old name of `lease revoke`)",
      (b) => b.positional("id", { type: "string", demandOption: true }),
      (argv) =>
        withClient({ address: argv.address as string | undefined, format: "table" }, `revoking lease ${argv.id}`, async (c) => {
          const res = await c.leases.revoke(argv.id);
          io.out(`Key revoked with ID '${res.leaseId}'.`);
        }),
    ) as unknown as Argv<T>;
}
