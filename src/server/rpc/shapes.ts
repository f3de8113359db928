// Backend answers (Vault-shaped JSON) parsed into the typed messages of the
// API. Parsed, not cast: a backend that answers in another shape is an
// internal error here, never a malformed message on the wire.
import { z } from "zod";
import type { LeaseEvent, LeaseInfo } from "@lessor/client/gen/lessor/v1/leases.js";
import { LeaseEventType, LeaseState } from "@lessor/client/gen/lessor/v1/leases.js";
import type { Mount } from "@lessor/client/gen/lessor/v1/mounts.js";
import type { PathHelpResponse } from "@lessor/client/gen/lessor/v1/secrets.js";
import type { AuditDevice, RateLimitQuota } from "@lessor/client/gen/lessor/v1/sys.js";
import type { TokenInfo } from "@lessor/client/gen/lessor/v1/tokens.js";
import type { IssuedToken } from "../../engines/framework/types.js";
import type { JsonValue } from "../../util/json.js";

const time = z.string().transform((s) => new Date(s));
const optionalTime = time.nullable().transform((d) => d ?? undefined);

const LEASE_STATES = {
  active: LeaseState.LEASE_STATE_ACTIVE,
  revoking: LeaseState.LEASE_STATE_REVOKING,
  revoked: LeaseState.LEASE_STATE_REVOKED,
  irrevocable: LeaseState.LEASE_STATE_IRREVOCABLE,
} as const;

const leaseSchema = z.object({
  id: z.string(),
  issue_time: time,
  expire_time: time,
  max_expire_time: time,
  last_renewal: optionalTime,
  ttl: z.number(),
  renewable: z.boolean(),
  state: z.enum(["active", "revoking", "revoked", "irrevocable"]),
  revoke_attempts: z.number(),
  last_error: z.string(),
});

export function leaseInfo(data: JsonValue | undefined): LeaseInfo {
  const l = leaseSchema.parse(data);
  return {
    id: l.id,
    issueTime: l.issue_time,
    expireTime: l.expire_time,
    maxExpireTime: l.max_expire_time,
    lastRenewalTime: l.last_renewal,
    ttlSeconds: l.ttl,
    renewable: l.renewable,
    state: LEASE_STATES[l.state],
    revokeAttempts: l.revoke_attempts,
    lastError: l.last_error,
  };
}

const EVENT_TYPES = {
  created: LeaseEventType.LEASE_EVENT_TYPE_CREATED,
  renewed: LeaseEventType.LEASE_EVENT_TYPE_RENEWED,
  revoked: LeaseEventType.LEASE_EVENT_TYPE_REVOKED,
  expired: LeaseEventType.LEASE_EVENT_TYPE_EXPIRED,
  irrevocable: LeaseEventType.LEASE_EVENT_TYPE_IRREVOCABLE,
  force_revoked: LeaseEventType.LEASE_EVENT_TYPE_FORCE_REVOKED,
} as const;

const eventSchema = z.object({
  sequence: z.number(),
  type: z.enum(["created", "renewed", "revoked", "expired", "irrevocable", "force_revoked"]),
  lease_id: z.string(),
  time,
  expire_time: optionalTime,
  detail: z.string(),
});

export function leaseEvent(data: JsonValue | undefined): LeaseEvent {
  const e = eventSchema.parse(data);
  return { sequence: e.sequence, type: EVENT_TYPES[e.type], leaseId: e.lease_id, time: e.time, expireTime: e.expire_time, detail: e.detail };
}

const tokenSchema = z.object({
  accessor: z.string(),
  policies: z.array(z.string()),
  display_name: z.string(),
  creation_time: time,
  expire_time: optionalTime,
  ttl: z.number(),
  renewable: z.boolean(),
  num_uses: z.number(),
  parent_accessor: z.string(),
  meta: z.record(z.string(), z.string()),
  max_expire_time: optionalTime,
});

export function tokenInfo(data: JsonValue | undefined): TokenInfo {
  const t = tokenSchema.parse(data);
  return {
    accessor: t.accessor,
    policies: t.policies,
    displayName: t.display_name,
    creationTime: t.creation_time,
    expireTime: t.expire_time,
    ttlSeconds: t.ttl,
    renewable: t.renewable,
    numUses: t.num_uses,
    parentAccessor: t.parent_accessor,
    meta: t.meta,
    maxExpireTime: t.max_expire_time,
  };
}

/** A token a request made, as the API shows it (never its value). */
export function tokenInfoOf(t: IssuedToken): TokenInfo {
  return {
    accessor: t.accessor,
    policies: t.policies,
    displayName: t.displayName,
    creationTime: new Date(t.creationTime),
    expireTime: t.expireTime === null ? undefined : new Date(t.expireTime),
    ttlSeconds: t.ttlSeconds,
    renewable: t.renewable,
    numUses: t.numUses,
    parentAccessor: t.parentAccessor ?? "",
    meta: t.metadata,
    maxExpireTime: t.maxExpireTime === null ? undefined : new Date(t.maxExpireTime),
  };
}

const mountSchema = z.object({
  path: z.string(),
  type: z.string(),
  description: z.string(),
  accessor: z.string(),
  config: z.object({ default_lease_ttl: z.number(), max_lease_ttl: z.number() }),
});

export function mount(data: JsonValue | undefined): Mount {
  const m = mountSchema.parse(data);
  return {
    path: m.path,
    type: m.type,
    description: m.description,
    accessor: m.accessor,
    defaultLeaseTtlSeconds: m.config.default_lease_ttl,
    maxLeaseTtlSeconds: m.config.max_lease_ttl,
  };
}

/** A map of path → mount (sys/mounts), in path order. */
export function mounts(data: Record<string, JsonValue>): Mount[] {
  return Object.values(data).map(mount).sort((a, b) => a.path.localeCompare(b.path));
}

const quotaSchema = z.object({ name: z.string(), path: z.string(), rate: z.number(), interval: z.number(), per_token: z.boolean() });

export function quota(data: JsonValue | undefined): RateLimitQuota {
  const q = quotaSchema.parse(data);
  return { name: q.name, path: q.path, rate: q.rate, intervalSeconds: q.interval, perToken: q.per_token };
}

const auditSchema = z.object({ path: z.string(), type: z.string(), description: z.string(), options: z.record(z.string(), z.string()) });

export function auditDevice(data: JsonValue | undefined): AuditDevice {
  return auditSchema.parse(data);
}

/** A list of strings in a backend answer (`keys`, `dropped_key_ids`). */
export function strings(value: JsonValue | undefined): string[] {
  return z.array(z.string()).parse(value ?? []);
}

export function numbers(value: JsonValue | undefined): number[] {
  return z.array(z.number()).parse(value ?? []);
}

export function number(value: JsonValue | undefined): number {
  return z.number().parse(value);
}

export function bool(value: JsonValue | undefined): boolean {
  return z.boolean().parse(value);
}

export function array(value: JsonValue | undefined): JsonValue[] {
  return z.array(z.custom<JsonValue>()).parse(value ?? []);
}

const helpSchema = z.object({
  pattern: z.string(),
  engine_type: z.string(),
  synopsis: z.string(),
  description: z.string(),
  operations: z.array(z.string()),
  fields: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      required: z.boolean(),
      description: z.string(),
      default_value: z.string(),
      write_only: z.boolean(),
      deprecation: z.string(),
    }),
  ),
  engine_paths: z.array(z.string()),
});

export function pathHelp(data: JsonValue | undefined): PathHelpResponse {
  const h = helpSchema.parse(data);
  return {
    pattern: h.pattern,
    engineType: h.engine_type,
    synopsis: h.synopsis,
    description: h.description,
    operations: h.operations,
    fields: h.fields.map((f) => ({
      name: f.name,
      type: f.type,
      required: f.required,
      description: f.description,
      defaultValue: f.default_value,
      writeOnly: f.write_only,
      deprecation: f.deprecation,
    })),
    enginePaths: h.engine_paths,
  };
}
