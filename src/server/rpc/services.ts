// Every RPC of the API as the logical request it is. The typed methods are a
// convenience over the paths: MountService/EnableMount is a write to
// sys/mounts/<path>, TokenService/CreateToken a write to auth/token/create,
// and so on, so each is authorized, rate-limited and audited exactly as the
// same request made through SecretsService/Write, or later over HTTP.
// Fields of a typed request that become part of a path are checked here,
// naming the request's own field, before anything else runs.
import { AuthServiceService } from "@lessor/client/gen/lessor/v1/auth.js";
import { LeaseServiceService, LeaseState, type RevokeLeasePrefixResponse } from "@lessor/client/gen/lessor/v1/leases.js";
import { MountServiceService } from "@lessor/client/gen/lessor/v1/mounts.js";
import { PolicyServiceService } from "@lessor/client/gen/lessor/v1/policies.js";
import { SecretsServiceService, type Lease } from "@lessor/client/gen/lessor/v1/secrets.js";
import { SysServiceService } from "@lessor/client/gen/lessor/v1/sys.js";
import { TokenServiceService } from "@lessor/client/gen/lessor/v1/tokens.js";
import { z } from "zod";
import { policyName } from "../../auth/policy.js";
import { LessorError } from "../../errors.js";
import { normalizeRequestPath } from "../../router/paths.js";
import type { RouterResponse } from "../../router/router.js";
import { MAX_DURATION_SECONDS } from "../../util/duration.js";
import type { JsonObject } from "../../util/json.js";
import { declareService, type LogicalRequest } from "./declare.js";
import * as shape from "./shapes.js";

/** `prefix` + the clean form of a request field that names a path or an id. */
function under(prefix: string, raw: string, field: string): LogicalRequest["path"] {
  return prefix + normalizeRequestPath(raw, field);
}

/** A request field that becomes one path segment (a name). */
function segment(raw: string, field: string, what = "letters, digits, '_', '.' or '-'"): string {
  if (raw === "") throw LessorError.invalidField(field, "is required");
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(raw)) throw LessorError.invalidField(field, `must be 1-128 ${what}`);
  return raw;
}

/** Whole seconds from a typed request (a duration field's value), checked under the request's own field name. */
function seconds(value: number, field: string, what = "must be zero or a positive whole number of seconds"): number {
  if (!Number.isSafeInteger(value) || value < 0) throw LessorError.invalidField(field, what);
  if (value > MAX_DURATION_SECONDS) throw LessorError.invalidField(field, "is longer than 100 years");
  return value;
}

function leaseOf(res: RouterResponse): Lease | undefined {
  return res.lease ? { id: res.lease.id, durationSeconds: res.lease.durationSeconds, renewable: res.lease.renewable } : undefined;
}

const secrets = declareService(SecretsServiceService, {
  read: {
    request: (req) => ({ operation: "read", path: req.path, data: req.data ?? {} }),
    response: (res) => ({ lease: leaseOf(res), data: res.data, warnings: res.warnings, refreshIntervalSeconds: res.lease ? 0 : (res.refreshSeconds ?? 0) }),
  },
  write: {
    request: (req) => ({ operation: "write", path: req.path, data: req.data ?? {} }),
    // A login (or auth/token/create) made through the generic Write hands its token back too.
    response: (res) => ({
      lease: leaseOf(res),
      data: res.data,
      warnings: res.warnings,
      token: res.token?.token ?? "",
      tokenInfo: res.token ? shape.tokenInfoOf(res.token) : undefined,
    }),
  },
  delete: {
    request: (req) => ({ operation: "delete", path: req.path }),
    response: (res) => ({ warnings: res.warnings }),
  },
  list: {
    request: (req) => ({ operation: "list", path: req.path }),
    response: (res) => ({ keys: shape.array(res.data.keys).map(String) }),
  },
  pathHelp: {
    request: (req) => ({ operation: "help", path: req.path }),
    response: (res) => shape.pathHelp(res.data),
  },
});

const STATE_FILTER: Partial<Record<LeaseState, string>> = {
  [LeaseState.LEASE_STATE_ACTIVE]: "active",
  [LeaseState.LEASE_STATE_REVOKING]: "revoking",
  [LeaseState.LEASE_STATE_REVOKED]: "revoked",
  [LeaseState.LEASE_STATE_IRREVOCABLE]: "irrevocable",
};

function stateFilter(state: LeaseState): JsonObject {
  if (state === LeaseState.LEASE_STATE_UNSPECIFIED) return {};
  const filter = STATE_FILTER[state];
  if (!filter) throw LessorError.invalidField("state", "must be one of ACTIVE, REVOKING, REVOKED, IRREVOCABLE, or unspecified for all");
  return { state: filter };
}

/** A lease listing or watch prefix: "" for every lease. */
function prefixOf(raw: string): string {
  return raw === "" ? "" : normalizeRequestPath(raw, "prefix");
}

const progressSchema = z.object({
  matched: z.number(),
  revoked: z.number(),
  failed: z.number(),
  done: z.boolean(),
  warnings: z.array(z.string()),
});

/** Response header naming the sequence number a watch starts after. */
export const AFTER_SEQUENCE_HEADER = "lessor-after-sequence";

const leases = declareService(LeaseServiceService, {
  lookupLease: {
    request: (req) => ({ operation: "write", path: under("sys/leases/lookup/", req.leaseId, "lease_id") }),
    response: (res) => ({ lease: shape.leaseInfo(res.data) }),
  },
  renewLease: {
    request: (req) => ({
      operation: "write",
      path: under("sys/leases/renew/", req.leaseId, "lease_id"),
      data: { increment: seconds(req.incrementSeconds, "increment_seconds", "must be zero (the lease's own duration) or a positive number of seconds") },
    }),
    response: (res) => ({
      lease: shape.leaseInfo(res.data.lease),
      durationSeconds: shape.number(res.data.lease_duration),
      clamped: shape.bool(res.data.clamped),
    }),
  },
  revokeLease: {
    request: (req): LogicalRequest => {
      if (req.force && req.enqueue) throw LessorError.invalidField("enqueue", "cannot be combined with force (force drops the lease at once)");
      return req.force
        ? { operation: "write", path: under("sys/leases/revoke-force/", req.leaseId, "lease_id"), data: { lease_only: true } }
        : { operation: "write", path: under("sys/leases/revoke/", req.leaseId, "lease_id"), data: { sync: !req.enqueue } };
    },
    response: (res) => ({
      leaseId: String(res.data.lease_id),
      revokedNow: shape.bool(res.data.revoked_now),
      queued: shape.bool(res.data.queued),
      warnings: res.warnings,
    }),
  },
  revokeLeasePrefix: {
    request: (req) =>
      req.force
        ? { operation: "write", path: under("sys/leases/revoke-force/", req.prefix, "prefix") }
        : { operation: "write", path: under("sys/leases/revoke-prefix/", req.prefix, "prefix"), data: { sync: !req.enqueue } },
    part: (message) => ({ message: progressSchema.parse(message) satisfies RevokeLeasePrefixResponse }),
  },
  listLeases: {
    request: (req) => ({
      operation: "list",
      path: `sys/leases/lookup/${prefixOf(req.prefix)}`,
      pathField: "prefix",
      data: { ...stateFilter(req.state), page_size: req.pageSize, page_token: req.pageToken },
    }),
    response: (res) => ({ leases: shape.array(res.data.leases).map(shape.leaseInfo), nextPageToken: String(res.data.next_page_token ?? "") }),
  },
  tidyLeases: {
    request: () => ({ operation: "write", path: "sys/leases/tidy" }),
    response: (res) => ({
      intentsRolledBack: shape.number(res.data.intents_rolled_back),
      revokedRecordsPurged: shape.number(res.data.revoked_records_purged),
      indexEntriesRepaired: shape.number(res.data.index_entries_repaired),
      orphanedLeases: shape.number(res.data.orphaned_leases),
      leaseEventsPurged: shape.number(res.data.lease_events_purged),
      revocationsRescheduled: shape.number(res.data.revocations_rescheduled),
    }),
  },
  watchLeases: {
    request: (req) => ({
      operation: "list",
      path: `sys/leases/lookup/${prefixOf(req.prefix)}`,
      pathField: "prefix",
      data: { watch: true, after_sequence: req.afterSequence, from_oldest: req.fromOldest },
    }),
    part: (message) => {
      if (message.started_after !== undefined) return { headers: { [AFTER_SEQUENCE_HEADER]: String(message.started_after) } };
      return { message: { event: shape.leaseEvent(message.event) } };
    },
  },
});

const mounts = declareService(MountServiceService, {
  enableMount: {
    request: (req) => {
      if (req.type === "") throw LessorError.invalidField("type", "is required: the engine type, e.g. aws or kv");
      const config = {
        default_lease_ttl: String(seconds(req.defaultLeaseTtlSeconds, "default_lease_ttl_seconds")),
        max_lease_ttl: String(seconds(req.maxLeaseTtlSeconds, "max_lease_ttl_seconds")),
      };
      return {
        operation: "write",
        path: under("sys/mounts/", req.path === "" ? req.type : req.path, "path"),
        data: { type: req.type, description: req.description, config },
      };
    },
    response: (res) => ({ mount: shape.mount(res.data) }),
  },
  disableMount: {
    request: (req) => {
      if (req.path === "") throw LessorError.invalidField("path", "is required");
      return { operation: "delete", path: under("sys/mounts/", req.path, "path") };
    },
    response: (res) => ({ revokedLeases: shape.number(res.data.revoked_leases) }),
  },
  listMounts: {
    request: () => ({ operation: "read", path: "sys/mounts" }),
    response: (res) => ({ mounts: shape.mounts(res.data) }),
  },
});

/** Which token a request names: by value, by accessor, or the caller's own. */
function tokenTarget(verb: "lookup" | "renew" | "revoke", req: { token: string; accessor: string }): { path: string; data: JsonObject } {
  if (req.token !== "" && req.accessor !== "") throw LessorError.invalidField("accessor", "give a token or an accessor, not both");
  if (req.token !== "") return { path: `auth/token/${verb}`, data: { token: req.token } };
  if (req.accessor !== "") return { path: `auth/token/${verb}-accessor`, data: { accessor: req.accessor } };
  return { path: `auth/token/${verb}-self`, data: {} };
}

const tokens = declareService(TokenServiceService, {
  createToken: {
    request: (req) => ({
      operation: "write",
      path: req.orphan ? "auth/token/create-orphan" : "auth/token/create",
      data: {
        policies: req.policies,
        ttl: seconds(req.ttlSeconds, "ttl_seconds"),
        explicit_max_ttl: seconds(req.explicitMaxTtlSeconds, "explicit_max_ttl_seconds"),
        renewable: req.renewable,
        num_uses: req.numUses,
        display_name: req.displayName,
        meta: req.meta,
      },
    }),
    response: (res) => {
      if (!res.token) throw new Error("auth/token/create answered without a token");
      return { token: res.token.token, info: shape.tokenInfoOf(res.token) };
    },
  },
  lookupToken: {
    request: (req) => {
      const target = tokenTarget("lookup", req);
      // The caller's own token is read, as Vault's lookup-self.
      return { operation: target.path.endsWith("-self") ? "read" : "write", ...target };
    },
    response: (res) => ({ info: shape.tokenInfo(res.data) }),
  },
  lookupSelfToken: {
    request: () => ({ operation: "read", path: "auth/token/lookup-self" }),
    response: (res) => ({ info: shape.tokenInfo(res.data) }),
  },
  renewToken: {
    request: (req) => {
      const target = tokenTarget("renew", req);
      return { operation: "write", path: target.path, data: { ...target.data, increment: seconds(req.incrementSeconds, "increment_seconds") } };
    },
    response: (res) => ({ info: shape.tokenInfo(res.data) }),
  },
  revokeToken: {
    request: (req) => {
      if (req.orphan) {
        if (req.token !== "" && req.accessor !== "") throw LessorError.invalidField("accessor", "give a token or an accessor, not both");
        return { operation: "write", path: "auth/token/revoke-orphan", data: { token: req.token, accessor: req.accessor } };
      }
      return { operation: "write", ...tokenTarget("revoke", req) };
    },
    response: (res) => ({ revokedTokens: shape.number(res.data.revoked_tokens), revokedLeases: shape.number(res.data.revoked_leases) }),
  },
});

const policies = declareService(PolicyServiceService, {
  writePolicy: {
    request: (req) => ({ operation: "write", path: `sys/policies/acl/${policyName(req.name)}`, data: { policy: req.policy } }),
    response: () => ({}),
  },
  readPolicy: {
    request: (req) => ({ operation: "read", path: `sys/policies/acl/${policyName(req.name)}` }),
    response: (res) => ({ name: String(res.data.name), policy: String(res.data.policy) }),
  },
  listPolicies: {
    request: () => ({ operation: "list", path: "sys/policies/acl/" }),
    response: (res) => ({ names: shape.strings(res.data.keys) }),
  },
  deletePolicy: {
    request: (req) => ({ operation: "delete", path: `sys/policies/acl/${policyName(req.name)}` }),
    response: () => ({}),
  },
});

const QUOTA_NAME = "letters, digits, '_', '.' or '-'";

const sys = declareService(SysServiceService, {
  enableAuditDevice: {
    request: (req) => {
      const device = req.device;
      if (!device) throw LessorError.invalidField("device", "is required");
      if (device.type === "") throw LessorError.invalidField("device.type", "is required: file or stdout");
      return {
        operation: "write",
        path: under("sys/audit/", device.path === "" ? device.type : device.path, "device.path"),
        data: { type: device.type, description: device.description, options: device.options },
      };
    },
    response: () => ({}),
  },
  disableAuditDevice: {
    request: (req) => {
      if (req.path === "") throw LessorError.invalidField("path", "is required");
      return { operation: "delete", path: under("sys/audit/", req.path, "path") };
    },
    response: () => ({}),
  },
  listAuditDevices: {
    request: () => ({ operation: "read", path: "sys/audit" }),
    response: (res) => ({ devices: Object.values(res.data).map(shape.auditDevice) }),
  },
  hashAuditValue: {
    request: (req) => ({ operation: "write", path: "sys/audit-hash", data: { input: req.input } }),
    response: (res) => ({ hash: String(res.data.hash) }),
  },
  writeRateLimitQuota: {
    request: (req) => {
      const q = req.quota;
      if (!q) throw LessorError.invalidField("quota", "is required");
      return {
        operation: "write",
        path: `sys/quotas/rate-limit/${segment(q.name, "name", QUOTA_NAME)}`,
        data: { path: q.path, rate: q.rate, interval: seconds(q.intervalSeconds, "interval", "must be a whole number of seconds from 1 to 86400 (0: 1 second)"), per_token: q.perToken },
      };
    },
    response: () => ({}),
  },
  readRateLimitQuota: {
    request: (req) => ({ operation: "read", path: `sys/quotas/rate-limit/${segment(req.name, "name", QUOTA_NAME)}` }),
    response: (res) => ({ quota: shape.quota(res.data) }),
  },
  listRateLimitQuotas: {
    request: () => ({ operation: "list", path: "sys/quotas/rate-limit/" }),
    response: (res) => ({ quotas: shape.array(res.data.quotas).map(shape.quota) }),
  },
  deleteRateLimitQuota: {
    request: (req) => ({ operation: "delete", path: `sys/quotas/rate-limit/${segment(req.name, "name", QUOTA_NAME)}` }),
    response: () => ({}),
  },
  rotateEncryptionKey: {
    request: () => ({ operation: "write", path: "sys/rotate" }),
    response: (res) => ({ activeKeyId: shape.number(res.data.active_key_id) }),
  },
  getEncryptionKeyStatus: {
    request: () => ({ operation: "read", path: "sys/key-status" }),
    response: (res) => ({
      keys: shape.array(res.data.keys).map((k) => {
        const key = z.object({ id: z.number(), active: z.boolean(), sealed_values: z.number() }).parse(k);
        return { id: key.id, active: key.active, sealedValues: key.sealed_values };
      }),
      reencrypting: shape.bool(res.data.reencrypting),
      keySource: String(res.data.key_source),
    }),
  },
  pruneEncryptionKeys: {
    request: () => ({ operation: "write", path: "sys/rotate/prune" }),
    response: (res) => ({ droppedKeyIds: shape.numbers(res.data.dropped_key_ids) }),
  },
});

/** An auth method's mount, as a login names it: "jwt", "auth/jwt" and "auth/jwt/" are one. */
function authMount(raw: string): string {
  const path = normalizeRequestPath(raw, "path").replace(/^auth\//, "").replace(/\/+$/, "");
  if (path === "") throw LessorError.invalidField("path", "is required: the auth method's mount, e.g. jwt");
  return path;
}

const auth = declareService(AuthServiceService, {
  login: {
    request: (req) => ({ operation: "write", path: `auth/${authMount(req.path)}/login`, data: req.data ?? {} }),
    response: (res) => {
      if (!res.token) throw new Error("a login answered without a token");
      return { token: res.token.token, info: shape.tokenInfoOf(res.token) };
    },
  },
});

/** The whole API: every service the server serves, every method declared. */
export const API = [secrets, leases, mounts, tokens, policies, sys, auth] as const;
