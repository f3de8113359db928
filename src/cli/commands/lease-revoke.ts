// `lease revoke` (one lease, or every lease under a prefix with progress) and
// the legacy `revoke`.
import cliProgress from "cli-progress";
import type { LessorClient, RevokeLeasePrefixResponse } from "@lessor/client";
import { EXIT_API_ERROR, warningsBlock } from "../output.js";
import { defineCommand, processIo as io, withClient } from "../context.js";
import { UsageError } from "../input.js";

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

interface RevokeFlags {
  prefix: boolean;
  force: boolean;
  sync: boolean;
}

async function revokeOne(c: LessorClient, id: string, flags: RevokeFlags): Promise<void> {
  const res = await c.leases.revoke(id, { force: flags.force, enqueue: !flags.sync && !flags.force });
  if (res.warnings.length > 0) io.err(warningsBlock(res.warnings));
  if (flags.force) io.out(`Success! Force revoked the lease: ${res.leaseId}`);
  else if (res.queued) io.out("All revocation operations queued successfully!");
  else io.out(`Success! Revoked lease: ${res.leaseId}`);
}

async function revokePrefix(c: LessorClient, prefix: string, flags: RevokeFlags): Promise<void> {
  const enqueue = !flags.sync && !flags.force;
  const last = await followPrefix(c.leases.revokePrefix(prefix, { force: flags.force, enqueue }), !enqueue && !flags.force);
  // The server takes a prefix as a path, as Vault does: "aws/creds/x" means "aws/creds/x/".
  const target = prefix.endsWith("/") ? prefix : `${prefix}/`;
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

export const leaseRevokeCommand = defineCommand({
  command: "revoke <target>",
  describe: "Revoke a lease (or with -prefix every lease under a path): destroy its secret now",
  builder: (y) =>
    y
      .positional("target", { type: "string", demandOption: true, describe: "Lease id, or path prefix with -prefix" })
      .option("prefix", { type: "boolean", default: false, describe: "Revoke every lease under the path" })
      .option("force", {
        type: "boolean",
        default: false,
        describe: "Drop the lease WITHOUT destroying its secret (for secrets already destroyed by hand); needs sudo",
      })
      .option("sync", { type: "boolean", default: true, describe: "Wait for the revocation (-sync=false: queue it and return)" }),
  handler: (argv) =>
    withClient(argv, argv.prefix ? `revoking leases with prefix ${argv.target}` : `revoking lease ${argv.target}`, (c) =>
      (argv.prefix ? revokePrefix : revokeOne)(c, argv.target, argv),
    ),
});

export const legacyRevokeCommand = defineCommand({
  command: "revoke <id>",
  describe: "Revoke a lease (old name of `lease revoke`)",
  builder: (y) => y.positional("id", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, `revoking lease ${argv.id}`, async (c) => {
      const res = await c.leases.revoke(argv.id);
      io.out(`Key revoked with ID '${res.leaseId}'.`);
    }),
});
