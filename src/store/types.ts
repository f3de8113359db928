// The store's interface: everything Lessor keeps, in narrow, intention-named
// operations. Callers never see SQL or better-sqlite3, and nothing here
// assumes SQLite, so a PostgreSQL store can implement the same interface.
// Secret values cross this interface in plaintext; the store seals them.

import type { JsonObject, JsonValue } from "../util/json.js";

export type { JsonObject, JsonValue };

export interface MountRecord {
  /** With trailing slash: "aws/". */
  path: string;
  accessor: string;
  type: string;
  description: string;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  createdAt: number;
}

export type LeaseState = "active" | "revoking" | "revoked" | "irrevocable";

export interface LeaseRecord {
  id: string;
  mountAccessor: string;
  /** Which of the engine's secret kinds, e.g. "access_keys". */
  secretType: string;
  /** What revoke needs (IAM user name, key id); never the secret itself. */
  internal: JsonObject;
  issueTime: number;
  expireTime: number;
  maxExpireTime: number;
  /** The duration it was issued with, in seconds (renewing with no increment renews by it); null on leases recorded before it was kept. */
  ttlSeconds: number | null;
  lastRenewalTime: number | null;
  renewable: boolean;
  state: LeaseState;
  /** Failed revocation attempts. */
  attempts: number;
  nextAttemptTime: number | null;
  lastError: string | null;
  tokenAccessor: string | null;
  revokeTime: number | null;
}

/** A lease about to be recorded, before any revocation bookkeeping. */
export type NewLease = Pick<
  LeaseRecord,
  "id" | "mountAccessor" | "secretType" | "internal" | "issueTime" | "expireTime" | "maxExpireTime" | "renewable" | "tokenAccessor"
> & { ttlSeconds: number };

/** External work begun but not yet covered by a lease (see leases/manager). */
export interface IntentRecord {
  id: string;
  leaseId: string;
  mountAccessor: string;
  secretType: string;
  data: JsonObject;
  createdAt: number;
}

export interface TokenRecord {
  accessor: string;
  policies: string[];
  displayName: string;
  parentAccessor: string | null;
  createdAt: number;
  /** null: never expires (root). */
  expireTime: number | null;
  ttlSeconds: number;
  maxExpireTime: number | null;
  renewable: boolean;
  /** 0: unlimited. */
  numUses: number;
  usesLeft: number;
  meta: Record<string, string>;
  /** CIDR blocks the token may be used from; empty for anywhere. */
  boundCidrs: string[];
}

export interface MountStore {
  list(): Promise<MountRecord[]>;
  insert(mount: MountRecord): Promise<void>;
  /** Removes the mount and every engine entry under it. */
  delete(path: string): Promise<void>;
}

/** Per-mount key/value storage handed to engines (values sealed). */
export interface EngineEntryStore {
  get(mountAccessor: string, key: string): Promise<JsonValue | undefined>;
  put(mountAccessor: string, key: string, value: JsonValue): Promise<void>;
  delete(mountAccessor: string, key: string): Promise<boolean>;
  /** Keys directly under prefix: "a/b" → "b"; "a/c/d" → "c/". */
  list(mountAccessor: string, prefix: string): Promise<string[]>;
}

export type LeaseEventType = "created" | "renewed" | "revoked" | "expired" | "irrevocable" | "force_revoked";

export interface LeaseEventRecord {
  sequence: number;
  type: LeaseEventType;
  leaseId: string;
  time: number;
  expireTime: number | null;
  detail: string | null;
}

/** How a lease came to be revoked (for its event). */
export type RevokeReason = "revoked" | "expired" | "force_revoked";

export interface LeasePage {
  leases: LeaseRecord[];
  /** Id to continue after, or null at the end. */
  next: string | null;
}

export interface LeaseStore {
  get(id: string): Promise<LeaseRecord | undefined>;
  /**
   * Records the lease and ends its intent in one transaction. Returns false,
   * recording nothing, when the intent was meanwhile claimed by a rollback.
   */
  insertFromIntent(lease: NewLease, intentId: string | null): Promise<boolean>;
  /** Ids of leases in the given states whose id starts with prefix, at most limit. */
  idsWithPrefix(prefix: string, states: LeaseState[], limit: number): Promise<string[]>;
  /**
   * Leases whose expiry or next retry is due at `now`, oldest first; with
   * `skipMounts`, none of those mounts' (the scheduler has enough of theirs).
   */
  due(now: number, limit: number, skipMounts?: readonly string[]): Promise<LeaseRecord[]>;
  /** Earliest time any lease will be due, or null. */
  nextDueTime(): Promise<number | null>;
  markRevoked(id: string, now: number, reason: RevokeReason): Promise<void>;
  recordRevokeFailure(id: string, error: string, nextAttemptTime: number | null, irrevocable: boolean): Promise<void>;
  renew(id: string, expireTime: number, now: number): Promise<void>;
  /** Leases whose id starts with prefix, ordered by id, after `after`. */
  page(prefix: string, after: string | null, limit: number): Promise<LeasePage>;
  countByState(): Promise<Record<LeaseState, number>>;
  /** Leases whose revocation is due at `now` (expired, queued or due for a retry) and not yet done: the expiry backlog. */
  countDue(now: number): Promise<number>;
  /**
   * Takes a lease for one revocation attempt: active|revoking (and irrevocable,
   * unless dueOnly) → revoking, next attempt at nextAttemptTime (if this process
   * dies during the attempt, that is when it is retried). With dueOnly, only
   * when its due time has come, so a lease renewed or taken by another worker
   * since it was read is left alone. Returns the failed attempts so far, or
   * null when the lease was not taken.
   */
  claimRevocation(id: string, now: number, nextAttemptTime: number, dueOnly: boolean): Promise<number | null>;
  /** active|revoking|irrevocable → revoking, due at once (the scheduler revokes it). False if revoked or absent. */
  enqueueRevocation(id: string, now: number): Promise<boolean>;
  /** Ends a lease without revoking its secret (event force_revoked), noting why. False if already revoked or absent. */
  forceRevoke(id: string, now: number, note: string): Promise<boolean>;
  /** Revoking leases whose next attempt is due at `now`, oldest first (expiry paused: only decided revocations run). */
  dueRevocations(now: number, limit: number): Promise<LeaseRecord[]>;
  /** As page(), only leases in `state`. */
  pageInState(prefix: string, state: LeaseState, after: string | null, limit: number): Promise<LeasePage>;
  /** State and failed attempts of the given leases; absent ids are left out. */
  states(ids: readonly string[]): Promise<LeaseStateRow[]>;
  /**
   * One step of tidying, over at most `limit` leases after `after` (by id):
   * due times made to agree with states, revoking leases with no next attempt
   * made due at `now`, live leases of mounts not in `liveMounts` marked
   * irrevocable with `orphanError`.
   */
  tidyStep(after: string | null, limit: number, now: number, liveMounts: ReadonlySet<string>, orphanError: string): Promise<TidyStep>;
  /** Deletes at most `limit` revoked leases revoked before `before`; returns how many. */
  purgeRevoked(before: number, limit: number): Promise<number>;
}

export interface LeaseStateRow {
  id: string;
  state: LeaseState;
  attempts: number;
}

export interface TidyStep {
  /** Leases whose due time disagreed with their state. */
  repaired: number;
  /** Revoking leases that had no next attempt. */
  rescheduled: number;
  /** Live leases whose mount is gone, now irrevocable. */
  orphaned: number;
  /** Id to continue after, or null at the end. */
  next: string | null;
}

/** A revoke-prefix in progress or done (see leases/prefix-jobs). */
export interface RevocationJobRecord {
  id: string;
  prefix: string;
  force: boolean;
  /** Mark only; the scheduler revokes (nobody waits for each batch). */
  enqueue: boolean;
  /** Last lease id walked over, or null before the first batch. */
  cursor: string | null;
  createdAt: number;
  doneAt: number | null;
  matched: number;
  revoked: number;
  failed: number;
}

/** The leases one batch of a revoke-prefix job took. */
export interface PrefixBatch {
  /** Ids marked revoking (with force: dropped), with their failed attempts before. */
  leases: LeaseStateRow[];
  /** The walk reached the end of the prefix. */
  done: boolean;
}

export interface RevocationJobStore {
  create(job: Pick<RevocationJobRecord, "id" | "prefix" | "force" | "enqueue" | "createdAt">): Promise<void>;
  get(id: string): Promise<RevocationJobRecord | undefined>;
  /** Jobs not finished yet (resumed at start-up), oldest first. */
  unfinished(): Promise<RevocationJobRecord[]>;
  /**
   * In one transaction: takes the next `limit` leases after the job's cursor
   * under its prefix, marks the live ones revoking and due at `dueTime` (with
   * force: revoked, event force_revoked, noting `forceNote`), and moves the
   * cursor past them.
   */
  markBatch(id: string, now: number, dueTime: number, limit: number, forceNote: string): Promise<PrefixBatch>;
  /** Adds to the job's revoked and failed counts. */
  addOutcomes(id: string, revoked: number, failed: number): Promise<void>;
  finish(id: string, now: number): Promise<void>;
  /** Forgets jobs finished before `before`; returns how many. */
  purgeFinished(before: number): Promise<number>;
}

export interface LeaseEventStore {
  /** Events after `sequence` whose lease id starts with prefix, oldest first. */
  after(sequence: number, prefix: string, limit: number): Promise<LeaseEventRecord[]>;
  /** Sequence number of the newest event, 0 when there are none. */
  latestSequence(): Promise<number>;
  /** Forgets events older than `time`; returns how many. */
  prune(time: number): Promise<number>;
}

export interface IntentStore {
  insert(intent: IntentRecord): Promise<void>;
  /** Takes the intent for a rollback; false if a lease or another rollback has it. */
  claim(id: string, now: number, staleClaimBefore: number): Promise<boolean>;
  /** Gives a claimed intent back (its rollback failed; try again later). */
  release(id: string): Promise<void>;
  delete(id: string): Promise<void>;
  /** Intents created at or before `time`, oldest first. */
  olderThan(time: number, limit: number): Promise<IntentRecord[]>;
  /** Whether an intent (claimed or not) exists for this lease id. */
  existsForLease(leaseId: string): Promise<boolean>;
}

export interface TokenStore {
  insert(hash: Buffer, token: TokenRecord): Promise<void>;
  getByHash(hash: Buffer): Promise<TokenRecord | undefined>;
  getByAccessor(accessor: string): Promise<TokenRecord | undefined>;
  /** Counts one use; returns the uses left, or -1 when none were left. */
  consumeUse(accessor: string): Promise<number>;
  delete(accessor: string): Promise<void>;
  /** Whether any token exists (one indexed row read: it runs at every start). */
  any(): Promise<boolean>;
}

export interface Store {
  readonly mounts: MountStore;
  readonly entries: EngineEntryStore;
  readonly leases: LeaseStore;
  readonly events: LeaseEventStore;
  readonly intents: IntentStore;
  readonly tokens: TokenStore;
  readonly policies: PolicyStore;
  readonly quotas: QuotaStore;
  readonly auditDevices: AuditDeviceStore;
  readonly settings: SealedSettingStore;
  readonly tokenTree: TokenTreeStore;
  readonly sealed: SealedDataStore;
  readonly jobs: RevocationJobStore;
  /**
   * Present when several replicas share this store (PostgreSQL); absent when
   * one process owns it (SQLite), so single-process shortcuts stay safe there.
   */
  readonly cluster?: ClusterStore;
  /**
   * Calls `listener` after each commit that wrote leases or lease events,
   * whoever made it through this store (writes by other processes sharing
   * the database are not seen: poll for those). Returns the unsubscribe.
   */
  onLeaseChange(listener: () => void): () => void;
  close(): Promise<void>;
}

/** What replicas sharing one store need to know of each other. */
export interface ClusterStore {
  /**
   * How long a claimed revocation stays reserved to its replica: an attempt
   * must end before it, or another replica may take the lease up meanwhile.
   */
  readonly revokeClaimTimeoutMs: number;
  /** Records this replica as alive at `now` (called every few seconds). */
  heartbeat(replicaId: string, now: number): Promise<void>;
  /** Ids of the other replicas whose last heartbeat is at or after `since`. */
  otherLiveReplicas(replicaId: string, since: number): Promise<string[]>;
  /** Forgets this replica (a clean stop). */
  leave(replicaId: string): Promise<void>;
  /**
   * A number that changes whenever shared configuration changes (mounts,
   * policies, quotas, audit devices): the store bumps it in the same
   * transaction as the change, so a replica that polls it and sees a new
   * value reloads its copies.
   */
  configVersion(): Promise<number>;
  /**
   * Intents whose writing process has ended (killed mid-issuance), oldest
   * first, at most `limit`: their external work can be rolled back at once,
   * without waiting for the intent timeout.
   */
  orphanedIntents(limit: number): Promise<IntentRecord[]>;
}

// --- Security: policies, quotas, audit devices, sealed settings, token tree, key rotation.

export interface PolicyRecord {
  /** Lower-case name. */
  name: string;
  /** As written (HCL or JSON). */
  text: string;
  updatedAt: number;
}

export interface PolicyStore {
  get(name: string): Promise<PolicyRecord | undefined>;
  list(): Promise<PolicyRecord[]>;
  put(policy: PolicyRecord): Promise<void>;
  delete(name: string): Promise<boolean>;
}

export interface QuotaRecord {
  name: string;
  /** Path prefix; "" for every path. */
  path: string;
  rate: number;
  intervalSeconds: number;
  perToken: boolean;
}

export interface QuotaStore {
  list(): Promise<QuotaRecord[]>;
  put(quota: QuotaRecord): Promise<void>;
  delete(name: string): Promise<boolean>;
}

export interface AuditDeviceRecord {
  /** With trailing slash: "file/". */
  path: string;
  type: string;
  description: string;
  options: Record<string, string>;
}

/** Audit device configuration (sealed at rest). */
export interface AuditDeviceStore {
  list(): Promise<AuditDeviceRecord[]>;
  insert(device: AuditDeviceRecord): Promise<void>;
  delete(path: string): Promise<boolean>;
}

/** Small secret values of the installation itself (the audit HMAC key), sealed. */
export interface SealedSettingStore {
  get(name: string): Promise<Buffer | undefined>;
  /** Stores the value unless one exists; returns the value that is stored. */
  putIfAbsent(name: string, value: Buffer): Promise<Buffer>;
}

/** The token tree and token lifetimes (beyond TokenStore's lookups). */
export interface TokenTreeStore {
  children(parentAccessor: string): Promise<string[]>;
  /** Makes the children of a token orphans (revoke -mode=orphan). */
  orphanChildren(parentAccessor: string): Promise<number>;
  setExpireTime(accessor: string, expireTime: number): Promise<void>;
  /** Tokens past their expiry or out of uses at `now`, at most limit. */
  dead(now: number, limit: number): Promise<string[]>;
  /** Lease ids a token created that are not yet revoked, after `after`, at most limit (keyset paging). */
  leaseIds(accessor: string, after: string | null, limit: number): Promise<string[]>;
}

export interface KeyUsage {
  /** Key id → sealed values that use it. */
  byKey: Record<number, number>;
}

/** Re-encryption for key rotation. */
export interface SealedDataStore {
  usage(): Promise<KeyUsage>;
  /** Re-seals up to `limit` values not sealed with the active key; returns how many. */
  resealBatch(limit: number): Promise<number>;
}
