// lessor.v1.LeaseService: the lease lifecycle. Permissions are checked on
// sys/leases/<verb>/<lease id or prefix>, as Vault's ACL paths for leases;
// force and revoke-prefix need sudo there.
import type { LeaseInfo, LeaseServiceServer, RevokeLeasePrefixResponse } from "@lessor/client/gen/lessor/v1/leases.js";
import { LeaseState } from "@lessor/client/gen/lessor/v1/leases.js";
import type { Acl } from "../../auth/acl.js";
import type { LeaseManager } from "../../leases/manager.js";
import { LeaseListing } from "../../leases/listing.js";
import type { PrefixProgress, RevocationJobs } from "../../leases/prefix-jobs.js";
import type { LeaseTidy } from "../../leases/tidy.js";
import { normalizeRequestPath } from "../../router/paths.js";
import type { LeaseRecord, LeaseState as StoredLeaseState } from "../../store/types.js";
import { serverStream, unary, type CallDeps } from "../call.js";
import type { LeaseEventFeed } from "../../leases/events.js";
import { watchLeases } from "./lease-events.js";
import { LessorError } from "../../errors.js";

const STATES: Record<LeaseRecord["state"], LeaseState> = {
  active: LeaseState.LEASE_STATE_ACTIVE,
  revoking: LeaseState.LEASE_STATE_REVOKING,
  revoked: LeaseState.LEASE_STATE_REVOKED,
  irrevocable: LeaseState.LEASE_STATE_IRREVOCABLE,
};

export function leaseInfo(lease: LeaseRecord, now: number): LeaseInfo {
  return {
    id: lease.id,
    issueTime: new Date(lease.issueTime),
    expireTime: new Date(lease.expireTime),
    ttlSeconds: lease.state === "active" ? Math.max(0, Math.floor((lease.expireTime - now) / 1000)) : 0,
    renewable: lease.renewable && lease.state === "active",
    lastRenewalTime: lease.lastRenewalTime === null ? undefined : new Date(lease.lastRenewalTime),
    state: STATES[lease.state],
    revokeAttempts: lease.attempts,
    lastError: lease.lastError ?? "",
    maxExpireTime: new Date(lease.maxExpireTime),
  };
}

/** What a forced revocation must say to whoever asked for it. */
export const FORCE_WARNING =
  "the lease was dropped without revoking its secret; the secret, if it still exists, was NOT destroyed. Destroy it by hand if it may still exist.";
const FORCE_PREFIX_WARNING =
  "the leases were dropped without revoking their secrets; the secrets, if they still exist, were NOT destroyed. Destroy them by hand if they may still exist.";

/** The lifecycle parts beyond the lease manager. */
export interface LeaseServiceParts {
  jobs: RevocationJobs;
  listing: LeaseListing;
  tidy: LeaseTidy;
}

const STATE_FILTER: Partial<Record<LeaseState, StoredLeaseState>> = {
  [LeaseState.LEASE_STATE_ACTIVE]: "active",
  [LeaseState.LEASE_STATE_REVOKING]: "revoking",
  [LeaseState.LEASE_STATE_REVOKED]: "revoked",
  [LeaseState.LEASE_STATE_IRREVOCABLE]: "irrevocable",
};

function stateFilter(state: LeaseState): StoredLeaseState | undefined {
  if (state === LeaseState.LEASE_STATE_UNSPECIFIED) return undefined;
  const filter = STATE_FILTER[state];
  if (!filter) throw LessorError.invalidField("state", "must be one of ACTIVE, REVOKING, REVOKED, IRREVOCABLE, or unspecified for all");
  return filter;
}

/** A revoke-prefix prefix is a path: "aws/creds/deploy" means the leases under "aws/creds/deploy/". */
function prefixPath(raw: string): string {
  const path = normalizeRequestPath(raw, "prefix");
  return path.endsWith("/") ? path : `${path}/`;
}

/** Resolves when `signal` aborts (a caller that went away stops being waited for). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

export function leaseService(
  deps: CallDeps,
  leases: LeaseManager,
  acl: Acl,
  events: LeaseEventFeed,
  parts: LeaseServiceParts,
): LeaseServiceServer {
  return {
    lookupLease: unary(deps, "LeaseService/LookupLease", async (req, ctx) => {
      const id = normalizeRequestPath(req.leaseId, "lease_id");
      acl.check(ctx.caller.policies, `sys/leases/lookup/${id}`, "update");
      return { lease: leaseInfo(await leases.lookup(id), Date.now()) };
    }),
    revokeLease: unary(deps, "LeaseService/RevokeLease", async (req, ctx) => {
      const id = normalizeRequestPath(req.leaseId, "lease_id");
      if (req.force) {
        if (req.enqueue) throw LessorError.invalidField("enqueue", "cannot be combined with force (force drops the lease at once)");
        acl.check(ctx.caller.policies, `sys/leases/revoke-force/${id}`, "sudo");
        const outcome = await leases.forceRevoke(id);
        return { leaseId: outcome.leaseId, revokedNow: outcome.revokedNow, queued: false, warnings: outcome.revokedNow ? [FORCE_WARNING] : [] };
      }
      acl.check(ctx.caller.policies, `sys/leases/revoke/${id}`, "update");
      const outcome = req.enqueue ? await leases.enqueueRevoke(id) : await leases.revoke(id);
      return { leaseId: outcome.leaseId, revokedNow: outcome.revokedNow, queued: outcome.queued === true, warnings: [] };
    }),
    renewLease: unary(deps, "LeaseService/RenewLease", async (req, ctx) => {
      const id = normalizeRequestPath(req.leaseId, "lease_id");
      if (!Number.isSafeInteger(req.incrementSeconds) || req.incrementSeconds < 0) {
        throw LessorError.invalidField("increment_seconds", "must be zero (the lease's own duration) or a positive number of seconds");
      }
      acl.check(ctx.caller.policies, `sys/leases/renew/${id}`, "update");
      const outcome = await leases.renew(id, req.incrementSeconds);
      return { lease: leaseInfo(outcome.lease, Date.now()), durationSeconds: outcome.durationSeconds, clamped: outcome.clamped };
    }),
    listLeases: unary(deps, "LeaseService/ListLeases", async (req, ctx) => {
      const prefix = req.prefix === "" ? "" : normalizeRequestPath(req.prefix, "prefix");
      const state = stateFilter(req.state);
      LeaseListing.pageSize(req.pageSize);
      acl.check(ctx.caller.policies, `sys/leases/lookup/${prefix}`, "list");
      acl.check(ctx.caller.policies, `sys/leases/lookup/${prefix}`, "sudo");
      const page = await parts.listing.page(prefix, state, req.pageSize, req.pageToken);
      const now = Date.now();
      return { leases: page.leases.map((l) => leaseInfo(l, now)), nextPageToken: page.nextPageToken };
    }),
    tidyLeases: unary(deps, "LeaseService/TidyLeases", async (_req, ctx) => {
      acl.check(ctx.caller.policies, "sys/leases/tidy", "update");
      return parts.tidy.run();
    }),
    revokeLeasePrefix: serverStream(deps, "LeaseService/RevokeLeasePrefix", async (req, ctx) => {
      const prefix = prefixPath(req.prefix);
      acl.check(ctx.caller.policies, `sys/leases/revoke-prefix/${prefix}`, "sudo");
      if (req.force) acl.check(ctx.caller.policies, `sys/leases/revoke-force/${prefix}`, "sudo");
      const { jobs } = parts;
      const gone = aborted(ctx.signal);
      let warnings = req.force ? [FORCE_PREFIX_WARNING] : [];
      const report = async (p: PrefixProgress): Promise<void> => {
        if (ctx.signal.aborted) return;
        const message: RevokeLeasePrefixResponse = { ...p, warnings };
        warnings = [];
        // A caller that went away no longer holds the job up: it goes on by itself.
        await Promise.race([ctx.send(message), gone]);
      };
      await report({ matched: 0, revoked: 0, failed: 0, done: false });
      await jobs.run(prefix, req.force, req.enqueue, report);
    }),
    watchLeases: watchLeases(deps, events, acl),
  };
}
