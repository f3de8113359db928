// LeaseService.WatchLeases: lease events under a prefix, from the event feed.
// The stream's response headers carry `lessor-after-sequence`, the sequence it
// starts after, so a client that reconnects before it saw any event still
// resumes without a gap.
import { Metadata } from "@grpc/grpc-js";
import type { Acl } from "../../auth/acl.js";
import { LessorError } from "../../errors.js";
import { LeaseEventType, type LeaseEvent, type WatchLeasesRequest, type WatchLeasesResponse } from "@lessor/client/gen/lessor/v1/leases.js";
import type { LeaseEventFeed } from "../../leases/events.js";
import { normalizeRequestPath } from "../../router/paths.js";
import type { LeaseEventRecord } from "../../store/types.js";
import { serverStream, type CallDeps } from "../call.js";

/** Response header naming the sequence number a watch starts after. */
export const AFTER_SEQUENCE_HEADER = "lessor-after-sequence";

const TYPES: Record<LeaseEventRecord["type"], LeaseEventType> = {
  created: LeaseEventType.LEASE_EVENT_TYPE_CREATED,
  renewed: LeaseEventType.LEASE_EVENT_TYPE_RENEWED,
  revoked: LeaseEventType.LEASE_EVENT_TYPE_REVOKED,
  expired: LeaseEventType.LEASE_EVENT_TYPE_EXPIRED,
  irrevocable: LeaseEventType.LEASE_EVENT_TYPE_IRREVOCABLE,
  force_revoked: LeaseEventType.LEASE_EVENT_TYPE_FORCE_REVOKED,
};

export function leaseEvent(e: LeaseEventRecord): LeaseEvent {
  return {
    sequence: e.sequence,
    type: TYPES[e.type] ?? LeaseEventType.LEASE_EVENT_TYPE_UNSPECIFIED,
    leaseId: e.leaseId,
    time: new Date(e.time),
    expireTime: e.expireTime === null ? undefined : new Date(e.expireTime),
    detail: e.detail ?? "",
  };
}

export function watchLeases(deps: CallDeps, feed: LeaseEventFeed, acl: Acl) {
  return serverStream<WatchLeasesRequest, WatchLeasesResponse>(deps, "LeaseService/WatchLeases", async (req, ctx) => {
    const prefix = req.prefix === "" ? "" : normalizeRequestPath(req.prefix, "prefix");
    if (!Number.isSafeInteger(req.afterSequence) || req.afterSequence < 0) {
      throw LessorError.invalidField("after_sequence", "must be 0 (only new events) or a sequence number seen before");
    }
    if (req.fromOldest && req.afterSequence > 0) {
      throw LessorError.invalidField("from_oldest", "cannot be combined with after_sequence; pass one or the other");
    }
    // Watching is listing, continued: the same permission as listing leases under the prefix.
    acl.check(ctx.caller.policies, `sys/leases/lookup/${prefix}`, "list");
    await feed.watch(
      prefix,
      req.fromOldest ? "oldest" : req.afterSequence,
      ctx.signal,
      (event) => ctx.send({ event: leaseEvent(event) }),
      (cursor) => {
        const headers = new Metadata();
        headers.set(AFTER_SEQUENCE_HEADER, String(cursor));
        ctx.sendMetadata(headers);
      },
    );
  });
}
