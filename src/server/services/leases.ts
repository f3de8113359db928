// lessor.v1.LeaseService: look up and revoke leases. Permissions are checked
// on sys/leases/<verb>/<lease id>, as Vault's ACL paths for leases.
import type { LeaseInfo, LeaseServiceServer } from "../../gen/lessor/v1/leases.js";
import { LeaseState } from "../../gen/lessor/v1/leases.js";
import type { Acl } from "../../auth/acl.js";
import type { LeaseManager } from "../../leases/manager.js";
import type { LeaseEventFeed } from "../../leases/events.js";
import { normalizeRequestPath } from "../../router/paths.js";
import type { LeaseRecord } from "../../store/types.js";
import { unary, type CallDeps } from "../call.js";
import { watchLeases } from "./lease-events.js";
import { LessorError } from "../../errors.js";
import { status as Code, type handleUnaryCall } from "@grpc/grpc-js";

function notImplemented(method: string): LessorError {
  return new LessorError(Code.UNIMPLEMENTED, `${method} is not implemented yet`, { reason: "NOT_IMPLEMENTED" });
}

function notYet<Req, Res>(method: string): handleUnaryCall<Req, Res> {
  return (_call, callback) => callback({ code: Code.UNIMPLEMENTED, details: notImplemented(method).message }, null);
}

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

export function leaseService(deps: CallDeps, leases: LeaseManager, acl: Acl, events: LeaseEventFeed): LeaseServiceServer {
  return {
    lookupLease: unary(deps, "LeaseService/LookupLease", async (req, ctx) => {
      const id = normalizeRequestPath(req.leaseId, "lease_id");
      acl.check(ctx.caller.policies, `sys/leases/lookup/${id}`, "update");
      return { lease: leaseInfo(await leases.lookup(id), Date.now()) };
    }),
    revokeLease: unary(deps, "LeaseService/RevokeLease", async (req, ctx) => {
      const id = normalizeRequestPath(req.leaseId, "lease_id");
      acl.check(ctx.caller.policies, `sys/leases/revoke/${id}`, "update");
      const outcome = await leases.revoke(id);
      return { leaseId: outcome.leaseId, revokedNow: outcome.revokedNow, queued: false };
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
    listLeases: notYet("ListLeases"),
    tidyLeases: notYet("TidyLeases"),
    revokeLeasePrefix: (call) => call.destroy(notImplemented("RevokeLeasePrefix")),
    watchLeases: watchLeases(deps, events, acl),
  };
}
