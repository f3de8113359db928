// The embedded store: one SQLite file (better-sqlite3) in WAL mode.
// better-sqlite3 is synchronous; the async interface exists so another store
// (PostgreSQL) can stand in without its callers changing.
import Database from "better-sqlite3";
import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { KeyMismatchError, Keyring } from "./encryption.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { SqliteAuditDevices, SqlitePolicies, SqliteQuotas, SqliteSealedData, SqliteSettings, SqliteTokenTree } from "./sqlite-security.js";
import { dueRepair, prepareLifecycle, SqliteRevocationJobs, type LifecycleStatements, type TidyRow } from "./sqlite-lifecycle.js";
import type {
  EngineEntryStore,
  IntentRecord,
  IntentStore,
  JsonObject,
  JsonValue,
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
  RevokeReason,
  RevocationJobStore,
  Store,
  TidyStep,
  TokenRecord,
  TokenStore,
  PolicyStore,
  QuotaStore,
  AuditDeviceStore,
  SealedSettingStore,
  TokenTreeStore,
  SealedDataStore,
} from "./types.js";

export interface SqliteStoreOptions {
  /** Path of the database file. */
  path: string;
  keyring: Keyring;
}

interface LeaseRow {
  id: string;
  mount_accessor: string;
  secret_type: string;
  internal: Buffer;
  issue_time: number;
  expire_time: number;
  max_expire_time: number;
  last_renewal_time: number | null;
  renewable: number;
  state: LeaseState;
  attempts: number;
  next_attempt_time: number | null;
  last_error: string | null;
  token_accessor: string | null;
  revoke_time: number | null;
}

interface TokenRow {
  accessor: string;
  policies: string;
  display_name: string;
  parent_accessor: string | null;
  created_at: number;
  expire_time: number | null;
  ttl: number;
  max_expire_time: number | null;
  renewable: number;
  num_uses: number;
  uses_left: number;
  meta: string;
}

interface IntentRow {
  id: string;
  lease_id: string;
  mount_accessor: string;
  secret_type: string;
  data: Buffer;
  created_at: number;
}

const KEY_CHECK = "keyring-check";

/** Opens (creating and migrating as needed) the SQLite store. */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  // NORMAL: a committed transaction survives a process crash (the case that
  // matters for leases); only an OS crash or power loss can lose the last few.
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  migrate(db);
  verifyKeyring(db, options.keyring);
  return new SqliteStore(db, options.keyring);
}

function migrate(db: SqliteDatabase): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SQLITE_MIGRATIONS.length) {
    throw new Error(
      `database schema version ${current} is newer than this Lessor knows (${SQLITE_MIGRATIONS.length}); upgrade Lessor`,
    );
  }
  for (let v = current; v < SQLITE_MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(SQLITE_MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/** Refuses to run with a key that did not seal this database, before writing anything. */
function verifyKeyring(db: SqliteDatabase, keyring: Keyring): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(KEY_CHECK) as { value: string } | undefined;
  if (!row) {
    const sealed = keyring.seal(Buffer.from("lessor"), KEY_CHECK).toString("base64");
    db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(KEY_CHECK, sealed);
    return;
  }
  try {
    keyring.open(Buffer.from(row.value, "base64"), KEY_CHECK);
  } catch {
    db.close();
    throw new KeyMismatchError(
      "the encryption key does not match this database (it was sealed with another key); start with the key file this data directory was created with",
    );
  }
}

/**
 * Group commit: writes that arrive in the same turn of the event loop share
 * one transaction, so concurrent requests pay for one commit (and one copy of
 * each page they touch in the WAL) instead of one each. Each write still runs
 * in its own savepoint, so one that fails is undone alone; and a caller's
 * promise settles only after the shared transaction has committed, so "durable
 * before the external call it leads to" still holds.
 */
export class GroupCommit {
  private queue: Array<{ work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private readonly inSavepoint: (work: () => unknown) => unknown;
  private readonly inTransaction: (batch: Array<() => unknown>) => Array<{ value: unknown } | { error: unknown }>;

  constructor(db: SqliteDatabase) {
    // A transaction function called inside another one runs in a savepoint.
    this.inSavepoint = db.transaction((work: () => unknown) => work());
    this.inTransaction = db.transaction((batch: Array<() => unknown>) =>
      batch.map((work) => {
        try {
          return { value: this.inSavepoint(work) };
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    let outcomes;
    try {
      outcomes = this.inTransaction(batch.map((op) => op.work));
    } catch (error) {
      // The commit itself failed: nothing of the batch is durable.
      for (const op of batch) op.reject(error);
      return;
    }
    outcomes.forEach((outcome, i) => {
      const op = batch[i];
      if (!op) return;
      if ("error" in outcome) op.reject(outcome.error);
      else op.resolve(outcome.value);
    });
  }
}

class SqliteStore implements Store {
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

  constructor(
    private readonly db: SqliteDatabase,
    keyring: Keyring,
  ) {
    this.mounts = new SqliteMounts(db);
    this.entries = new SqliteEntries(db, keyring);
    const writes = new GroupCommit(db);
    this.leases = new SqliteLeases(db, keyring, writes);
    this.events = new SqliteEvents(db);
    this.intents = new SqliteIntents(db, keyring, writes);
    this.tokens = new SqliteTokens(db);
    this.policies = new SqlitePolicies(db);
    this.quotas = new SqliteQuotas(db);
    this.auditDevices = new SqliteAuditDevices(db, keyring);
    this.settings = new SqliteSettings(db, keyring);
    this.tokenTree = new SqliteTokenTree(db);
    this.sealed = new SqliteSealedData(db, keyring);
    const leases = this.leases as SqliteLeases;
    this.jobs = new SqliteRevocationJobs(db, leases.lifecycle, (...args) => leases.writeEvent(...args));
  }

  async close(): Promise<void> {
    if (this.db.open) {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
      this.db.close();
    }
  }
}

class SqliteMounts implements MountStore {
  private readonly selectAll: Statement;
  private readonly insertOne: Statement;
  private readonly deleteOne: Statement;
  private readonly deleteEntries: Statement;

  constructor(private readonly db: SqliteDatabase) {
    this.selectAll = db.prepare("SELECT * FROM mounts ORDER BY path");
    this.insertOne = db.prepare(
      `INSERT INTO mounts (path, accessor, type, description, default_ttl, max_ttl, created_at)
       VALUES (@path, @accessor, @type, @description, @defaultTtlSeconds, @maxTtlSeconds, @createdAt)`,
    );
    this.deleteOne = db.prepare("DELETE FROM mounts WHERE path = ? RETURNING accessor");
    this.deleteEntries = db.prepare("DELETE FROM engine_entries WHERE mount_accessor = ?");
  }

  async list(): Promise<MountRecord[]> {
    const rows = this.selectAll.all() as Array<{
      path: string;
      accessor: string;
      type: string;
      description: string;
      default_ttl: number;
      max_ttl: number;
      created_at: number;
    }>;
    return rows.map((r) => ({
      path: r.path,
      accessor: r.accessor,
      type: r.type,
      description: r.description,
      defaultTtlSeconds: r.default_ttl,
      maxTtlSeconds: r.max_ttl,
      createdAt: r.created_at,
    }));
  }

  async insert(mount: MountRecord): Promise<void> {
    this.insertOne.run(mount);
  }

  async delete(path: string): Promise<void> {
    this.db.transaction(() => {
      const row = this.deleteOne.get(path) as { accessor: string } | undefined;
      if (row) this.deleteEntries.run(row.accessor);
    })();
  }
}

class SqliteEntries implements EngineEntryStore {
  private readonly getOne: Statement;
  private readonly putOne: Statement;
  private readonly deleteOne: Statement;
  private readonly listRange: Statement;

  constructor(
    db: SqliteDatabase,
    private readonly keyring: Keyring,
  ) {
    this.getOne = db.prepare("SELECT value FROM engine_entries WHERE mount_accessor = ? AND key = ?");
    this.putOne = db.prepare(
      `INSERT INTO engine_entries (mount_accessor, key, value) VALUES (?, ?, ?)
       ON CONFLICT (mount_accessor, key) DO UPDATE SET value = excluded.value`,
    );
    this.deleteOne = db.prepare("DELETE FROM engine_entries WHERE mount_accessor = ? AND key = ?");
    this.listRange = db.prepare(
      "SELECT key FROM engine_entries WHERE mount_accessor = ? AND key >= ? AND key < ? ORDER BY key",
    );
  }

  private aad(mountAccessor: string, key: string): string {
    return `engine_entries:${mountAccessor}:${key}`;
  }

  async get(mountAccessor: string, key: string): Promise<JsonValue | undefined> {
    const row = this.getOne.get(mountAccessor, key) as { value: Buffer } | undefined;
    return row ? this.keyring.openJson<JsonValue>(row.value, this.aad(mountAccessor, key)) : undefined;
  }

  async put(mountAccessor: string, key: string, value: JsonValue): Promise<void> {
    this.putOne.run(mountAccessor, key, this.keyring.sealJson(value, this.aad(mountAccessor, key)));
  }

  async delete(mountAccessor: string, key: string): Promise<boolean> {
    return this.deleteOne.run(mountAccessor, key).changes > 0;
  }

  async list(mountAccessor: string, prefix: string): Promise<string[]> {
    const rows = this.listRange.all(mountAccessor, prefix, upperBound(prefix)) as Array<{ key: string }>;
    return foldKeys(
      rows.map((r) => r.key),
      prefix,
    );
  }
}

/** Turns full keys under a prefix into the next level: files, and folders with a trailing "/". */
export function foldKeys(keys: string[], prefix: string): string[] {
  const out = new Set<string>();
  for (const key of keys) {
    const rest = key.slice(prefix.length);
    if (rest === "") continue;
    const slash = rest.indexOf("/");
    out.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...out].sort();
}

/** Smallest string greater than every string that starts with prefix. */
function upperBound(prefix: string): string {
  return prefix + "\u{10FFFF}";
}

class SqliteLeases implements LeaseStore {
  private readonly getOne: Statement;
  private readonly insertOne: Statement;
  private readonly deleteIntent: Statement;
  private readonly dueRows: Statement;
  private readonly nextDue: Statement;
  private readonly toRevoking: Statement;
  private readonly toRevoked: Statement;
  private readonly failure: Statement;
  private readonly renewOne: Statement;
  private readonly pageFirst: Statement;
  private readonly pageAfter: Statement;
  private readonly byState: Statement;
  private readonly dueCount: Statement;
  private readonly addEvent: Statement;
  readonly lifecycle: LifecycleStatements;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly keyring: Keyring,
    private readonly writes: GroupCommit,
  ) {
    this.addEvent = db.prepare(
      "INSERT INTO lease_events (type, lease_id, time, expire_time, detail) VALUES (@type, @leaseId, @time, @expireTime, @detail)",
    );
    this.getOne = db.prepare("SELECT * FROM leases WHERE id = ?");
    this.insertOne = db.prepare(
      `INSERT INTO leases (id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time,
                           renewable, state, token_accessor, due_time)
       VALUES (@id, @mountAccessor, @secretType, @internal, @issueTime, @expireTime, @maxExpireTime,
               @renewable, 'active', @tokenAccessor, @expireTime)`,
    );
    this.deleteIntent = db.prepare("DELETE FROM intents WHERE id = ? AND claimed_at IS NULL");
    this.dueRows = db.prepare(
      "SELECT * FROM leases WHERE due_time <= ? AND mount_accessor NOT IN (SELECT value FROM json_each(?)) ORDER BY due_time LIMIT ?",
    );
    this.nextDue = db.prepare("SELECT MIN(due_time) AS t FROM leases WHERE due_time IS NOT NULL");
    this.toRevoking = db.prepare(
      `UPDATE leases SET state = 'revoking', due_time = @next, next_attempt_time = @next
       WHERE id = @id AND state IN ('active', 'revoking', 'irrevocable')`,
    );
    this.toRevoked = db.prepare(
      `UPDATE leases SET state = 'revoked', due_time = NULL, next_attempt_time = NULL, revoke_time = @now, last_error = NULL
       WHERE id = @id AND state != 'revoked'`,
    );
    this.failure = db.prepare(
      `UPDATE leases SET attempts = attempts + 1, last_error = @error, next_attempt_time = @next, due_time = @next,
              state = CASE WHEN @irrevocable THEN 'irrevocable' ELSE state END
       WHERE id = @id`,
    );
    this.renewOne = db.prepare(
      `UPDATE leases SET expire_time = @expire, due_time = @expire, last_renewal_time = @now
       WHERE id = @id AND state = 'active'`,
    );
    this.pageFirst = db.prepare("SELECT * FROM leases WHERE id >= ? AND id < ? ORDER BY id LIMIT ?");
    this.pageAfter = db.prepare("SELECT * FROM leases WHERE id > ? AND id < ? ORDER BY id LIMIT ?");
    this.byState = db.prepare("SELECT state, COUNT(*) AS n FROM leases GROUP BY state");
    this.dueCount = db.prepare("SELECT COUNT(*) AS n FROM leases WHERE due_time IS NOT NULL AND due_time <= ?");
    this.lifecycle = prepareLifecycle(db);
  }

  private row(r: LeaseRow): LeaseRecord {
    return {
      id: r.id,
      mountAccessor: r.mount_accessor,
      secretType: r.secret_type,
      internal: this.keyring.openJson<JsonObject>(r.internal, `leases:${r.id}`),
      issueTime: r.issue_time,
      expireTime: r.expire_time,
      maxExpireTime: r.max_expire_time,
      lastRenewalTime: r.last_renewal_time,
      renewable: r.renewable === 1,
      state: r.state,
      attempts: r.attempts,
      nextAttemptTime: r.next_attempt_time,
      lastError: r.last_error,
      tokenAccessor: r.token_accessor,
      revokeTime: r.revoke_time,
    };
  }

  async get(id: string): Promise<LeaseRecord | undefined> {
    const r = this.getOne.get(id) as LeaseRow | undefined;
    return r ? this.row(r) : undefined;
  }

  private event(type: LeaseEventType, leaseId: string, time: number, expireTime: number | null = null, detail: string | null = null): void {
    this.addEvent.run({ type, leaseId, time, expireTime, detail });
  }

  async insertFromIntent(lease: NewLease, intentId: string | null): Promise<boolean> {
    const internal = this.keyring.sealJson(lease.internal, `leases:${lease.id}`);
    return this.writes.run(() => {
      if (intentId !== null && this.deleteIntent.run(intentId).changes === 0) return false;
      this.insertOne.run({ ...lease, internal, renewable: lease.renewable ? 1 : 0 });
      this.event("created", lease.id, lease.issueTime, lease.expireTime);
      return true;
    });
  }

  async idsWithPrefix(prefix: string, states: LeaseState[], limit: number): Promise<string[]> {
    const placeholders = states.map(() => "?").join(", ");
    const rows = this.db
      .prepare(`SELECT id FROM leases WHERE id >= ? AND id < ? AND state IN (${placeholders}) ORDER BY id LIMIT ?`)
      .all(prefix, upperBound(prefix), ...states, limit) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  async due(now: number, limit: number, skipMounts: readonly string[] = []): Promise<LeaseRecord[]> {
    return (this.dueRows.all(now, JSON.stringify(skipMounts), limit) as LeaseRow[]).map((r) => this.row(r));
  }

  async nextDueTime(): Promise<number | null> {
    return (this.nextDue.get() as { t: number | null }).t;
  }

  async markRevoking(id: string, nextAttemptTime: number): Promise<boolean> {
    return this.toRevoking.run({ id, next: nextAttemptTime }).changes > 0;
  }

  async markRevoked(id: string, now: number, reason: RevokeReason): Promise<void> {
    await this.writes.run(() => {
      if (this.toRevoked.run({ id, now }).changes > 0) this.event(reason, id, now);
    });
  }

  async recordRevokeFailure(id: string, error: string, nextAttemptTime: number | null, irrevocable: boolean): Promise<void> {
    await this.writes.run(() => {
      this.failure.run({ id, error, next: nextAttemptTime, irrevocable: irrevocable ? 1 : 0 });
      if (irrevocable) this.event("irrevocable", id, Date.now(), null, error);
    });
  }

  async renew(id: string, expireTime: number, now: number): Promise<void> {
    this.db.transaction(() => {
      if (this.renewOne.run({ id, expire: expireTime, now }).changes > 0) this.event("renewed", id, now, expireTime);
    })();
  }

  async page(prefix: string, after: string | null, limit: number): Promise<LeasePage> {
    // Keyset paging on the primary key: a lease added or removed between pages
    // neither shifts nor repeats the others.
    const rows = (
      after !== null && after >= prefix
        ? this.pageAfter.all(after, upperBound(prefix), limit + 1)
        : this.pageFirst.all(prefix, upperBound(prefix), limit + 1)
    ) as LeaseRow[];
    const more = rows.length > limit;
    const leases = rows.slice(0, limit).map((r) => this.row(r));
    return { leases, next: more && leases.length > 0 ? (leases[leases.length - 1] as LeaseRecord).id : null };
  }

  async countByState(): Promise<Record<LeaseState, number>> {
    const counts: Record<LeaseState, number> = { active: 0, revoking: 0, revoked: 0, irrevocable: 0 };
    for (const r of this.byState.all() as Array<{ state: LeaseState; n: number }>) counts[r.state] = r.n;
    return counts;
  }

  async countDue(now: number): Promise<number> {
    return (this.dueCount.get(now) as { n: number }).n;
  }

  /** For the jobs store: the same event rows, on the same connection. */
  writeEvent(type: LeaseEventType, leaseId: string, time: number, expireTime: number | null = null, detail: string | null = null): void {
    this.event(type, leaseId, time, expireTime, detail);
  }

  async claimRevocation(id: string, now: number, nextAttemptTime: number, dueOnly: boolean): Promise<number | null> {
    const statement = dueOnly ? this.lifecycle.claimDue : this.lifecycle.claimAny;
    const row = await this.writes.run(() => statement.get({ id, now, next: nextAttemptTime }) as { attempts: number } | undefined);
    return row ? row.attempts : null;
  }

  async enqueueRevocation(id: string, now: number): Promise<boolean> {
    return this.lifecycle.enqueue.run({ id, now }).changes > 0;
  }

  async forceRevoke(id: string, now: number, note: string): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.lifecycle.force.run({ id, now, note }).changes === 0) return false;
      this.event("force_revoked", id, now);
      return true;
    })();
  }

  async dueRevocations(now: number, limit: number): Promise<LeaseRecord[]> {
    return (this.lifecycle.dueRevoking.all(now, limit) as LeaseRow[]).map((r) => this.row(r));
  }

  async pageInState(prefix: string, state: LeaseState, after: string | null, limit: number): Promise<LeasePage> {
    const rows = (
      after !== null && after >= prefix
        ? this.lifecycle.pageStateAfter.all(state, after, upperBound(prefix), limit + 1)
        : this.lifecycle.pageStateFirst.all(state, prefix, upperBound(prefix), limit + 1)
    ) as LeaseRow[];
    const more = rows.length > limit;
    const leases = rows.slice(0, limit).map((r) => this.row(r));
    return { leases, next: more && leases.length > 0 ? (leases[leases.length - 1] as LeaseRecord).id : null };
  }

  async states(ids: readonly string[]): Promise<LeaseStateRow[]> {
    if (ids.length === 0) return [];
    const out: LeaseStateRow[] = [];
    // Bounded statements: at most 500 ids per query.
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = this.db
        .prepare(`SELECT id, state, attempts FROM leases WHERE id IN (${chunk.map(() => "?").join(", ")})`)
        .all(...chunk) as LeaseStateRow[];
      out.push(...rows);
    }
    return out;
  }

  async tidyStep(after: string | null, limit: number, now: number, liveMounts: ReadonlySet<string>, orphanError: string): Promise<TidyStep> {
    return this.db.transaction((): TidyStep => {
      const rows = this.lifecycle.tidyRows.all(after ?? "", limit) as TidyRow[];
      const step: TidyStep = { repaired: 0, rescheduled: 0, orphaned: 0, next: null };
      for (const row of rows) {
        if ((row.state === "active" || row.state === "revoking") && !liveMounts.has(row.mount_accessor)) {
          if (this.lifecycle.orphan.run({ id: row.id, error: orphanError }).changes > 0) {
            this.event("irrevocable", row.id, now, null, orphanError);
            step.orphaned++;
          }
          continue;
        }
        const fix = dueRepair(row, now);
        if (!fix) continue;
        this.lifecycle.setDue.run({ id: row.id, state: row.state, due: fix.due, next: fix.next });
        if (fix.rescheduled) step.rescheduled++;
        else step.repaired++;
      }
      const last = rows[rows.length - 1];
      step.next = rows.length === limit && last ? last.id : null;
      return step;
    }).immediate();
  }

  async purgeRevoked(before: number, limit: number): Promise<number> {
    return this.lifecycle.purgeRevoked.run(before, limit).changes;
  }
}

class SqliteEvents implements LeaseEventStore {
  private readonly afterAll: Statement;
  private readonly afterPrefix: Statement;
  private readonly latest: Statement;
  private readonly pruneOld: Statement;

  constructor(db: SqliteDatabase) {
    this.afterAll = db.prepare("SELECT * FROM lease_events WHERE sequence > ? ORDER BY sequence LIMIT ?");
    this.afterPrefix = db.prepare(
      "SELECT * FROM lease_events WHERE sequence > ? AND lease_id >= ? AND lease_id < ? ORDER BY sequence LIMIT ?",
    );
    this.latest = db.prepare("SELECT COALESCE(MAX(sequence), 0) AS s FROM lease_events");
    this.pruneOld = db.prepare("DELETE FROM lease_events WHERE time < ?");
  }

  async after(sequence: number, prefix: string, limit: number): Promise<LeaseEventRecord[]> {
    const rows = (
      prefix === "" ? this.afterAll.all(sequence, limit) : this.afterPrefix.all(sequence, prefix, upperBound(prefix), limit)
    ) as Array<{ sequence: number; type: LeaseEventType; lease_id: string; time: number; expire_time: number | null; detail: string | null }>;
    return rows.map((r) => ({
      sequence: r.sequence,
      type: r.type,
      leaseId: r.lease_id,
      time: r.time,
      expireTime: r.expire_time,
      detail: r.detail,
    }));
  }

  async latestSequence(): Promise<number> {
    return (this.latest.get() as { s: number }).s;
  }

  async prune(time: number): Promise<number> {
    return this.pruneOld.run(time).changes;
  }
}

class SqliteIntents implements IntentStore {
  private readonly insertOne: Statement;
  private readonly deleteOne: Statement;
  private readonly older: Statement;
  private readonly claimOne: Statement;
  private readonly releaseOne: Statement;
  private readonly byLease: Statement;

  constructor(
    db: SqliteDatabase,
    private readonly keyring: Keyring,
    private readonly writes: GroupCommit,
  ) {
    this.insertOne = db.prepare(
      `INSERT INTO intents (id, lease_id, mount_accessor, secret_type, data, created_at)
       VALUES (@id, @leaseId, @mountAccessor, @secretType, @data, @createdAt)`,
    );
    this.deleteOne = db.prepare("DELETE FROM intents WHERE id = ?");
    this.older = db.prepare("SELECT * FROM intents WHERE created_at <= ? ORDER BY created_at LIMIT ?");
    this.claimOne = db.prepare(
      "UPDATE intents SET claimed_at = @now WHERE id = @id AND (claimed_at IS NULL OR claimed_at <= @stale)",
    );
    this.releaseOne = db.prepare("UPDATE intents SET claimed_at = NULL WHERE id = ?");
    this.byLease = db.prepare("SELECT 1 FROM intents WHERE lease_id = ? LIMIT 1");
  }

  async claim(id: string, now: number, staleClaimBefore: number): Promise<boolean> {
    return this.claimOne.run({ id, now, stale: staleClaimBefore }).changes > 0;
  }

  async release(id: string): Promise<void> {
    this.releaseOne.run(id);
  }

  async insert(intent: IntentRecord): Promise<void> {
    const data = this.keyring.sealJson(intent.data, `intents:${intent.id}`);
    await this.writes.run(() => this.insertOne.run({ ...intent, data }));
  }

  async delete(id: string): Promise<void> {
    await this.writes.run(() => this.deleteOne.run(id));
  }

  async existsForLease(leaseId: string): Promise<boolean> {
    return this.byLease.get(leaseId) !== undefined;
  }

  async olderThan(time: number, limit: number): Promise<IntentRecord[]> {
    return (this.older.all(time, limit) as IntentRow[]).map((r) => ({
      id: r.id,
      leaseId: r.lease_id,
      mountAccessor: r.mount_accessor,
      secretType: r.secret_type,
      data: this.keyring.openJson<JsonObject>(r.data, `intents:${r.id}`),
      createdAt: r.created_at,
    }));
  }
}

class SqliteTokens implements TokenStore {
  private readonly insertOne: Statement;
  private readonly byHash: Statement;
  private readonly byAccessor: Statement;
  private readonly useOne: Statement;
  private readonly deleteOne: Statement;
  private readonly countAll: Statement;

  constructor(db: SqliteDatabase) {
    this.insertOne = db.prepare(
      `INSERT INTO tokens (accessor, hash, policies, display_name, parent_accessor, created_at, expire_time, ttl,
                           max_expire_time, renewable, num_uses, uses_left, meta)
       VALUES (@accessor, @hash, @policies, @displayName, @parentAccessor, @createdAt, @expireTime, @ttlSeconds,
               @maxExpireTime, @renewable, @numUses, @usesLeft, @meta)`,
    );
    this.byHash = db.prepare("SELECT * FROM tokens WHERE hash = ?");
    this.byAccessor = db.prepare("SELECT * FROM tokens WHERE accessor = ?");
    this.useOne = db.prepare(
      "UPDATE tokens SET uses_left = uses_left - 1 WHERE accessor = ? AND uses_left > 0 RETURNING uses_left",
    );
    this.deleteOne = db.prepare("DELETE FROM tokens WHERE accessor = ?");
    this.countAll = db.prepare("SELECT COUNT(*) AS n FROM tokens");
  }

  private row(r: TokenRow): TokenRecord {
    return {
      accessor: r.accessor,
      policies: JSON.parse(r.policies) as string[],
      displayName: r.display_name,
      parentAccessor: r.parent_accessor,
      createdAt: r.created_at,
      expireTime: r.expire_time,
      ttlSeconds: r.ttl,
      maxExpireTime: r.max_expire_time,
      renewable: r.renewable === 1,
      numUses: r.num_uses,
      usesLeft: r.uses_left,
      meta: JSON.parse(r.meta) as Record<string, string>,
    };
  }

  async insert(hash: Buffer, token: TokenRecord): Promise<void> {
    this.insertOne.run({
      ...token,
      hash,
      policies: JSON.stringify(token.policies),
      renewable: token.renewable ? 1 : 0,
      meta: JSON.stringify(token.meta),
    });
  }

  async getByHash(hash: Buffer): Promise<TokenRecord | undefined> {
    const r = this.byHash.get(hash) as TokenRow | undefined;
    return r ? this.row(r) : undefined;
  }

  async getByAccessor(accessor: string): Promise<TokenRecord | undefined> {
    const r = this.byAccessor.get(accessor) as TokenRow | undefined;
    return r ? this.row(r) : undefined;
  }

  async consumeUse(accessor: string): Promise<number> {
    const r = this.useOne.get(accessor) as { uses_left: number } | undefined;
    return r ? r.uses_left : -1;
  }

  async delete(accessor: string): Promise<void> {
    this.deleteOne.run(accessor);
  }

  async count(): Promise<number> {
    return (this.countAll.get() as { n: number }).n;
  }
}
