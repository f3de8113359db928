// The embedded store: one SQLite file (better-sqlite3) in WAL mode.
// better-sqlite3 is synchronous; the async interface exists so another store
// (PostgreSQL) can stand in without its callers changing.
import Database from "better-sqlite3";
import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import { GroupCommit } from "./sqlite-group-commit.js";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Keyring } from "./encryption.js";
import {
  sameEntry,
  aad,
  dueFields,
  dueRepair,
  eventRecord,
  foldKeys,
  intentRecord,
  KEY_CHECK,
  keyCheckOpens,
  LEASE_COLUMNS,
  LeaseChangeHooks,
  leasePage,
  leaseRecord,
  mountRecord,
  prefixEnd,
  sealKeyCheck,
  tokenJsonColumns,
  tokenRecord,
  TOKEN_COLUMNS,
  wrongKeyError,
  zeroStateCounts,
  type EventRow,
  type IntentRow,
  type LeaseRow,
  type MountRow,
  type TidyRow,
  type TokenRow,
} from "./common.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { SqliteAuditDevices, SqlitePolicies, SqliteQuotas, SqliteSealedData, SqliteSettings, SqliteTokenTree } from "./sqlite-security.js";
import { prepareEventWriter, prepareLifecycle, SqliteRevocationJobs, type EventWriter, type LifecycleStatements } from "./sqlite-lifecycle.js";
import type {
  EngineEntryStore,
  IntentRecord,
  IntentStore,
  JsonValue,
  LeaseEventRecord,
  LeaseEventStore,
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
  /** Told every SQL statement run, values inlined (for diagnosis: what start-up reads). */
  trace?: (sql: string) => void;
}

/** Opens (creating and migrating as needed) the SQLite store. */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path, options.trace ? { verbose: (sql: unknown) => options.trace?.(String(sql)) } : {});
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
    db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(KEY_CHECK, sealKeyCheck(keyring).toString("base64"));
    return;
  }
  if (!keyCheckOpens(keyring, Buffer.from(row.value, "base64"))) {
    db.close();
    throw wrongKeyError("start with the key file this data directory was created with");
  }
}

/**
 * Tells `hooks` of every write to leases or lease events on this connection,
 * whatever code makes it: temporary triggers (this connection's own, nothing
 * is added to the file) call back into the process. better-sqlite3 runs a
 * transaction synchronously, so by the time the hooks' listeners run (a
 * microtask later) it has committed; a write rolled back only wakes them for
 * nothing.
 */
function reportLeaseWrites(db: SqliteDatabase, hooks: LeaseChangeHooks): void {
  db.function("lessor_lease_write", { deterministic: false }, () => {
    hooks.emit();
    return null;
  });
  for (const table of ["leases", "lease_events"]) {
    for (const op of ["INSERT", "UPDATE", "DELETE"]) {
      db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS lessor_${table}_${op.toLowerCase()} AFTER ${op} ON main.${table}
               BEGIN SELECT lessor_lease_write(); END`);
    }
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
  readonly onLeaseChange: (listener: () => void) => () => void;

  constructor(
    private readonly db: SqliteDatabase,
    keyring: Keyring,
  ) {
    // A closure, not a field: the hooks are no area of the store.
    const hooks = new LeaseChangeHooks();
    reportLeaseWrites(db, hooks);
    this.onLeaseChange = (listener) => hooks.subscribe(listener);
    const writes = new GroupCommit(db);
    const lifecycle = prepareLifecycle(db);
    const writeEvent = prepareEventWriter(db);
    this.mounts = new SqliteMounts(db);
    this.entries = new SqliteEntries(db, keyring);
    this.leases = new SqliteLeases(db, keyring, writes, lifecycle, writeEvent);
    this.events = new SqliteEvents(db, writes);
    this.intents = new SqliteIntents(db, keyring, writes);
    this.tokens = new SqliteTokens(db);
    this.policies = new SqlitePolicies(db);
    this.quotas = new SqliteQuotas(db);
    this.auditDevices = new SqliteAuditDevices(db, keyring);
    this.settings = new SqliteSettings(db, keyring);
    this.tokenTree = new SqliteTokenTree(db);
    this.sealed = new SqliteSealedData(db, keyring, writes);
    this.jobs = new SqliteRevocationJobs(db, writes, lifecycle, writeEvent);
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
    return (this.selectAll.all() as MountRow[]).map(mountRecord);
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
  private readonly insertIfAbsent: Statement;
  private readonly replaceIf: Statement;
  private readonly deleteIf: Statement;

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
    this.insertIfAbsent = db.prepare("INSERT INTO engine_entries (mount_accessor, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    this.replaceIf = db.prepare("UPDATE engine_entries SET value = ? WHERE mount_accessor = ? AND key = ? AND value = ?");
    this.deleteIf = db.prepare("DELETE FROM engine_entries WHERE mount_accessor = ? AND key = ? AND value = ?");
  }

  async compareAndSwap(mountAccessor: string, key: string, expected: JsonValue | undefined, next: JsonValue | undefined): Promise<boolean> {
    const bound = aad.entry(mountAccessor, key);
    const row = this.getOne.get(mountAccessor, key) as { value: Buffer } | undefined;
    if (!sameEntry(row === undefined ? undefined : this.keyring.openJson<JsonValue>(row.value, bound), expected)) return false;
    // Conditional on the sealed bytes read: a write that landed meanwhile makes it change nothing.
    if (row === undefined) return next === undefined || this.insertIfAbsent.run(mountAccessor, key, this.keyring.sealJson(next, bound)).changes === 1;
    if (next === undefined) return this.deleteIf.run(mountAccessor, key, row.value).changes === 1;
    return this.replaceIf.run(this.keyring.sealJson(next, bound), mountAccessor, key, row.value).changes === 1;
  }

  async get(mountAccessor: string, key: string): Promise<JsonValue | undefined> {
    const row = this.getOne.get(mountAccessor, key) as { value: Buffer } | undefined;
    return row ? this.keyring.openJson<JsonValue>(row.value, aad.entry(mountAccessor, key)) : undefined;
  }

  async put(mountAccessor: string, key: string, value: JsonValue): Promise<void> {
    this.putOne.run(mountAccessor, key, this.keyring.sealJson(value, aad.entry(mountAccessor, key)));
  }

  async delete(mountAccessor: string, key: string): Promise<boolean> {
    return this.deleteOne.run(mountAccessor, key).changes > 0;
  }

  async list(mountAccessor: string, prefix: string): Promise<string[]> {
    const rows = this.listRange.all(mountAccessor, prefix, prefixEnd(prefix)) as Array<{ key: string }>;
    return foldKeys(
      rows.map((r) => r.key),
      prefix,
    );
  }
}

class SqliteLeases implements LeaseStore {
  private readonly getOne: Statement;
  private readonly insertOne: Statement;
  private readonly deleteIntent: Statement;
  private readonly dueRows: Statement;
  private readonly nextDue: Statement;
  private readonly toRevoked: Statement;
  private readonly failure: Statement;
  private readonly renewOne: Statement;
  private readonly pageFirst: Statement;
  private readonly pageAfter: Statement;
  private readonly byState: Statement;
  private readonly dueCount: Statement;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly keyring: Keyring,
    private readonly writes: GroupCommit,
    private readonly lifecycle: LifecycleStatements,
    private readonly event: EventWriter,
  ) {
    this.getOne = db.prepare(`SELECT ${LEASE_COLUMNS} FROM leases WHERE id = ?`);
    this.insertOne = db.prepare(
      `INSERT INTO leases (id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time, ttl,
                           renewable, state, token_accessor, due_time)
       VALUES (@id, @mountAccessor, @secretType, @internal, @issueTime, @expireTime, @maxExpireTime, @ttlSeconds,
               @renewable, 'active', @tokenAccessor, @expireTime)`,
    );
    this.deleteIntent = db.prepare("DELETE FROM intents WHERE id = ? AND claimed_at IS NULL");
    this.dueRows = db.prepare(
      `SELECT ${LEASE_COLUMNS} FROM leases WHERE due_time <= ? AND mount_accessor NOT IN (SELECT value FROM json_each(?)) ORDER BY due_time LIMIT ?`,
    );
    this.nextDue = db.prepare("SELECT MIN(due_time) AS t FROM leases WHERE due_time IS NOT NULL");
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
    this.pageFirst = db.prepare(`SELECT ${LEASE_COLUMNS} FROM leases WHERE id >= ? AND id < ? ORDER BY id LIMIT ?`);
    this.pageAfter = db.prepare(`SELECT ${LEASE_COLUMNS} FROM leases WHERE id > ? AND id < ? ORDER BY id LIMIT ?`);
    this.byState = db.prepare("SELECT state, COUNT(*) AS n FROM leases GROUP BY state");
    this.dueCount = db.prepare("SELECT COUNT(*) AS n FROM leases WHERE due_time IS NOT NULL AND due_time <= ?");
  }

  private records(rows: unknown[]): LeaseRecord[] {
    return (rows as LeaseRow[]).map((r) => leaseRecord(r, this.keyring));
  }

  async get(id: string): Promise<LeaseRecord | undefined> {
    const r = this.getOne.get(id) as LeaseRow | undefined;
    return r ? leaseRecord(r, this.keyring) : undefined;
  }

  async insertFromIntent(lease: NewLease, intentId: string | null): Promise<boolean> {
    const internal = this.keyring.sealJson(lease.internal, aad.lease(lease.id));
    return this.writes.run(() => {
      if (intentId !== null && this.deleteIntent.run(intentId).changes === 0) return false;
      this.insertOne.run({ ...lease, internal, renewable: lease.renewable ? 1 : 0 });
      this.event("created", lease.id, lease.issueTime, lease.expireTime);
      return true;
    });
  }

  async idsWithPrefix(prefix: string, states: LeaseState[], limit: number): Promise<string[]> {
    if (states.length === 0) return [];
    const placeholders = states.map(() => "?").join(", ");
    const rows = this.db
      .prepare(`SELECT id FROM leases WHERE id >= ? AND id < ? AND state IN (${placeholders}) ORDER BY id LIMIT ?`)
      .all(prefix, prefixEnd(prefix), ...states, limit) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  async due(now: number, limit: number, skipMounts: readonly string[] = []): Promise<LeaseRecord[]> {
    return this.records(this.dueRows.all(now, JSON.stringify(skipMounts), limit));
  }

  async nextDueTime(): Promise<number | null> {
    return (this.nextDue.get() as { t: number | null }).t;
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
    await this.writes.run(() => {
      if (this.renewOne.run({ id, expire: expireTime, now }).changes > 0) this.event("renewed", id, now, expireTime);
    });
  }

  async page(prefix: string, after: string | null, limit: number): Promise<LeasePage> {
    // Keyset paging on the primary key: a lease added or removed between pages
    // neither shifts nor repeats the others.
    const rows =
      after !== null && after >= prefix
        ? this.pageAfter.all(after, prefixEnd(prefix), limit + 1)
        : this.pageFirst.all(prefix, prefixEnd(prefix), limit + 1);
    return leasePage(this.records(rows), limit);
  }

  async countByState(): Promise<Record<LeaseState, number>> {
    const counts = zeroStateCounts();
    for (const r of this.byState.all() as Array<{ state: LeaseState; n: number }>) counts[r.state] = r.n;
    return counts;
  }

  async countDue(now: number): Promise<number> {
    return (this.dueCount.get(now) as { n: number }).n;
  }

  async claimRevocation(id: string, now: number, nextAttemptTime: number, dueOnly: boolean): Promise<number | null> {
    const statement = dueOnly ? this.lifecycle.claimDue : this.lifecycle.claimAny;
    const row = await this.writes.run(() => statement.get({ id, now, next: nextAttemptTime }) as { attempts: number } | undefined);
    return row ? row.attempts : null;
  }

  async enqueueRevocation(id: string, now: number): Promise<boolean> {
    return this.writes.run(() => this.lifecycle.enqueue.run({ id, due: now }).changes > 0);
  }

  async forceRevoke(id: string, now: number, note: string): Promise<boolean> {
    return this.writes.run(() => {
      if (this.lifecycle.force.run({ id, now, note }).changes === 0) return false;
      this.event("force_revoked", id, now);
      return true;
    });
  }

  async dueRevocations(now: number, limit: number): Promise<LeaseRecord[]> {
    return this.records(this.lifecycle.dueRevoking.all(now, limit));
  }

  async pageInState(prefix: string, state: LeaseState, after: string | null, limit: number): Promise<LeasePage> {
    const rows =
      after !== null && after >= prefix
        ? this.lifecycle.pageStateAfter.all(state, after, prefixEnd(prefix), limit + 1)
        : this.lifecycle.pageStateFirst.all(state, prefix, prefixEnd(prefix), limit + 1);
    return leasePage(this.records(rows), limit);
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
    return this.writes.run((): TidyStep => {
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
        const fix = dueRepair(dueFields(row), now);
        if (!fix) continue;
        this.lifecycle.setDue.run({ id: row.id, state: row.state, due: fix.due, next: fix.next });
        if (fix.rescheduled) step.rescheduled++;
        else step.repaired++;
      }
      const last = rows[rows.length - 1];
      step.next = rows.length === limit && last ? last.id : null;
      return step;
    });
  }

  async purgeRevoked(before: number, limit: number): Promise<number> {
    return this.writes.run(() => this.lifecycle.purgeRevoked.run(before, limit).changes);
  }
}

class SqliteEvents implements LeaseEventStore {
  private readonly afterAll: Statement;
  private readonly afterPrefix: Statement;
  private readonly latest: Statement;
  private readonly pruneOld: Statement;

  constructor(
    db: SqliteDatabase,
    private readonly writes: GroupCommit,
  ) {
    this.afterAll = db.prepare("SELECT * FROM lease_events WHERE sequence > ? ORDER BY sequence LIMIT ?");
    this.afterPrefix = db.prepare(
      "SELECT * FROM lease_events WHERE sequence > ? AND lease_id >= ? AND lease_id < ? ORDER BY sequence LIMIT ?",
    );
    this.latest = db.prepare("SELECT COALESCE(MAX(sequence), 0) AS s FROM lease_events");
    this.pruneOld = db.prepare("DELETE FROM lease_events WHERE time < ?");
  }

  async after(sequence: number, prefix: string, limit: number): Promise<LeaseEventRecord[]> {
    const rows = (
      prefix === "" ? this.afterAll.all(sequence, limit) : this.afterPrefix.all(sequence, prefix, prefixEnd(prefix), limit)
    ) as EventRow[];
    return rows.map(eventRecord);
  }

  async latestSequence(): Promise<number> {
    return (this.latest.get() as { s: number }).s;
  }

  async prune(time: number): Promise<number> {
    return this.writes.run(() => this.pruneOld.run(time).changes);
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
    const data = this.keyring.sealJson(intent.data, aad.intent(intent.id));
    await this.writes.run(() => this.insertOne.run({ ...intent, data }));
  }

  async delete(id: string): Promise<void> {
    await this.writes.run(() => this.deleteOne.run(id));
  }

  async existsForLease(leaseId: string): Promise<boolean> {
    return this.byLease.get(leaseId) !== undefined;
  }

  async olderThan(time: number, limit: number): Promise<IntentRecord[]> {
    return (this.older.all(time, limit) as IntentRow[]).map((r) => intentRecord(r, this.keyring));
  }
}

class SqliteTokens implements TokenStore {
  private readonly insertOne: Statement;
  private readonly byHash: Statement;
  private readonly byAccessor: Statement;
  private readonly useOne: Statement;
  private readonly deleteOne: Statement;
  private readonly anyOne: Statement;

  constructor(db: SqliteDatabase) {
    this.insertOne = db.prepare(
      `INSERT INTO tokens (accessor, hash, policies, display_name, parent_accessor, created_at, expire_time, ttl,
                           max_expire_time, renewable, num_uses, uses_left, meta, bound_cidrs)
       VALUES (@accessor, @hash, @policies, @displayName, @parentAccessor, @createdAt, @expireTime, @ttlSeconds,
               @maxExpireTime, @renewable, @numUses, @usesLeft, @meta, @boundCidrs)`,
    );
    this.byHash = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = ?`);
    this.byAccessor = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE accessor = ?`);
    this.useOne = db.prepare(
      "UPDATE tokens SET uses_left = uses_left - 1 WHERE accessor = ? AND uses_left > 0 RETURNING uses_left",
    );
    this.deleteOne = db.prepare("DELETE FROM tokens WHERE accessor = ?");
    this.anyOne = db.prepare("SELECT 1 AS one FROM tokens LIMIT 1");
  }

  async insert(hash: Buffer, token: TokenRecord): Promise<void> {
    this.insertOne.run({ ...token, ...tokenJsonColumns(token), hash, renewable: token.renewable ? 1 : 0 });
  }

  async getByHash(hash: Buffer): Promise<TokenRecord | undefined> {
    const r = this.byHash.get(hash) as TokenRow | undefined;
    return r ? tokenRecord(r) : undefined;
  }

  async getByAccessor(accessor: string): Promise<TokenRecord | undefined> {
    const r = this.byAccessor.get(accessor) as TokenRow | undefined;
    return r ? tokenRecord(r) : undefined;
  }

  async consumeUse(accessor: string): Promise<number> {
    const r = this.useOne.get(accessor) as { uses_left: number } | undefined;
    return r ? r.uses_left : -1;
  }

  async delete(accessor: string): Promise<void> {
    this.deleteOne.run(accessor);
  }

  async any(): Promise<boolean> {
    return this.anyOne.get() !== undefined;
  }
}
