// sys/leases/...: the lease lifecycle, at Vault's paths. The lease id (or a
// prefix) is part of the path, so a policy can grant by secret path:
// `sys/leases/renew/aws/creds/deploy/*`; or, as Vault's clients send it, in
// the body of sys/leases/renew, revoke and lookup (checked on those paths).
// Vault's older sys/renew, sys/revoke, sys/revoke-prefix and
// sys/revoke-force are the same verbs. Listing and watching are the same
// permission (list, and sudo: sys/leases/lookup/* is root-protected for list).
import { LessorError } from "../../errors.js";
import type { LeaseEventRecord, LeaseRecord, LeaseState } from "../../store/types.js";
import type { PrefixProgress } from "../../leases/prefix-jobs.js";
import { normalizeRequestPath } from "../../router/paths.js";
import { definePath, type FieldSpec, type FieldSpecs, type JsonObject, type PathSpec, type Request, type Response } from "../framework/types.js";
import type { SystemParts } from "./parts.js";

/** What a forced revocation must say to whoever asked for it. */
export const FORCE_WARNING =
  "the lease was dropped without revoking its secret; the secret, if it still exists, was NOT destroyed. Destroy it by hand if it may still exist.";
export const FORCE_PREFIX_WARNING =
  "the leases were dropped without revoking their secrets; the secrets, if they still exist, were NOT destroyed. Destroy them by hand if they may still exist.";

const STATES: readonly LeaseState[] = ["active", "revoking", "revoked", "irrevocable"];

/** A lease as sys/leases paths return it (Vault's names, Lessor's extra state). */
export function leaseData(lease: LeaseRecord, now: number): JsonObject {
  return {
    id: lease.id,
    issue_time: new Date(lease.issueTime).toISOString(),
    expire_time: new Date(lease.expireTime).toISOString(),
    max_expire_time: new Date(lease.maxExpireTime).toISOString(),
    last_renewal: lease.lastRenewalTime === null ? null : new Date(lease.lastRenewalTime).toISOString(),
    ttl: lease.state === "active" ? Math.max(0, Math.floor((lease.expireTime - now) / 1000)) : 0,
    renewable: lease.renewable && lease.state === "active",
    state: lease.state,
    revoke_attempts: lease.attempts,
    last_error: lease.lastError ?? "",
  };
}

export function eventData(e: LeaseEventRecord): JsonObject {
  return {
    sequence: e.sequence,
    type: e.type,
    lease_id: e.leaseId,
    time: new Date(e.time).toISOString(),
    expire_time: e.expireTime === null ? null : new Date(e.expireTime).toISOString(),
    detail: e.detail ?? "",
  };
}

/** A revoke-prefix prefix is a folder: "aws/creds/deploy" means the leases under "aws/creds/deploy/". */
function asFolder(prefix: string): string {
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/** Resolves when `signal` aborts (a caller that went away stops being waited for). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * NOT_FOUND for an unknown lease id. When exactly one live lease starts with
 * it (a truncated paste), the message names it, but only to a caller who
 * could have found it anyway: one that may list leases there, or that owns it.
 */
function withHint<T>(parts: SystemParts, req: Request, work: Promise<T>): Promise<T> {
  return work.catch(async (err: unknown) => {
    if (!(err instanceof LessorError) || err.reason !== "LEASE_NOT_FOUND") throw err;
    const id = err.metadata.lease_id ?? "";
    const candidate = await parts.leases.completion(id);
    const listPath = `sys/leases/lookup/${id}`;
    const caller = req.caller;
    const entitled =
      candidate !== undefined &&
      (candidate.tokenAccessor === caller.tokenAccessor ||
        (parts.permissions.allows(caller, listPath, "list") && parts.permissions.allows(caller, listPath, "sudo")));
    if (!candidate || !entitled) throw err;
    throw LessorError.notFound(`lease not found: ${id} (did you mean ${candidate.id}? the id looks truncated)`, "LEASE_NOT_FOUND", {
      lease_id: id,
      did_you_mean: candidate.id,
    });
  });
}

function lookupPath(parts: SystemParts): PathSpec {
  const { lifecycle } = parts;
  return definePath({
    pattern: "leases/lookup/*prefix?",
    synopsis: "Look up one lease (write), or list and watch the leases under a prefix (list).",
    description:
      "write: the lease whose id follows lookup/. list: the leases under the prefix, a page at a time (page_size, page_token, state), or with watch=true their events as they happen (streaming transports only; after_sequence resumes, from_oldest replays what is kept).",
    fields: {
      state: { type: "string", description: "List only leases in this state.", allowed: STATES },
      page_size: { type: "int", description: "Leases per page: 0 for the default (50), at most 1000.", default: 0 },
      page_token: { type: "string", description: "Where the previous page ended (opaque).", default: "" },
      watch: { type: "bool", description: "Stream lease events under the prefix instead of listing.", default: false },
      after_sequence: { type: "int", description: "Watch: resume after this event sequence (0: only new events).", default: 0 },
      from_oldest: { type: "bool", description: "Watch: start from the oldest kept event.", default: false },
    },
    operations: {
      async write(req) {
        const lease = await withHint(parts, req, parts.leases.lookup(req.params.prefix));
        return { data: leaseData(lease, Date.now()) };
      },
      async list(req) {
        const prefix = req.params.prefix;
        const { state, page_size, page_token, watch, after_sequence, from_oldest } = req.fields;
        if (!watch) {
          const page = await lifecycle.listing.page(prefix, STATES.find((s) => s === state), page_size, page_token);
          const now = Date.now();
          return { data: { keys: page.leases.map((l) => l.id), leases: page.leases.map((l) => leaseData(l, now)), next_page_token: page.nextPageToken } };
        }
        const stream = req.stream;
        if (!stream) throw LessorError.invalidField("watch", "needs a streaming transport (LeaseService/WatchLeases)");
        if (!Number.isSafeInteger(after_sequence) || after_sequence < 0) {
          throw LessorError.invalidField("after_sequence", "must be 0 (only new events) or a sequence number seen before");
        }
        if (from_oldest && after_sequence > 0) {
          throw LessorError.invalidField("from_oldest", "cannot be combined with after_sequence; pass one or the other");
        }
        await lifecycle.events.watch(
          prefix,
          from_oldest ? "oldest" : after_sequence,
          req.signal,
          (event) => stream({ event: eventData(event) }),
          (cursor) => void stream({ started_after: cursor }),
        );
        return {};
      },
    },
  });
}

/** The lease id of a body-form request (`lease_id`), checked as a path is. */
const LEASE_ID_FIELD = { type: "string", description: "The id of the lease.", required: true } satisfies FieldSpec;

/**
 * A lease verb at each of Vault's paths for it: the lease id in the path
 * (`<root>/<id>`: a policy can grant by secret path), or in the body
 * (`<root>` with lease_id, as Vault's clients send it: checked on `<root>`
 * itself, as in Vault). The older roots (sys/renew, sys/revoke) are the same.
 */
function leaseVerb(roots: readonly string[], synopsis: string, fields: FieldSpecs, act: (req: Request, leaseId: string) => Promise<Response>): PathSpec[] {
  return roots.flatMap((root) => [
    definePath({
      pattern: root,
      synopsis: `${synopsis} (The lease id in the body: lease_id.)`,
      fields: { lease_id: LEASE_ID_FIELD, ...fields },
      operations: { write: (req) => act(req, normalizeRequestPath(String(req.fields.lease_id), "lease_id")) },
    }),
    definePath({
      pattern: `${root}/*lease_id`,
      synopsis,
      fields,
      operations: { write: (req) => act(req, req.params.lease_id) },
    }),
  ]);
}

function renewPaths(parts: SystemParts): PathSpec[] {
  const fields = { increment: { type: "duration", description: "How long from now; 0 (the default) for the lease's own TTL.", default: 0 } } satisfies FieldSpecs;
  return leaseVerb(["leases/renew", "renew"], "Renew a lease: extend it by increment from now, never past its max TTL.", fields, async (req, id) => {
    const outcome = await withHint(parts, req, parts.leases.renew(id, Number(req.fields.increment ?? 0)));
    return {
      data: { lease: leaseData(outcome.lease, Date.now()), lease_duration: outcome.durationSeconds, clamped: outcome.clamped },
      warnings: outcome.clamped ? ["the lease's max TTL cut the requested increment short"] : [],
    };
  });
}

function revokePaths(parts: SystemParts): PathSpec[] {
  const fields = {
    sync: { type: "bool", description: "Wait for the secret to be destroyed (default); false queues it for the scheduler.", default: true },
  } satisfies FieldSpecs;
  return leaseVerb(["leases/revoke", "revoke"], "Revoke a lease: destroy its secret, then end the lease.", fields, async (req, id) => {
    const outcome = await withHint(parts, req, req.fields.sync === false ? parts.leases.enqueueRevoke(id) : parts.leases.revoke(id));
    return { data: { lease_id: outcome.leaseId, revoked_now: outcome.revokedNow, queued: outcome.queued === true } };
  });
}

/** sys/leases/lookup with the lease id in the body (the path form is lookupPath's write). */
function lookupBodyPath(parts: SystemParts): PathSpec {
  return definePath({
    pattern: "leases/lookup",
    synopsis: "Look up one lease. (The lease id in the body: lease_id.)",
    fields: { lease_id: LEASE_ID_FIELD },
    operations: {
      async write(req) {
        const lease = await withHint(parts, req, parts.leases.lookup(normalizeRequestPath(req.fields.lease_id, "lease_id")));
        return { data: leaseData(lease, Date.now()) };
      },
    },
  });
}

function revokeForcePaths(parts: SystemParts): PathSpec[] {
  return ["leases/revoke-force", "revoke-force"].map((root) =>
    definePath({
      pattern: `${root}/*prefix`,
      synopsis: "Drop a lease, or every lease under a prefix, WITHOUT destroying the secrets (for secrets already destroyed by hand).",
      fields: {
        lease_only: { type: "bool", description: "The path names exactly one lease (not a prefix): NOT_FOUND if there is none.", default: false },
      },
      operations: {
        async write(req) {
          const prefix = req.params.prefix;
          if (!req.fields.lease_only) return revokePrefix(parts, req, asFolder(prefix), true, false);
          const outcome = await withHint(parts, req, parts.leases.forceRevoke(prefix));
          return {
            data: { lease_id: outcome.leaseId, revoked_now: outcome.revokedNow, queued: false },
            warnings: outcome.revokedNow ? [FORCE_WARNING] : [],
          };
        },
      },
    }),
  );
}

function revokePrefixPaths(parts: SystemParts): PathSpec[] {
  return ["leases/revoke-prefix", "revoke-prefix"].map((root) =>
    definePath({
      pattern: `${root}/*prefix`,
      synopsis: "Revoke every lease under a prefix, in batches, resuming after a restart.",
      fields: {
        sync: { type: "bool", description: "Wait until every lease is revoked (default); false returns once they are all queued.", default: true },
      },
      operations: {
        write: (req) => revokePrefix(parts, req, asFolder(req.params.prefix), false, req.fields.sync === false),
      },
    }),
  );
}

function tidyPath(parts: SystemParts): PathSpec {
  return definePath({
    pattern: "leases/tidy",
    synopsis: "Repair the due-time index and dangling entries; forget old revoked leases, jobs and events.",
    fields: {},
    operations: {
      async write() {
        const r = await parts.lifecycle.tidy.run();
        return {
          data: {
            intents_rolled_back: r.intentsRolledBack,
            revoked_records_purged: r.revokedRecordsPurged,
            index_entries_repaired: r.indexEntriesRepaired,
            orphaned_leases: r.orphanedLeases,
            lease_events_purged: r.leaseEventsPurged,
            revocations_rescheduled: r.revocationsRescheduled,
          },
        };
      },
    },
  });
}

/** Runs a revoke-prefix job; a streaming caller sees its progress, a caller that left does not hold it up. */
async function revokePrefix(parts: SystemParts, req: Request, prefix: string, force: boolean, enqueue: boolean): Promise<Response> {
  const gone = aborted(req.signal);
  let warnings = force ? [FORCE_PREFIX_WARNING] : [];
  const send = req.stream;
  const report = async (p: PrefixProgress): Promise<void> => {
    if (!send || req.signal.aborted) return;
    const message = { matched: p.matched, revoked: p.revoked, failed: p.failed, done: p.done, warnings };
    warnings = [];
    await Promise.race([send(message), gone]);
  };
  await report({ matched: 0, revoked: 0, failed: 0, done: false });
  const final = await parts.lifecycle.jobs.run(prefix, force, enqueue, report);
  return { data: { matched: final.matched, revoked: final.revoked, failed: final.failed, done: final.done }, warnings: send ? [] : warnings };
}

export function leasePaths(parts: SystemParts): PathSpec[] {
  return [
    lookupPath(parts),
    lookupBodyPath(parts),
    ...renewPaths(parts),
    ...revokePaths(parts),
    ...revokeForcePaths(parts),
    ...revokePrefixPaths(parts),
    tidyPath(parts),
  ];
}
