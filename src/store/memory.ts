// An in-memory store, FOR TESTS ONLY. It implements the whole Store interface
// with the semantics of the SQLite and PostgreSQL stores (the conformance
// suite, test/store/, runs the same cases on all three), so the lease
// manager, the expiry scheduler and their friends can be tested in
// milliseconds without a file, a database or a process. Nothing survives the
// process, so it is never selectable from the server's flags (open.ts knows
// only SQLite and PostgreSQL); apart from that it refuses nothing the others
// accept.
//
// Like the others it seals secret values (same keyring, same AAD), so a test
// can check that nothing is kept in clear (storedBytes). Helpers are #private,
// so an area's visible methods are exactly its interface's. Each operation runs
// alone on a later turn of the event loop, as a real store's I/O would, and
// is a transaction: its changes are journalled and undone if it throws, so a
// write either fully happens or not at all.
import { Keyring } from "./encryption.js";
import {
  aad,
  auditDeviceRecord,
  dueRepair,
  foldKeys,
  KEY_CHECK,
  LeaseChangeHooks,
  leasePage,
  quotaConfigJson,
  quotaRecord,
  sealAuditDeviceConfig,
  sealKeyCheck,
  settingKey,
  zeroStateCounts,
} from "./common.js";
import type {
  AuditDeviceRecord,
  AuditDeviceStore,
  EngineEntryStore,
  IntentRecord,
  IntentStore,
  JsonObject,
  JsonValue,
  KeyUsage,
  LeaseEventRecord,
  LeaseEventStore,
  LeaseEventType,
  LeasePage,
  LeaseRecord,
  LeaseState,
  LeaseStateRow,
  LeaseStore,
  MountRecord,
  MountStore,
  NewLease,
  PolicyRecord,
  PolicyStore,
  PrefixBatch,
  QuotaRecord,
  QuotaStore,
  RevocationJobRecord,
  RevocationJobStore,
  RevokeReason,
  SealedDataStore,
  SealedSettingStore,
  Store,
  TidyStep,
  TokenRecord,
  TokenStore,
  TokenTreeStore,
} from "./types.js";

export interface MemoryStoreOptions {
  /** Seals secret values (default: a fresh key). */
  keyring?: Keyring;
}

/** Opens an empty in-memory store. For tests only (see the top of this file). */
export function openMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options.keyring ?? Keyring.generate());
}

// --- Tables with an undo journal.

/** Orders strings as SQLite and PostgreSQL (COLLATE "C") do: by code point, not UTF-16 unit. */
function compareText(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Orders by a number (nulls last), then by id: the order a SQL index on (number) would give, made total. */
function byNumberThenId<T extends { id: string }>(value: (row: T) => number | null): (a: T, b: T) => number {
  return (a, b) => (value(a) ?? Infinity) - (value(b) ?? Infinity) || compareText(a.id, b.id);
}

/** The transaction under way: every change records how to undo it. */
class Journal {
  private undo: Array<() => void> | undefined;
  private changedLeases = false;

  constructor(private readonly hooks: LeaseChangeHooks) {}

  /** Runs work as one transaction: all its changes, or (if it throws) none. */
  transact<T>(work: () => T): T {
    if (this.undo) throw new Error("memory store: transactions do not nest");
    this.undo = [];
    this.changedLeases = false;
    try {
      const value = work();
      if (this.changedLeases) this.hooks.emit();
      return value;
    } catch (err) {
      for (const undo of this.undo.reverse()) undo();
      throw err;
    } finally {
      this.undo = undefined;
    }
  }

  record(undo: () => void, leaseData: boolean): void {
    if (!this.undo) throw new Error("memory store: a change outside a transaction");
    this.undo.push(undo);
    if (leaseData) this.changedLeases = true;
  }
}

/** A table: rows by primary key. Rows are replaced, never changed in place, so a row handed out stays as it was. */
class Table<V> {
  private readonly rows = new Map<string, Readonly<V>>();

  constructor(
    private readonly journal: Journal,
    private readonly name: string,
    /** Changes here are lease changes (the hooks are told). */
    private readonly leaseData = false,
  ) {}

  get(key: string): Readonly<V> | undefined {
    return this.rows.get(key);
  }

  values(): Array<Readonly<V>> {
    return [...this.rows.values()];
  }

  /** Adds a row; a key already present is refused, as a primary key is. */
  insert(key: string, row: V): void {
    if (this.rows.has(key)) throw new Error(`memory store: UNIQUE constraint failed: ${this.name} (${key})`);
    this.set(key, row);
  }

  set(key: string, row: V): void {
    const before = this.rows.get(key);
    this.journal.record(() => (before === undefined ? this.rows.delete(key) : this.rows.set(key, before)), this.leaseData);
    this.rows.set(key, row);
  }

  /** Replaces a row with `patch` applied; false when there is none. */
  update(key: string, patch: Partial<V>): boolean {
    const row = this.rows.get(key);
    if (row === undefined) return false;
    this.set(key, { ...row, ...patch });
    return true;
  }

  delete(key: string): boolean {
    const before = this.rows.get(key);
    if (before === undefined) return false;
    this.journal.record(() => this.rows.set(key, before), this.leaseData);
    this.rows.delete(key);
    return true;
  }
}

// --- Rows (as the SQL schemas keep them, sealed columns sealed).

interface LeaseRow extends Omit<LeaseRecord, "internal"> {
  internal: Buffer;
  dueTime: number | null;
}

interface IntentRow extends Omit<IntentRecord, "data"> {
  data: Buffer;
  claimedAt: number | null;
}

interface TokenRow extends TokenRecord {
  hash: string;
}

const LIVE_STATES: readonly LeaseState[] = ["active", "revoking", "irrevocable"];

export class MemoryStore implements Store {
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
  readonly onLeaseChange: (listener: () => void) => () => void;
  /** Everything stored, as one latin1 string (sealed values as their bytes): for "is anything kept in clear?". */
  readonly storedBytes: () => string;

  private closed = false;

  constructor(keyring: Keyring) {
    const hooks = new LeaseChangeHooks();
    this.onLeaseChange = (listener) => hooks.subscribe(listener);
    const journal = new Journal(hooks);
    const t: Tables = {
      journal,
      mounts: new Table(journal, "mounts"),
      entries: new Table(journal, "engine_entries"),
      leases: new Table(journal, "leases", true),
      events: new Table(journal, "lease_events", true),
      intents: new Table(journal, "intents"),
      tokens: new Table(journal, "tokens"),
      policies: new Table(journal, "policies"),
      quotas: new Table(journal, "quotas"),
      auditDevices: new Table(journal, "audit_devices"),
      meta: new Table(journal, "meta"),
      jobs: new Table(journal, "revocation_jobs"),
      sequence: { last: 0 },
    };
    journal.transact(() => t.meta.insert(KEY_CHECK, { key: KEY_CHECK, value: sealKeyCheck(keyring) }));
    // Every operation: on a later turn of the event loop, alone, as one transaction.
    const op = <T>(work: () => T): Promise<T> =>
      new Promise<T>((resolve, reject) =>
        setImmediate(() => {
          try {
            if (this.closed) throw new Error("memory store: the store is closed");
            resolve(journal.transact(work));
          } catch (err) {
            reject(err);
          }
        }),
      );
    const events = new MemoryEventWriter(t);
    this.mounts = new MemoryMounts(t, op);
    this.entries = new MemoryEntries(t, op, keyring);
    this.leases = new MemoryLeases(t, op, keyring, events);
    this.events = new MemoryEvents(t, op);
    this.intents = new MemoryIntents(t, op, keyring);
    this.tokens = new MemoryTokens(t, op);
    this.policies = new MemoryPolicies(t, op);
    this.quotas = new MemoryQuotas(t, op);
    this.auditDevices = new MemoryAuditDevices(t, op, keyring);
    this.settings = new MemorySettings(t, op, keyring);
    this.tokenTree = new MemoryTokenTree(t, op);
    this.sealed = new MemorySealedData(t, op, keyring);
    this.jobs = new MemoryRevocationJobs(t, op, events);
    this.storedBytes = () => dump(t);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

interface Tables {
  journal: Journal;
  mounts: Table<MountRecord>;
  entries: Table<{ mountAccessor: string; key: string; value: Buffer }>;
  leases: Table<LeaseRow>;
  events: Table<LeaseEventRecord>;
  intents: Table<IntentRow>;
  tokens: Table<TokenRow>;
  policies: Table<PolicyRecord>;
  quotas: Table<{ name: string; config: string }>;
  auditDevices: Table<{ path: string; config: Buffer }>;
  meta: Table<{ key: string; value: Buffer }>;
  jobs: Table<RevocationJobRecord>;
  /** Last lease event sequence number drawn (never reused, as AUTOINCREMENT). */
  sequence: { last: number };
}

type Op = <T>(work: () => T) => Promise<T>;

function dump(t: Tables): string {
  const parts: string[] = [];
  for (const table of [t.mounts, t.entries, t.leases, t.events, t.intents, t.tokens, t.policies, t.quotas, t.auditDevices, t.meta, t.jobs]) {
    for (const row of table.values() as Array<Record<string, unknown>>) {
      for (const value of Object.values(row)) parts.push(Buffer.isBuffer(value) ? value.toString("latin1") : JSON.stringify(value), "\t");
      parts.push("\n");
    }
  }
  return parts.join("");
}

class MemoryMounts implements MountStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
  ) {}

  list(): Promise<MountRecord[]> {
    return this.op(() => this.t.mounts.values().map((m) => ({ ...m })).sort((a, b) => compareText(a.path, b.path)));
  }

  insert(mount: MountRecord): Promise<void> {
    return this.op(() => {
      if (this.t.mounts.values().some((m) => m.accessor === mount.accessor)) throw new Error("memory store: UNIQUE constraint failed: mounts.accessor");
      this.t.mounts.insert(mount.path, { ...mount });
    });
  }

  delete(path: string): Promise<void> {
    return this.op(() => {
      const mount = this.t.mounts.get(path);
      if (!mount) return;
      this.t.mounts.delete(path);
      for (const e of this.t.entries.values()) if (e.mountAccessor === mount.accessor) this.t.entries.delete(entryKey(e.mountAccessor, e.key));
    });
  }
}

const entryKey = (mountAccessor: string, key: string): string => JSON.stringify([mountAccessor, key]);

class MemoryEntries implements EngineEntryStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
    private readonly keyring: Keyring,
  ) {}

  get(mountAccessor: string, key: string): Promise<JsonValue | undefined> {
    return this.op(() => {
      const row = this.t.entries.get(entryKey(mountAccessor, key));
      return row ? this.keyring.openJson<JsonValue>(row.value, aad.entry(mountAccessor, key)) : undefined;
    });
  }

  put(mountAccessor: string, key: string, value: JsonValue): Promise<void> {
    const sealed = this.keyring.sealJson(value, aad.entry(mountAccessor, key));
    return this.op(() => this.t.entries.set(entryKey(mountAccessor, key), { mountAccessor, key, value: sealed }));
  }

  delete(mountAccessor: string, key: string): Promise<boolean> {
    return this.op(() => this.t.entries.delete(entryKey(mountAccessor, key)));
  }

  list(mountAccessor: string, prefix: string): Promise<string[]> {
    return this.op(() =>
      foldKeys(
        this.t.entries
          .values()
          .filter((e) => e.mountAccessor === mountAccessor && e.key.startsWith(prefix))
          .map((e) => e.key),
        prefix,
      ),
    );
  }
}

/** Appends lease events (inside the operation that makes the change). */
class MemoryEventWriter {
  constructor(private readonly t: Tables) {}

  write(type: LeaseEventType, leaseId: string, time: number, expireTime: number | null = null, detail: string | null = null): void {
    const sequence = this.t.sequence;
    const before = sequence.last;
    this.t.journal.record(() => (sequence.last = before), true);
    sequence.last++;
    this.t.events.insert(String(sequence.last), { sequence: sequence.last, type, leaseId, time, expireTime, detail });
  }
}

class MemoryLeases implements LeaseStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
    private readonly keyring: Keyring,
    private readonly events: MemoryEventWriter,
  ) {}

  #record(row: LeaseRow): LeaseRecord {
    const { internal, dueTime: _dueTime, ...rest } = row;
    return { ...rest, internal: this.keyring.openJson<JsonObject>(internal, aad.lease(row.id)) };
  }

  /** Leases whose id starts with prefix (after `after`, when it is within the prefix), by id. */
  #under(prefix: string, after: string | null): LeaseRow[] {
    const from = after !== null && compareText(after, prefix) >= 0 ? after : null;
    return this.t.leases
      .values()
      .filter((l) => l.id.startsWith(prefix) && (from === null || compareText(l.id, from) > 0))
      .sort((a, b) => compareText(a.id, b.id));
  }

  get(id: string): Promise<LeaseRecord | undefined> {
    return this.op(() => {
      const row = this.t.leases.get(id);
      return row ? this.#record(row) : undefined;
    });
  }

  insertFromIntent(lease: NewLease, intentId: string | null): Promise<boolean> {
    const internal = this.keyring.sealJson(lease.internal, aad.lease(lease.id));
    return this.op(() => {
      if (intentId !== null) {
        const intent = this.t.intents.get(intentId);
        if (!intent || intent.claimedAt !== null) return false;
        this.t.intents.delete(intentId);
      }
      this.t.leases.insert(lease.id, {
        ...lease,
        internal,
        lastRenewalTime: null,
        state: "active",
        attempts: 0,
        nextAttemptTime: null,
        lastError: null,
        revokeTime: null,
        dueTime: lease.expireTime,
      });
      this.events.write("created", lease.id, lease.issueTime, lease.expireTime);
      return true;
    });
  }

  idsWithPrefix(prefix: string, states: LeaseState[], limit: number): Promise<string[]> {
    return this.op(() =>
      this.#under(prefix, null)
        .filter((l) => states.includes(l.state))
        .slice(0, limit)
        .map((l) => l.id),
    );
  }

  due(now: number, limit: number, skipMounts: readonly string[] = []): Promise<LeaseRecord[]> {
    const skip = new Set(skipMounts);
    return this.op(() => this.#dueRows(now, limit, (l) => !skip.has(l.mountAccessor)));
  }

  #dueRows(now: number, limit: number, which: (l: LeaseRow) => boolean): LeaseRecord[] {
    return this.t.leases
      .values()
      .filter((l) => l.dueTime !== null && l.dueTime <= now && which(l))
      .sort(byNumberThenId((l) => l.dueTime))
      .slice(0, limit)
      .map((l) => this.#record(l));
  }

  nextDueTime(): Promise<number | null> {
    return this.op(() => {
      const times = this.t.leases.values().flatMap((l) => (l.dueTime === null ? [] : [l.dueTime]));
      return times.length === 0 ? null : Math.min(...times);
    });
  }

  markRevoked(id: string, now: number, reason: RevokeReason): Promise<void> {
    return this.op(() => {
      const lease = this.t.leases.get(id);
      if (!lease || lease.state === "revoked") return;
      this.t.leases.update(id, { state: "revoked", dueTime: null, nextAttemptTime: null, revokeTime: now, lastError: null });
      this.events.write(reason, id, now);
    });
  }

  recordRevokeFailure(id: string, error: string, nextAttemptTime: number | null, irrevocable: boolean): Promise<void> {
    return this.op(() => {
      const lease = this.t.leases.get(id);
      if (!lease) return;
      this.t.leases.update(id, {
        attempts: lease.attempts + 1,
        lastError: error,
        nextAttemptTime,
        dueTime: nextAttemptTime,
        state: irrevocable ? "irrevocable" : lease.state,
      });
      if (irrevocable) this.events.write("irrevocable", id, Date.now(), null, error);
    });
  }

  renew(id: string, expireTime: number, now: number): Promise<void> {
    return this.op(() => {
      if (this.t.leases.get(id)?.state !== "active") return;
      this.t.leases.update(id, { expireTime, dueTime: expireTime, lastRenewalTime: now });
      this.events.write("renewed", id, now, expireTime);
    });
  }

  page(prefix: string, after: string | null, limit: number): Promise<LeasePage> {
    return this.op(() =>
      leasePage(
        this.#under(prefix, after)
          .slice(0, limit + 1)
          .map((l) => this.#record(l)),
        limit,
      ),
    );
  }

  countByState(): Promise<Record<LeaseState, number>> {
    return this.op(() => {
      const counts = zeroStateCounts();
      for (const l of this.t.leases.values()) counts[l.state]++;
      return counts;
    });
  }

  countDue(now: number): Promise<number> {
    return this.op(() => this.t.leases.values().filter((l) => l.dueTime !== null && l.dueTime <= now).length);
  }

  claimRevocation(id: string, now: number, nextAttemptTime: number, dueOnly: boolean): Promise<number | null> {
    return this.op(() => {
      const l = this.t.leases.get(id);
      if (!l) return null;
      const takes = dueOnly
        ? l.dueTime !== null && l.dueTime <= now && (l.state === "revoking" || (l.state === "active" && l.expireTime <= now))
        : LIVE_STATES.includes(l.state);
      if (!takes) return null;
      this.t.leases.update(id, { state: "revoking", dueTime: nextAttemptTime, nextAttemptTime });
      return l.attempts;
    });
  }

  enqueueRevocation(id: string, now: number): Promise<boolean> {
    return this.op(() => enqueue(this.t, id, now));
  }

  forceRevoke(id: string, now: number, note: string): Promise<boolean> {
    return this.op(() => forceOne(this.t, this.events, id, now, note));
  }

  dueRevocations(now: number, limit: number): Promise<LeaseRecord[]> {
    return this.op(() => this.#dueRows(now, limit, (l) => l.state === "revoking"));
  }

  pageInState(prefix: string, state: LeaseState, after: string | null, limit: number): Promise<LeasePage> {
    return this.op(() =>
      leasePage(
        this.#under(prefix, after)
          .filter((l) => l.state === state)
          .slice(0, limit + 1)
          .map((l) => this.#record(l)),
        limit,
      ),
    );
  }

  states(ids: readonly string[]): Promise<LeaseStateRow[]> {
    return this.op(() =>
      ids.flatMap((id) => {
        const l = this.t.leases.get(id);
        return l ? [{ id, state: l.state, attempts: l.attempts }] : [];
      }),
    );
  }

  tidyStep(after: string | null, limit: number, now: number, liveMounts: ReadonlySet<string>, orphanError: string): Promise<TidyStep> {
    return this.op(() => {
      const rows = this.t.leases
        .values()
        .filter((l) => compareText(l.id, after ?? "") > 0)
        .sort((a, b) => compareText(a.id, b.id))
        .slice(0, limit);
      const step: TidyStep = { repaired: 0, rescheduled: 0, orphaned: 0, next: null };
      for (const row of rows) {
        if ((row.state === "active" || row.state === "revoking") && !liveMounts.has(row.mountAccessor)) {
          this.t.leases.update(row.id, { state: "irrevocable", dueTime: null, nextAttemptTime: null, lastError: orphanError });
          this.events.write("irrevocable", row.id, now, null, orphanError);
          step.orphaned++;
          continue;
        }
        const fix = dueRepair(row, now);
        if (!fix) continue;
        this.t.leases.update(row.id, { dueTime: fix.due, nextAttemptTime: fix.next });
        if (fix.rescheduled) step.rescheduled++;
        else step.repaired++;
      }
      const last = rows[rows.length - 1];
      step.next = rows.length === limit && last ? last.id : null;
      return step;
    });
  }

  purgeRevoked(before: number, limit: number): Promise<number> {
    return this.op(() => {
      const gone = this.t.leases
        .values()
        .filter((l) => l.state === "revoked" && l.revokeTime !== null && l.revokeTime < before)
        .slice(0, limit);
      for (const l of gone) this.t.leases.delete(l.id);
      return gone.length;
    });
  }
}

/** A live lease → revoking, due at `due`. */
function enqueue(t: Tables, id: string, due: number): boolean {
  const l = t.leases.get(id);
  if (!l || !LIVE_STATES.includes(l.state)) return false;
  return t.leases.update(id, { state: "revoking", dueTime: due, nextAttemptTime: due });
}

/** A lease not yet revoked → revoked without revoking its secret, noting why; event force_revoked. */
function forceOne(t: Tables, events: MemoryEventWriter, id: string, now: number, note: string): boolean {
  const l = t.leases.get(id);
  if (!l || l.state === "revoked") return false;
  t.leases.update(id, { state: "revoked", dueTime: null, nextAttemptTime: null, revokeTime: now, lastError: note });
  events.write("force_revoked", id, now);
  return true;
}

class MemoryEvents implements LeaseEventStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
  ) {}

  after(sequence: number, prefix: string, limit: number): Promise<LeaseEventRecord[]> {
    return this.op(() =>
      this.t.events
        .values()
        .filter((e) => e.sequence > sequence && e.leaseId.startsWith(prefix))
        .sort((a, b) => a.sequence - b.sequence)
        .slice(0, limit)
        .map((e) => ({ ...e })),
    );
  }

  latestSequence(): Promise<number> {
    return this.op(() => Math.max(0, ...this.t.events.values().map((e) => e.sequence)));
  }

  prune(time: number): Promise<number> {
    return this.op(() => {
      const old = this.t.events.values().filter((e) => e.time < time);
      for (const e of old) this.t.events.delete(String(e.sequence));
      return old.length;
    });
  }
}

class MemoryIntents implements IntentStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
    private readonly keyring: Keyring,
  ) {}

  insert(intent: IntentRecord): Promise<void> {
    const data = this.keyring.sealJson(intent.data, aad.intent(intent.id));
    return this.op(() => this.t.intents.insert(intent.id, { ...intent, data, claimedAt: null }));
  }

  claim(id: string, now: number, staleClaimBefore: number): Promise<boolean> {
    return this.op(() => {
      const i = this.t.intents.get(id);
      if (!i || (i.claimedAt !== null && i.claimedAt > staleClaimBefore)) return false;
      return this.t.intents.update(id, { claimedAt: now });
    });
  }

  release(id: string): Promise<void> {
    return this.op(() => void this.t.intents.update(id, { claimedAt: null }));
  }

  delete(id: string): Promise<void> {
    return this.op(() => void this.t.intents.delete(id));
  }

  olderThan(time: number, limit: number): Promise<IntentRecord[]> {
    return this.op(() =>
      this.t.intents
        .values()
        .filter((i) => i.createdAt <= time)
        .sort(byNumberThenId((i) => i.createdAt))
        .slice(0, limit)
        .map(({ claimedAt: _claimedAt, data, ...rest }) => ({ ...rest, data: this.keyring.openJson<JsonObject>(data, aad.intent(rest.id)) })),
    );
  }

  existsForLease(leaseId: string): Promise<boolean> {
    return this.op(() => this.t.intents.values().some((i) => i.leaseId === leaseId));
  }
}

function tokenRecord(row: TokenRow): TokenRecord {
  const { hash: _hash, ...token } = row;
  return { ...token, policies: [...token.policies], meta: { ...token.meta } };
}

class MemoryTokens implements TokenStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
  ) {}

  insert(hash: Buffer, token: TokenRecord): Promise<void> {
    return this.op(() => {
      const hex = hash.toString("hex");
      if (this.t.tokens.values().some((r) => r.hash === hex)) throw new Error("memory store: UNIQUE constraint failed: tokens.hash");
      this.t.tokens.insert(token.accessor, { ...token, policies: [...token.policies], meta: { ...token.meta }, boundCidrs: [...token.boundCidrs], hash: hex });
    });
  }

  getByHash(hash: Buffer): Promise<TokenRecord | undefined> {
    const hex = hash.toString("hex");
    return this.op(() => {
      const row = this.t.tokens.values().find((r) => r.hash === hex);
      return row ? tokenRecord(row) : undefined;
    });
  }

  getByAccessor(accessor: string): Promise<TokenRecord | undefined> {
    return this.op(() => {
      const row = this.t.tokens.get(accessor);
      return row ? tokenRecord(row) : undefined;
    });
  }

  consumeUse(accessor: string): Promise<number> {
    return this.op(() => {
      const row = this.t.tokens.get(accessor);
      if (!row || row.usesLeft <= 0) return -1;
      this.t.tokens.update(accessor, { usesLeft: row.usesLeft - 1 });
      return row.usesLeft - 1;
    });
  }

  delete(accessor: string): Promise<void> {
    return this.op(() => void this.t.tokens.delete(accessor));
  }

  any(): Promise<boolean> {
    return this.op(() => this.t.tokens.values().length > 0);
  }
}

class MemoryTokenTree implements TokenTreeStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
  ) {}

  children(parentAccessor: string): Promise<string[]> {
    return this.op(() => this.t.tokens.values().filter((r) => r.parentAccessor === parentAccessor).map((r) => r.accessor));
  }

  orphanChildren(parentAccessor: string): Promise<number> {
    return this.op(() => {
      const children = this.t.tokens.values().filter((r) => r.parentAccessor === parentAccessor);
      for (const child of children) this.t.tokens.update(child.accessor, { parentAccessor: null });
      return children.length;
    });
  }

  setExpireTime(accessor: string, expireTime: number): Promise<void> {
    return this.op(() => void this.t.tokens.update(accessor, { expireTime }));
  }

  dead(now: number, limit: number): Promise<string[]> {
    return this.op(() => {
      const tokens = this.t.tokens.values();
      const expired = tokens
        .filter((r) => r.expireTime !== null && r.expireTime <= now)
        .sort((a, b) => (a.expireTime ?? 0) - (b.expireTime ?? 0))
        .slice(0, limit);
      const usedUp = tokens.filter((r) => r.numUses > 0 && r.usesLeft === 0).slice(0, limit);
      return [...new Set([...expired, ...usedUp].map((r) => r.accessor))].slice(0, limit);
    });
  }

  leaseIds(accessor: string, after: string | null, limit: number): Promise<string[]> {
    return this.op(() =>
      this.t.leases
        .values()
        .filter((l) => l.tokenAccessor === accessor && l.state !== "revoked" && (after === null || compareText(l.id, after) > 0))
        .sort((a, b) => compareText(a.id, b.id))
        .slice(0, limit)
        .map((l) => l.id),
    );
  }
}

class MemoryPolicies implements PolicyStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
  ) {}

  get(name: string): Promise<PolicyRecord | undefined> {
    return this.op(() => {
      const row = this.t.policies.get(name);
      return row ? { ...row } : undefined;
    });
  }

  list(): Promise<PolicyRecord[]> {
    return this.op(() => this.t.policies.values().map((p) => ({ ...p })).sort((a, b) => compareText(a.name, b.name)));
  }

  put(policy: PolicyRecord): Promise<void> {
    return this.op(() => this.t.policies.set(policy.name, { ...policy }));
  }

  delete(name: string): Promise<boolean> {
    return this.op(() => this.t.policies.delete(name));
  }
}

class MemoryQuotas implements QuotaStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
  ) {}

  list(): Promise<QuotaRecord[]> {
    return this.op(() =>
      this.t.quotas
        .values()
        .sort((a, b) => compareText(a.name, b.name))
        .map((q) => quotaRecord(q.name, q.config)),
    );
  }

  put(quota: QuotaRecord): Promise<void> {
    return this.op(() => this.t.quotas.set(quota.name, { name: quota.name, config: quotaConfigJson(quota) }));
  }

  delete(name: string): Promise<boolean> {
    return this.op(() => this.t.quotas.delete(name));
  }
}

class MemoryAuditDevices implements AuditDeviceStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
    private readonly keyring: Keyring,
  ) {}

  list(): Promise<AuditDeviceRecord[]> {
    return this.op(() =>
      this.t.auditDevices
        .values()
        .sort((a, b) => compareText(a.path, b.path))
        .map((d) => auditDeviceRecord(d.path, d.config, this.keyring)),
    );
  }

  insert(device: AuditDeviceRecord): Promise<void> {
    const config = sealAuditDeviceConfig(device, this.keyring);
    return this.op(() => this.t.auditDevices.insert(device.path, { path: device.path, config }));
  }

  delete(path: string): Promise<boolean> {
    return this.op(() => this.t.auditDevices.delete(path));
  }
}

class MemorySettings implements SealedSettingStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
    private readonly keyring: Keyring,
  ) {}

  #read(name: string): Buffer | undefined {
    const key = settingKey(name);
    const row = this.t.meta.get(key);
    return row ? this.keyring.open(row.value, aad.meta(key)) : undefined;
  }

  get(name: string): Promise<Buffer | undefined> {
    return this.op(() => this.#read(name));
  }

  putIfAbsent(name: string, value: Buffer): Promise<Buffer> {
    const key = settingKey(name);
    const sealed = this.keyring.seal(value, aad.meta(key));
    return this.op(() => {
      if (!this.t.meta.get(key)) this.t.meta.insert(key, { key, value: sealed });
      return this.#read(name) as Buffer;
    });
  }
}

/** Where sealed values live, with how to read, bind and replace each. */
interface SealedPlace {
  value: Buffer;
  aad: string;
  replace(sealed: Buffer): void;
}

class MemorySealedData implements SealedDataStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
    private readonly keyring: Keyring,
  ) {}

  #places(): SealedPlace[] {
    const t = this.t;
    return [
      ...t.entries.values().map((e) => ({
        value: e.value,
        aad: aad.entry(e.mountAccessor, e.key),
        replace: (value: Buffer) => t.entries.update(entryKey(e.mountAccessor, e.key), { value }),
      })),
      ...t.leases.values().map((l) => ({ value: l.internal, aad: aad.lease(l.id), replace: (internal: Buffer) => t.leases.update(l.id, { internal }) })),
      ...t.intents.values().map((i) => ({ value: i.data, aad: aad.intent(i.id), replace: (data: Buffer) => t.intents.update(i.id, { data }) })),
      ...t.auditDevices
        .values()
        .map((d) => ({ value: d.config, aad: aad.auditDevice(d.path), replace: (config: Buffer) => t.auditDevices.update(d.path, { config }) })),
      ...t.meta.values().map((m) => ({ value: m.value, aad: aad.meta(m.key), replace: (value: Buffer) => t.meta.update(m.key, { value }) })),
    ];
  }

  usage(): Promise<KeyUsage> {
    return this.op(() => {
      const byKey: Record<number, number> = {};
      for (const place of this.#places()) {
        const id = Keyring.keyIdOf(place.value);
        byKey[id] = (byKey[id] ?? 0) + 1;
      }
      return { byKey };
    });
  }

  resealBatch(limit: number): Promise<number> {
    return this.op(() => {
      const old = this.#places()
        .filter((p) => Keyring.keyIdOf(p.value) !== this.keyring.activeId)
        .slice(0, limit);
      for (const place of old) place.replace(this.keyring.seal(this.keyring.open(place.value, place.aad), place.aad));
      return old.length;
    });
  }
}

class MemoryRevocationJobs implements RevocationJobStore {
  constructor(
    private readonly t: Tables,
    private readonly op: Op,
    private readonly events: MemoryEventWriter,
  ) {}

  create(job: Pick<RevocationJobRecord, "id" | "prefix" | "force" | "enqueue" | "createdAt">): Promise<void> {
    return this.op(() =>
      this.t.jobs.insert(job.id, {
        id: job.id,
        prefix: job.prefix,
        force: job.force,
        enqueue: job.enqueue,
        cursor: null,
        createdAt: job.createdAt,
        doneAt: null,
        matched: 0,
        revoked: 0,
        failed: 0,
      }),
    );
  }

  get(id: string): Promise<RevocationJobRecord | undefined> {
    return this.op(() => {
      const job = this.t.jobs.get(id);
      return job ? { ...job } : undefined;
    });
  }

  unfinished(): Promise<RevocationJobRecord[]> {
    return this.op(() =>
      this.t.jobs
        .values()
        .filter((j) => j.doneAt === null)
        .sort(byNumberThenId((j) => j.createdAt))
        .map((j) => ({ ...j })),
    );
  }

  markBatch(id: string, now: number, dueTime: number, limit: number, forceNote: string): Promise<PrefixBatch> {
    return this.op((): PrefixBatch => {
      const job = this.t.jobs.get(id);
      if (!job || job.doneAt !== null) return { leases: [], done: true };
      const cursor = job.cursor;
      const rows = this.t.leases
        .values()
        .filter((l) => l.id.startsWith(job.prefix) && (cursor === null || compareText(l.id, cursor) > 0))
        .sort((a, b) => compareText(a.id, b.id))
        .slice(0, limit);
      const marked: LeaseStateRow[] = [];
      for (const row of rows) {
        if (row.state === "revoked") continue;
        const taken = job.force ? forceOne(this.t, this.events, row.id, now, forceNote) : enqueue(this.t, row.id, dueTime);
        if (taken) marked.push({ id: row.id, state: row.state, attempts: row.attempts });
      }
      const last = rows[rows.length - 1];
      if (last) this.t.jobs.update(id, { cursor: last.id, matched: job.matched + marked.length });
      return { leases: marked, done: rows.length < limit };
    });
  }

  addOutcomes(id: string, revoked: number, failed: number): Promise<void> {
    return this.op(() => {
      const job = this.t.jobs.get(id);
      if (job) this.t.jobs.update(id, { revoked: job.revoked + revoked, failed: job.failed + failed });
    });
  }

  finish(id: string, now: number): Promise<void> {
    return this.op(() => {
      if (this.t.jobs.get(id)?.doneAt === null) this.t.jobs.update(id, { doneAt: now });
    });
  }

  purgeFinished(before: number): Promise<number> {
    return this.op(() => {
      const done = this.t.jobs.values().filter((j) => j.doneAt !== null && j.doneAt < before);
      for (const j of done) this.t.jobs.delete(j.id);
      return done.length;
    });
  }
}
