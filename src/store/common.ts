// What every store shares (SQLite, PostgreSQL, and the in-memory one tests
// use): the key check and the AAD each sealed value is bound to, the row
// mappers (both SQL schemas name their columns alike), prefix ranges and
// key folding, the rules a lease's due time follows, and the hooks that tell
// the process a lease change committed.
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import type { Keyring } from "./encryption.js";
import type {
  AuditDeviceRecord,
  JsonValue,
  IntentRecord,
  JsonObject,
  LeaseEventRecord,
  LeaseEventType,
  LeasePage,
  LeaseRecord,
  LeaseState,
  MountRecord,
  PolicyRecord,
  QuotaRecord,
  RevocationJobRecord,
  TokenRecord,
} from "./types.js";

// --- Sealing: the key check and where each sealed value belongs.

/** The meta row holding a sealed known value: a key that cannot open it did not seal this store. */
export const KEY_CHECK = "keyring-check";
const KEY_CHECK_PLAINTEXT = "lessor";

/** The key check value to store on first start. */
export function sealKeyCheck(keyring: Keyring): Buffer {
  return keyring.seal(Buffer.from(KEY_CHECK_PLAINTEXT), KEY_CHECK);
}

/** Whether the stored key check opens with this keyring (false: another key sealed the store). */
export function keyCheckOpens(keyring: Keyring, sealed: Buffer): boolean {
  try {
    keyring.open(sealed, KEY_CHECK);
    return true;
  } catch {
    return false;
  }
}

/** A store refusing to open (wrong key, a schema newer than this Lessor): said to the operator as it is. */
export class StoreRefusal extends Error {}

/** The refusal to open a store with a key that did not seal it. */
export class KeyMismatchError extends StoreRefusal {}

/** Refusal to start with the wrong key; `hint` says which key file is the right one. */
export function wrongKeyError(hint: string): StoreRefusal {
  return new KeyMismatchError(`the encryption key does not match this database (it was sealed with another key); ${hint}`);
}

/** Whether an engine entry as stored (undefined: absent) is the one a compare-and-swap expects. */
export function sameEntry(stored: JsonValue | undefined, expected: JsonValue | undefined): boolean {
  return stored === undefined || expected === undefined ? stored === expected : isDeepStrictEqual(stored, expected);
}

/**
 * The additional authenticated data each sealed value is bound to: its place,
 * so a value copied to another row fails to open. The same strings on every
 * store (a store's data can be re-sealed, never re-bound).
 */
export const aad = {
  entry: (mountAccessor: string, key: string): string => `engine_entries:${mountAccessor}:${key}`,
  lease: (id: string): string => `leases:${id}`,
  intent: (id: string): string => `intents:${id}`,
  auditDevice: (path: string): string => `audit_devices:${path}`,
  /** A meta row: the key check is bound to its own name, sealed settings to "meta:<key>". */
  meta: (key: string): string => (key === KEY_CHECK ? KEY_CHECK : `meta:${key}`),
};

/** The meta key of a sealed setting. */
export function settingKey(name: string): string {
  return `sealed:${name}`;
}

type KeyRow = Record<string, string>;

/** Every sealed column of the SQL schemas but meta's, with the key columns its AAD is made of. */
export const SEALED_COLUMNS: ReadonlyArray<{ table: string; column: string; keys: readonly string[]; aad: (row: KeyRow) => string }> = [
  { table: "engine_entries", column: "value", keys: ["mount_accessor", "key"], aad: (r) => aad.entry(String(r.mount_accessor), String(r.key)) },
  { table: "leases", column: "internal", keys: ["id"], aad: (r) => aad.lease(String(r.id)) },
  { table: "intents", column: "data", keys: ["id"], aad: (r) => aad.intent(String(r.id)) },
  { table: "audit_devices", column: "config", keys: ["path"], aad: (r) => aad.auditDevice(String(r.path)) },
];

// --- Prefixes and keys.

/** Smallest string greater than every string that starts with prefix: ids in [prefix, prefixEnd(prefix)) start with it. */
export function prefixEnd(prefix: string): string {
  return prefix + "\u{10FFFF}";
}

/** Turns full keys under a prefix into the next level: files, and folders with a trailing "/". */
export function foldKeys(keys: readonly string[], prefix: string): string[] {
  const out = new Set<string>();
  for (const key of keys) {
    const rest = key.slice(prefix.length);
    if (rest === "") continue;
    const slash = rest.indexOf("/");
    out.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...out].sort();
}

/** A page of `limit` from up to `limit + 1` leases read in id order: the extra one says there is more. */
export function leasePage(leases: LeaseRecord[], limit: number): LeasePage {
  const page = leases.slice(0, limit);
  const last = page[page.length - 1];
  return { leases: page, next: leases.length > limit && last ? last.id : null };
}

/** Lease counts with every state present. */
export function zeroStateCounts(): Record<LeaseState, number> {
  return { active: 0, revoking: 0, revoked: 0, irrevocable: 0 };
}

// --- Due times.

/** What decides a lease's due time. */
export interface DueFields {
  state: LeaseState;
  expireTime: number;
  nextAttemptTime: number | null;
  dueTime: number | null;
}

/** The columns tidying reads of each lease. */
export interface TidyRow {
  id: string;
  mount_accessor: string;
  state: LeaseState;
  expire_time: number;
  next_attempt_time: number | null;
  due_time: number | null;
}

export const TIDY_COLUMNS = "id, mount_accessor, state, expire_time, next_attempt_time, due_time";

export function dueFields(r: TidyRow): DueFields {
  return { state: r.state, expireTime: r.expire_time, nextAttemptTime: r.next_attempt_time, dueTime: r.due_time };
}

/**
 * What a lease's due time and next attempt should be, given its state
 * (undefined: already right): an active lease is due at its expiry, a
 * revoking one at its next attempt (now, when it has none), any other never.
 */
export function dueRepair(lease: DueFields, now: number): { due: number | null; next: number | null; rescheduled: boolean } | undefined {
  switch (lease.state) {
    case "active":
      return lease.dueTime === lease.expireTime ? undefined : { due: lease.expireTime, next: lease.nextAttemptTime, rescheduled: false };
    case "revoking":
      if (lease.nextAttemptTime === null || lease.dueTime === null) {
        const at = lease.nextAttemptTime ?? lease.dueTime ?? now;
        return { due: at, next: at, rescheduled: true };
      }
      return lease.dueTime === lease.nextAttemptTime ? undefined : { due: lease.nextAttemptTime, next: lease.nextAttemptTime, rescheduled: false };
    default:
      return lease.dueTime === null ? undefined : { due: null, next: null, rescheduled: false };
  }
}

// --- Row mappers. SQLite returns booleans as 0/1, PostgreSQL as booleans.

type SqlBool = number | boolean;
const bool = (value: SqlBool): boolean => value === true || value === 1;

export interface LeaseRow {
  id: string;
  mount_accessor: string;
  secret_type: string;
  internal: Buffer;
  issue_time: number;
  expire_time: number;
  max_expire_time: number;
  ttl: number | null;
  last_renewal_time: number | null;
  renewable: SqlBool;
  state: LeaseState;
  attempts: number;
  next_attempt_time: number | null;
  last_error: string | null;
  token_accessor: string | null;
  revoke_time: number | null;
}

/** The lease columns LeaseRow reads (not the store's own bookkeeping). */
export const LEASE_COLUMNS = `id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time, ttl, last_renewal_time,
  renewable, state, attempts, next_attempt_time, last_error, token_accessor, revoke_time`;

export function leaseRecord(r: LeaseRow, keyring: Keyring): LeaseRecord {
  // Opened when first read, not with the row: most readers never look at it
  // (listing, lookup, and the expiry scheduler, which reads again the due
  // leases it has queued and skips them).
  let internal: JsonObject | undefined;
  return {
    id: r.id,
    mountAccessor: r.mount_accessor,
    secretType: r.secret_type,
    get internal(): JsonObject {
      return (internal ??= keyring.openJson<JsonObject>(r.internal, aad.lease(r.id)));
    },
    issueTime: r.issue_time,
    expireTime: r.expire_time,
    maxExpireTime: r.max_expire_time,
    ttlSeconds: r.ttl,
    lastRenewalTime: r.last_renewal_time,
    renewable: bool(r.renewable),
    state: r.state,
    attempts: r.attempts,
    nextAttemptTime: r.next_attempt_time,
    lastError: r.last_error,
    tokenAccessor: r.token_accessor,
    revokeTime: r.revoke_time,
  };
}

export interface IntentRow {
  id: string;
  lease_id: string;
  mount_accessor: string;
  secret_type: string;
  data: Buffer;
  created_at: number;
}

export function intentRecord(r: IntentRow, keyring: Keyring): IntentRecord {
  return {
    id: r.id,
    leaseId: r.lease_id,
    mountAccessor: r.mount_accessor,
    secretType: r.secret_type,
    data: keyring.openJson<JsonObject>(r.data, aad.intent(r.id)),
    createdAt: r.created_at,
  };
}

export interface EventRow {
  sequence: number;
  type: LeaseEventType;
  lease_id: string;
  time: number;
  expire_time: number | null;
  detail: string | null;
}

export function eventRecord(r: EventRow): LeaseEventRecord {
  return { sequence: r.sequence, type: r.type, leaseId: r.lease_id, time: r.time, expireTime: r.expire_time, detail: r.detail };
}

export interface MountRow {
  path: string;
  accessor: string;
  type: string;
  description: string;
  default_ttl: number;
  max_ttl: number;
  created_at: number;
}

export function mountRecord(r: MountRow): MountRecord {
  return {
    path: r.path,
    accessor: r.accessor,
    type: r.type,
    description: r.description,
    defaultTtlSeconds: r.default_ttl,
    maxTtlSeconds: r.max_ttl,
    createdAt: r.created_at,
  };
}

export interface TokenRow {
  accessor: string;
  policies: string;
  display_name: string;
  parent_accessor: string | null;
  created_at: number;
  expire_time: number | null;
  ttl: number;
  max_expire_time: number | null;
  renewable: SqlBool;
  num_uses: number;
  uses_left: number;
  meta: string;
  bound_cidrs: string;
}

/** Token columns (the hash is looked up, never read back). */
export const TOKEN_COLUMNS =
  "accessor, policies, display_name, parent_accessor, created_at, expire_time, ttl, max_expire_time, renewable, num_uses, uses_left, meta, bound_cidrs";

const policyNames = z.array(z.string());
const stringMap = z.record(z.string(), z.string());

export function tokenRecord(r: TokenRow): TokenRecord {
  return {
    accessor: r.accessor,
    policies: policyNames.parse(JSON.parse(r.policies)),
    displayName: r.display_name,
    parentAccessor: r.parent_accessor,
    createdAt: r.created_at,
    expireTime: r.expire_time,
    ttlSeconds: r.ttl,
    maxExpireTime: r.max_expire_time,
    renewable: bool(r.renewable),
    numUses: r.num_uses,
    usesLeft: r.uses_left,
    meta: stringMap.parse(JSON.parse(r.meta)),
    boundCidrs: policyNames.parse(JSON.parse(r.bound_cidrs)),
  };
}

/** The token's JSON columns as stored. */
export function tokenJsonColumns(token: TokenRecord): { policies: string; meta: string; boundCidrs: string } {
  return { policies: JSON.stringify(token.policies), meta: JSON.stringify(token.meta), boundCidrs: JSON.stringify(token.boundCidrs) };
}

export interface JobRow {
  id: string;
  prefix: string;
  force: SqlBool;
  enqueue: SqlBool;
  cursor: string | null;
  created_at: number;
  done_at: number | null;
  matched: number;
  revoked: number;
  failed: number;
}

export function jobRecord(r: JobRow): RevocationJobRecord {
  return {
    id: r.id,
    prefix: r.prefix,
    force: bool(r.force),
    enqueue: bool(r.enqueue),
    cursor: r.cursor,
    createdAt: r.created_at,
    doneAt: r.done_at,
    matched: r.matched,
    revoked: r.revoked,
    failed: r.failed,
  };
}

export interface PolicyRow {
  name: string;
  text: string;
  updated_at: number;
}

export function policyRecord(r: PolicyRow): PolicyRecord {
  return { name: r.name, text: r.text, updatedAt: r.updated_at };
}

const quotaConfig = z.object({ path: z.string(), rate: z.number(), intervalSeconds: z.number(), perToken: z.boolean() });

/** A quota is stored as its name and the rest as JSON. */
export function quotaRecord(name: string, config: string): QuotaRecord {
  return { ...quotaConfig.parse(JSON.parse(config)), name };
}

export function quotaConfigJson(quota: QuotaRecord): string {
  const { name: _name, ...config } = quota;
  return JSON.stringify(config);
}

const auditDeviceConfig = z.object({ type: z.string(), description: z.string(), options: stringMap });

/** An audit device is stored as its path and the rest, sealed. */
export function auditDeviceRecord(path: string, sealedConfig: Buffer, keyring: Keyring): AuditDeviceRecord {
  return { ...auditDeviceConfig.parse(keyring.openJson<unknown>(sealedConfig, aad.auditDevice(path))), path };
}

export function sealAuditDeviceConfig(device: AuditDeviceRecord, keyring: Keyring): Buffer {
  const { path, ...config } = device;
  return keyring.sealJson(config, aad.auditDevice(path));
}

// --- Lease change hooks.

/**
 * Who wants to know that a lease change committed (the WatchLeases feed). A
 * store calls emit() after every commit that wrote leases or lease events;
 * listeners run once per turn of the event loop however many commits there
 * were, after the committing code has finished, so a listener never runs
 * inside a store operation.
 */
export class LeaseChangeHooks {
  private readonly listeners = new Set<() => void>();
  private pending = false;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  emit(): void {
    if (this.pending || this.listeners.size === 0) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      for (const listener of [...this.listeners]) listener();
    });
  }
}
