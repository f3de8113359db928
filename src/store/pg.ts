// The shared store: PostgreSQL (the `pg` package), for several Lessor replicas
// on one database. Same interface and semantics as the SQLite store
// (sqlite.ts, sqlite-lifecycle.ts, sqlite-security.ts), same sealing and row
// shapes (common.ts). Every multi-step change is one transaction using conditional
// UPDATEs or row locks, never a read in one statement and a write in another
// that another replica could slip between.
import pg from "pg";
import type { QueryResultRow } from "pg";
import type { Logger } from "pino";
import { Keyring } from "./encryption.js";
import {
  sameEntry,
  aad,
  dueFields,
  dueRepair,
  eventRecord,
  foldKeys,
  intentRecord,
  jobRecord,
  KEY_CHECK,
  keyCheckOpens,
  LEASE_COLUMNS,
  LeaseChangeHooks,
  leasePage,
  leaseRecord,
  mountRecord,
  prefixEnd,
  sealKeyCheck,
  StoreRefusal,
  TIDY_COLUMNS,
  tokenJsonColumns,
  tokenRecord,
  TOKEN_COLUMNS,
  wrongKeyError,
  zeroStateCounts,
  type EventRow,
  type IntentRow,
  type JobRow,
  type LeaseRow,
  type MountRow,
  type TidyRow,
  type TokenRow,
} from "./common.js";
import { parsePgUrl } from "./pg-connect.js";
import { BatchedLookup, BatchedWrites, GroupCommit, MIGRATION_LOCK, OWNER_LOCK_CLASS, OwnerLock, PgDb, type Tx, type WriteKind } from "./pg-db.js";
import { PG_MIGRATIONS } from "./pg-migrations.js";
import { EventSequencer } from "./pg-sequencer.js";
import { bumpConfig, PgAuditDevices, PgCluster, PgPolicies, PgQuotas, PgSealedData, PgSettings, PgTokenTree } from "./pg-security.js";
import type {
  AuditDeviceStore,
  ClusterStore,
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
  PolicyStore,
  PrefixBatch,
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

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database?sslmode=...&pool_size=N */
  url: string;
  /** CA bundle (PEM) to verify the server's certificate (verify-ca, verify-full). */
  caFile?: string;
  keyring: Keyring;
  logger?: Logger;
  /** Connections in the pool (default: the URL's pool_size, else 10). */
  poolSize?: number;
  /** See DEFAULT_REVOKE_CLAIM_TIMEOUT_MS (default: the URL's revoke_claim_timeout, else 30 s). */
  revokeClaimTimeoutMs?: number;
}

const WRONG_KEY_HINT = "start with the key file the other replicas use";

/** Opens (creating and migrating as needed) the PostgreSQL store. */
export async function openPgStore(options: PgStoreOptions): Promise<Store> {
  const conn = parsePgUrl(options.url, options.caFile, options.poolSize);
  const pool = new pg.Pool(conn.config);
  const hooks = new LeaseChangeHooks();
  const db = new PgDb(pool, conn.display, conn.secrets, hooks, options.logger);
  let ownerLock: OwnerLock | undefined;
  try {
    await migrateAndCheckKey(db, options.keyring);
    ownerLock = await OwnerLock.acquire(conn.config, conn.display, conn.secrets, options.logger);
    // A few connections opened now, not on the first requests (each costs a
    // TCP and authentication round trip or several, and a TLS handshake).
    const warm = await Promise.allSettled(Array.from({ length: Math.min(4, conn.config.max ?? 4) }, () => db.connect()));
    for (const w of warm) if (w.status === "fulfilled") w.value.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  db.opened = true;
  const sequencer = new EventSequencer(db, { config: conn.config, display: conn.display, secrets: conn.secrets, logger: options.logger });
  sequencer.start();
  return new PgStore(db, hooks, ownerLock, sequencer, options.keyring, options.revokeClaimTimeoutMs ?? conn.revokeClaimTimeoutMs);
}

/**
 * Under a session advisory lock (replicas starting together take turns):
 * refuses a schema newer than this Lessor knows, checks the key against the
 * stored check value before writing anything (beyond creating the version
 * table), runs pending migrations, and on first start stores the check value
 * (INSERT ... ON CONFLICT DO NOTHING, then re-read: if another replica got
 * there first with another key, this one refuses).
 */
async function migrateAndCheckKey(db: PgDb, keyring: Keyring): Promise<void> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      // Looked up first: on an existing database nothing is written (and no
      // CREATE privilege is needed) before the key is checked.
      const exists = (await client.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")).rows[0]?.t;
      if (!exists) {
        await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      }
      const current = Number(
        (await client.query<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations")).rows[0]?.v ?? 0,
      );
      if (current > PG_MIGRATIONS.length) {
        throw new StoreRefusal(
          `database schema version ${current} is newer than this Lessor knows (${PG_MIGRATIONS.length}); upgrade Lessor (every replica must run the same or a newer version)`,
        );
      }
      const checkKey = async (): Promise<boolean> => {
        const row = (await client.query<{ value: Buffer }>("SELECT value FROM meta WHERE key = $1", [KEY_CHECK])).rows[0];
        if (!row) return false;
        if (!keyCheckOpens(keyring, row.value)) throw wrongKeyError(WRONG_KEY_HINT);
        return true;
      };
      // An existing database: the key is checked before any migration writes.
      let checked = current >= 1 ? await checkKey() : false;
      for (let v = current; v < PG_MIGRATIONS.length; v++) {
        await client.query("BEGIN");
        try {
          await client.query(PG_MIGRATIONS[v] as string);
          await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [v + 1, Date.now()]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        }
      }
      if (!checked) {
        await client.query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [KEY_CHECK, sealKeyCheck(keyring)]);
        checked = await checkKey();
        if (!checked) throw new Error("the key check value could not be stored");
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch((err: unknown) => {
        broken = err instanceof Error ? err : new Error(String(err));
      });
    }
  } catch (err) {
    if (err instanceof StoreRefusal) throw err;
    throw db.wrap(err);
  } finally {
    client.release(broken);
  }
}

class PgStore implements Store {
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
  readonly cluster: ClusterStore;
  readonly onLeaseChange: (listener: () => void) => () => void;

  constructor(
    private readonly db: PgDb,
    hooks: LeaseChangeHooks,
    private readonly ownerLock: OwnerLock,
    private readonly sequencer: EventSequencer,
    keyring: Keyring,
    revokeClaimTimeoutMs: number,
  ) {
    // A closure, not a field: the hooks are no area of the store.
    this.onLeaseChange = (listener) => hooks.subscribe(listener);
    const writes = new GroupCommit(db);
    this.mounts = new PgMounts(db);
    this.entries = new PgEntries(db, keyring);
    this.leases = new PgLeases(db, keyring, writes, revokeClaimTimeoutMs);
    this.events = new PgEvents(db, sequencer);
    const intents = new PgIntents(db, keyring, writes, ownerLock.owner);
    this.intents = intents;
    this.tokens = new PgTokens(db);
    this.policies = new PgPolicies(db);
    this.quotas = new PgQuotas(db);
    this.auditDevices = new PgAuditDevices(db, keyring);
    this.settings = new PgSettings(db, keyring);
    this.tokenTree = new PgTokenTree(db);
    this.sealed = new PgSealedData(db, keyring);
    this.jobs = new PgRevocationJobs(db);
    this.cluster = new PgCluster(db, (limit) => intents.orphaned(limit), revokeClaimTimeoutMs);
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sequencer.close();
    await this.db.end();
    await this.ownerLock.release();
  }
}

class PgMounts implements MountStore {
  constructor(private readonly db: PgDb) {}

  async list(): Promise<MountRecord[]> {
    const { rows } = await this.db.query<MountRow>("SELECT * FROM mounts ORDER BY path");
    return rows.map(mountRecord);
  }

  async insert(m: MountRecord): Promise<void> {
    await this.db.tx(async (tx) => {
      await tx.query(
        `INSERT INTO mounts (path, accessor, type, description, default_ttl, max_ttl, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [m.path, m.accessor, m.type, m.description, m.defaultTtlSeconds, m.maxTtlSeconds, m.createdAt],
      );
      await bumpConfig(tx);
    });
  }

  async delete(path: string): Promise<void> {
    await this.db.tx(async (tx) => {
      const { rows } = await tx.query<{ accessor: string }>("DELETE FROM mounts WHERE path = $1 RETURNING accessor", [path]);
      const row = rows[0];
      if (row) {
        await tx.query("DELETE FROM engine_entries WHERE mount_accessor = $1", [row.accessor]);
        await bumpConfig(tx);
      }
    });
  }
}

class PgEntries implements EngineEntryStore {
  constructor(
    private readonly db: PgDb,
    private readonly keyring: Keyring,
  ) {}

  async get(mountAccessor: string, key: string): Promise<JsonValue | undefined> {
    const { rows } = await this.db.query<{ value: Buffer }>(
      { name: "entry_get", text: "SELECT value FROM engine_entries WHERE mount_accessor = $1 AND key = $2" },
      [mountAccessor, key],
    );
    const row = rows[0];
    return row ? this.keyring.openJson<JsonValue>(row.value, aad.entry(mountAccessor, key)) : undefined;
  }

  async put(mountAccessor: string, key: string, value: JsonValue): Promise<void> {
    await this.db.query(
      {
        name: "entry_put",
        text: `INSERT INTO engine_entries (mount_accessor, key, value) VALUES ($1, $2, $3)
               ON CONFLICT (mount_accessor, key) DO UPDATE SET value = excluded.value`,
      },
      [mountAccessor, key, this.keyring.sealJson(value, aad.entry(mountAccessor, key))],
    );
  }

  async delete(mountAccessor: string, key: string): Promise<boolean> {
    const r = await this.db.query("DELETE FROM engine_entries WHERE mount_accessor = $1 AND key = $2", [mountAccessor, key]);
    return r.rowCount > 0;
  }

  async compareAndSwap(mountAccessor: string, key: string, expected: JsonValue | undefined, next: JsonValue | undefined): Promise<boolean> {
    const bound = aad.entry(mountAccessor, key);
    const { rows } = await this.db.query<{ value: Buffer }>({ name: "entry_get", text: "SELECT value FROM engine_entries WHERE mount_accessor = $1 AND key = $2" }, [
      mountAccessor,
      key,
    ]);
    const row = rows[0];
    if (!sameEntry(row === undefined ? undefined : this.keyring.openJson<JsonValue>(row.value, bound), expected)) return false;
    // Conditional on the sealed bytes read (every seal is unique): of two replicas swapping from the same value, one wins.
    if (row === undefined) {
      if (next === undefined) return true;
      const r = await this.db.query("INSERT INTO engine_entries (mount_accessor, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [
        mountAccessor,
        key,
        this.keyring.sealJson(next, bound),
      ]);
      return r.rowCount === 1;
    }
    const r =
      next === undefined
        ? await this.db.query("DELETE FROM engine_entries WHERE mount_accessor = $1 AND key = $2 AND value = $3", [mountAccessor, key, row.value])
        : await this.db.query("UPDATE engine_entries SET value = $4 WHERE mount_accessor = $1 AND key = $2 AND value = $3", [
            mountAccessor,
            key,
            row.value,
            this.keyring.sealJson(next, bound),
          ]);
    return r.rowCount === 1;
  }

  async list(mountAccessor: string, prefix: string): Promise<string[]> {
    const { rows } = await this.db.query<{ key: string }>(
      "SELECT key FROM engine_entries WHERE mount_accessor = $1 AND key >= $2 AND key < $3 ORDER BY key",
      [mountAccessor, prefix, prefixEnd(prefix)],
    );
    return foldKeys(
      rows.map((r) => r.key),
      prefix,
    );
  }
}

class PgLeases implements LeaseStore {
  constructor(
    private readonly db: PgDb,
    private readonly keyring: Keyring,
    private readonly writes: GroupCommit,
    private readonly claimTimeoutMs: number,
  ) {
    this.inserts = new BatchedWrites(db, leasesFromIntents);
  }

  private readonly inserts: BatchedWrites<LeaseInsert, boolean, { id: string }>;

  private row(r: LeaseRow): LeaseRecord {
    return leaseRecord(r, this.keyring);
  }

  async get(id: string): Promise<LeaseRecord | undefined> {
    const { rows } = await this.db.query<LeaseRow>({ name: "lease_get", text: `SELECT ${LEASE_COLUMNS} FROM leases WHERE id = $1` }, [id]);
    const r = rows[0];
    return r ? this.row(r) : undefined;
  }

  async insertFromIntent(lease: NewLease, intentId: string | null): Promise<boolean> {
    const internal = this.keyring.sealJson(lease.internal, aad.lease(lease.id));
    return this.inserts.run({ lease, internal, intentId });
  }

  async idsWithPrefix(prefix: string, states: LeaseState[], limit: number): Promise<string[]> {
    if (states.length === 0) return [];
    const { rows } = await this.db.query<{ id: string }>(
      "SELECT id FROM leases WHERE id >= $1 AND id < $2 AND state = ANY($3::text[]) ORDER BY id LIMIT $4",
      [prefix, prefixEnd(prefix), states, limit],
    );
    return rows.map((r) => r.id);
  }

  async due(now: number, limit: number, skipMounts: readonly string[] = []): Promise<LeaseRecord[]> {
    // SKIP LOCKED: a lease another replica is claiming (or revoking) right
    // now is left to it. The claim itself (claimRevocation, dueOnly) is what
    // makes taking a lease exclusive.
    const { rows } = await this.db.query<LeaseRow>(
      {
        name: "lease_due",
        text: `SELECT ${LEASE_COLUMNS} FROM leases WHERE due_time <= $1 AND NOT (mount_accessor = ANY($3::text[]))
               ORDER BY due_time LIMIT $2 FOR UPDATE SKIP LOCKED`,
      },
      [now, limit, skipMounts],
    );
    return rows.map((r) => this.row(r));
  }

  async nextDueTime(): Promise<number | null> {
    const { rows } = await this.db.query<{ t: number | null }>({
      name: "lease_next_due",
      text: "SELECT MIN(due_time) AS t FROM leases WHERE due_time IS NOT NULL",
    });
    return rows[0]?.t ?? null;
  }

  async markRevoked(id: string, now: number, reason: RevokeReason): Promise<void> {
    await this.writes.run(async (tx) => {
      const r = await tx.query(
        {
          name: "lease_revoked",
          text: `UPDATE leases SET state = 'revoked', due_time = NULL, next_attempt_time = NULL, revoke_time = $2, last_error = NULL,
                        claimed_until = NULL
                 WHERE id = $1 AND state != 'revoked'`,
        },
        [id, now],
      );
      if (r.rowCount > 0) tx.event(reason, id, now);
    });
  }

  async recordRevokeFailure(id: string, error: string, nextAttemptTime: number | null, irrevocable: boolean): Promise<void> {
    await this.writes.run(async (tx) => {
      await tx.query(
        {
          name: "lease_failure",
          text: `UPDATE leases SET attempts = attempts + 1, last_error = $2, next_attempt_time = $3, due_time = $3, claimed_until = NULL,
                        state = CASE WHEN $4::boolean THEN 'irrevocable' ELSE state END
                 WHERE id = $1`,
        },
        [id, error, nextAttemptTime, irrevocable],
      );
      if (irrevocable) tx.event("irrevocable", id, Date.now(), null, error);
    });
  }

  async renew(id: string, expireTime: number, now: number): Promise<void> {
    await this.writes.run(async (tx) => {
      const r = await tx.query(
        {
          name: "lease_renew",
          text: `UPDATE leases SET expire_time = $2, due_time = $2, last_renewal_time = $3
                 WHERE id = $1 AND state = 'active'`,
        },
        [id, expireTime, now],
      );
      if (r.rowCount > 0) tx.event("renewed", id, now, expireTime);
    });
  }

  private async pageOf(state: LeaseState | null, prefix: string, after: string | null, limit: number): Promise<LeasePage> {
    const stateClause = state === null ? "" : "AND state = $4";
    const values: unknown[] = [after !== null && after >= prefix ? after : prefix, prefixEnd(prefix), limit + 1];
    if (state !== null) values.push(state);
    const op = after !== null && after >= prefix ? ">" : ">=";
    const { rows } = await this.db.query<LeaseRow>(
      `SELECT ${LEASE_COLUMNS} FROM leases WHERE id ${op} $1 AND id < $2 ${stateClause} ORDER BY id LIMIT $3`,
      values,
    );
    return leasePage(
      rows.map((r) => this.row(r)),
      limit,
    );
  }

  async page(prefix: string, after: string | null, limit: number): Promise<LeasePage> {
    return this.pageOf(null, prefix, after, limit);
  }

  async countByState(): Promise<Record<LeaseState, number>> {
    const counts = zeroStateCounts();
    const { rows } = await this.db.query<{ state: LeaseState; n: number }>("SELECT state, COUNT(*) AS n FROM leases GROUP BY state");
    for (const r of rows) counts[r.state] = r.n;
    return counts;
  }

  async countDue(now: number): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM leases WHERE due_time IS NOT NULL AND due_time <= $1",
      [now],
    );
    return rows[0]?.n ?? 0;
  }

  async claimRevocation(id: string, now: number, nextAttemptTime: number, dueOnly: boolean): Promise<number | null> {
    // One conditional UPDATE: of two replicas claiming the same due lease,
    // the second waits for the first's row lock, then re-checks the condition
    // against the new row and takes nothing. Unlike SQLite (one process, which
    // never runs two attempts on one lease at once), the claim holds the lease
    // for at least the claim timeout: a revocation slower than its retry delay
    // must not be taken up by another replica while it runs (claimed_until,
    // which also stops an explicit revoke on another replica). If this replica
    // dies mid-attempt, the lease is due again when the claim runs out.
    const until = Math.max(nextAttemptTime, now + this.claimTimeoutMs);
    const rows = await this.writes.run(
      async (tx) =>
        (
          dueOnly
            ? await tx.query<{ attempts: number }>(
                {
                  name: "lease_claim_due",
                  text: `UPDATE leases SET state = 'revoking', due_time = $3, next_attempt_time = $3, claimed_until = $3
                         WHERE id = $1 AND due_time <= $2 AND (claimed_until IS NULL OR claimed_until <= $2)
                           AND (state = 'revoking' OR (state = 'active' AND expire_time <= $2)) RETURNING attempts`,
                },
                [id, now, until],
              )
            : await tx.query<{ attempts: number }>(
                {
                  name: "lease_claim_any",
                  text: `UPDATE leases SET state = 'revoking', due_time = $3, next_attempt_time = $3, claimed_until = $3
                         WHERE id = $1 AND state IN ('active', 'revoking', 'irrevocable')
                           AND (claimed_until IS NULL OR claimed_until <= $2) RETURNING attempts`,
                },
                [id, now, until],
              )
        ).rows,
    );
    const row = rows[0];
    return row ? row.attempts : null;
  }

  async enqueueRevocation(id: string, now: number): Promise<boolean> {
    const r = await this.db.query(enqueueSql, [id, now]);
    return r.rowCount > 0;
  }

  async forceRevoke(id: string, now: number, note: string): Promise<boolean> {
    return this.db.tx(async (tx) => {
      if ((await forceOne(tx, id, now, note)) === 0) return false;
      tx.event("force_revoked", id, now);
      return true;
    });
  }

  async dueRevocations(now: number, limit: number): Promise<LeaseRecord[]> {
    const { rows } = await this.db.query<LeaseRow>(
      {
        name: "lease_due_revoking",
        text: `SELECT ${LEASE_COLUMNS} FROM leases WHERE state = 'revoking' AND due_time <= $1
               ORDER BY due_time LIMIT $2 FOR UPDATE SKIP LOCKED`,
      },
      [now, limit],
    );
    return rows.map((r) => this.row(r));
  }

  async pageInState(prefix: string, state: LeaseState, after: string | null, limit: number): Promise<LeasePage> {
    return this.pageOf(state, prefix, after, limit);
  }

  async states(ids: readonly string[]): Promise<LeaseStateRow[]> {
    if (ids.length === 0) return [];
    const out: LeaseStateRow[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const { rows } = await this.db.query<LeaseStateRow>("SELECT id, state, attempts FROM leases WHERE id = ANY($1::text[])", [chunk]);
      out.push(...rows);
    }
    return out;
  }

  async tidyStep(after: string | null, limit: number, now: number, liveMounts: ReadonlySet<string>, orphanError: string): Promise<TidyStep> {
    return this.db.tx(async (tx): Promise<TidyStep> => {
      // The window (and where the next step starts) comes from an unlocked
      // read; the rows in it are then locked, skipping any another
      // transaction holds (they are being changed now; a later tidy sees them).
      const window = await tx.query<{ id: string }>("SELECT id FROM leases WHERE id > $1 ORDER BY id LIMIT $2", [after ?? "", limit]);
      const step: TidyStep = { repaired: 0, rescheduled: 0, orphaned: 0, next: null };
      const last = window.rows[window.rows.length - 1];
      if (!last) return step;
      const { rows } = await tx.query<TidyRow>(
        `SELECT ${TIDY_COLUMNS} FROM leases WHERE id > $1 AND id <= $2 ORDER BY id FOR UPDATE SKIP LOCKED`,
        [after ?? "", last.id],
      );
      for (const row of rows) {
        if ((row.state === "active" || row.state === "revoking") && !liveMounts.has(row.mount_accessor)) {
          const r = await tx.query(
            `UPDATE leases SET state = 'irrevocable', due_time = NULL, next_attempt_time = NULL, last_error = $2
             WHERE id = $1 AND state IN ('active', 'revoking')`,
            [row.id, orphanError],
          );
          if (r.rowCount > 0) {
            tx.event("irrevocable", row.id, now, null, orphanError);
            step.orphaned++;
          }
          continue;
        }
        const fix = dueRepair(dueFields(row), now);
        if (!fix) continue;
        await tx.query("UPDATE leases SET due_time = $3, next_attempt_time = $4 WHERE id = $1 AND state = $2", [
          row.id,
          row.state,
          fix.due,
          fix.next,
        ]);
        if (fix.rescheduled) step.rescheduled++;
        else step.repaired++;
      }
      step.next = window.rows.length === limit ? last.id : null;
      return step;
    });
  }

  async purgeRevoked(before: number, limit: number): Promise<number> {
    const r = await this.db.query(
      `DELETE FROM leases WHERE id IN (
         SELECT id FROM leases WHERE state = 'revoked' AND revoke_time < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return r.rowCount;
  }
}

/**
 * Records leases with their created events, each ending its intent (null:
 * none), as insertFromIntent; the outcome says whether it was recorded. The
 * DELETE locks each intent row: a rollback's claim (an UPDATE of the same
 * row) either committed first, and this deletes nothing (nor records that
 * lease), or waits and then finds no row.
 */
type LeaseInsert = { lease: NewLease; internal: Buffer; intentId: string | null };
const leasesFromIntents: WriteKind<LeaseInsert, boolean, { id: string }> = {
  queuesEvents: true,
  statement: (items) => ({
    sql: {
      name: "leases_from_intents",
      text: `WITH l AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::bigint[], $7::bigint[],
                                    $8::boolean[], $9::text[], $10::bigint[], $11::text[])
                 AS l(id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time, renewable, token_accessor, ttl, intent_id)),
             taken AS (
               DELETE FROM intents WHERE id IN (SELECT intent_id FROM l) AND claimed_at IS NULL RETURNING id),
             made AS (
               INSERT INTO leases (id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time,
                                   renewable, state, token_accessor, due_time, ttl)
               SELECT id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time,
                      renewable, 'active', token_accessor, expire_time, ttl
               FROM l WHERE intent_id IS NULL OR intent_id IN (SELECT id FROM taken)
               RETURNING id, issue_time, expire_time),
             queued AS (
               INSERT INTO lease_event_queue (type, lease_id, time, expire_time, detail)
               SELECT 'created', id, issue_time, expire_time, NULL FROM made)
           SELECT id FROM made`,
    },
    values: [
      items.map((i) => i.lease.id),
      items.map((i) => i.lease.mountAccessor),
      items.map((i) => i.lease.secretType),
      items.map((i) => i.internal),
      items.map((i) => i.lease.issueTime),
      items.map((i) => i.lease.expireTime),
      items.map((i) => i.lease.maxExpireTime),
      items.map((i) => i.lease.renewable),
      items.map((i) => i.lease.tokenAccessor),
      items.map((i) => i.lease.ttlSeconds),
      items.map((i) => i.intentId),
    ],
  }),
  outcomes(rows, items) {
    const made = new Set(rows.map((r) => r.id));
    return items.map((i) => made.has(i.lease.id));
  },
};

/** Records issuance intents (sealed data), as intents.insert. */
type IntentInsert = { intent: IntentRecord; data: Buffer; owner: number };
const intentInserts: WriteKind<IntentInsert, void> = {
  queuesEvents: false,
  statement: (items) => ({
    sql: {
      name: "intents_insert",
      text: `INSERT INTO intents (id, lease_id, mount_accessor, secret_type, data, created_at, owner)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[], $7::int[])`,
    },
    values: [
      items.map((i) => i.intent.id),
      items.map((i) => i.intent.leaseId),
      items.map((i) => i.intent.mountAccessor),
      items.map((i) => i.intent.secretType),
      items.map((i) => i.data),
      items.map((i) => i.intent.createdAt),
      items.map((i) => i.owner),
    ],
  }),
  outcomes: (_, items) => items.map(() => undefined),
};

/** Marks a lease revoking, due at $2 (queued for the scheduler). */
const enqueueSql = {
  name: "lease_enqueue",
  text: `UPDATE leases SET state = 'revoking', due_time = $2, next_attempt_time = $2
         WHERE id = $1 AND state IN ('active', 'revoking', 'irrevocable')`,
};

async function forceOne(tx: Tx, id: string, now: number, note: string): Promise<number> {
  const r = await tx.query(
    {
      name: "lease_force",
      text: `UPDATE leases SET state = 'revoked', due_time = NULL, next_attempt_time = NULL, revoke_time = $2, last_error = $3,
                    claimed_until = NULL
             WHERE id = $1 AND state != 'revoked'`,
    },
    [id, now, note],
  );
  return r.rowCount;
}

/**
 * Reads numbered events (lease_events). Before reading, events this process
 * committed that are not numbered yet are numbered (pg-sequencer.ts), so a
 * write that has resolved is readable here at once; other replicas' events
 * within the sequencer's interval.
 */
class PgEvents implements LeaseEventStore {
  constructor(
    private readonly db: PgDb,
    private readonly sequencer: EventSequencer,
  ) {}

  async after(sequence: number, prefix: string, limit: number): Promise<LeaseEventRecord[]> {
    await this.sequencer.catchUp();
    const { rows } =
      prefix === ""
        ? await this.db.query<EventRow>(
            { name: "events_after", text: "SELECT * FROM lease_events WHERE sequence > $1 ORDER BY sequence LIMIT $2" },
            [sequence, limit],
          )
        : await this.db.query<EventRow>(
            {
              name: "events_after_prefix",
              text: "SELECT * FROM lease_events WHERE sequence > $1 AND lease_id >= $2 AND lease_id < $3 ORDER BY sequence LIMIT $4",
            },
            [sequence, prefix, prefixEnd(prefix), limit],
          );
    return rows.map(eventRecord);
  }

  async latestSequence(): Promise<number> {
    await this.sequencer.catchUp();
    const { rows } = await this.db.query<{ s: number }>({
      name: "events_latest",
      text: "SELECT COALESCE(MAX(sequence), 0)::bigint AS s FROM lease_events",
    });
    return rows[0]?.s ?? 0;
  }

  async prune(time: number): Promise<number> {
    // Numbered first, as for a read: an event this process committed before is in the history to prune.
    await this.sequencer.catchUp();
    return (await this.db.query("DELETE FROM lease_events WHERE time < $1", [time])).rowCount;
  }
}

class PgIntents implements IntentStore {
  constructor(
    private readonly db: PgDb,
    private readonly keyring: Keyring,
    private readonly writes: GroupCommit,
    private readonly owner: number,
  ) {
    this.inserts = new BatchedWrites(db, intentInserts);
  }

  private readonly inserts: BatchedWrites<IntentInsert, void, QueryResultRow>;

  async insert(intent: IntentRecord): Promise<void> {
    const data = this.keyring.sealJson(intent.data, aad.intent(intent.id));
    await this.inserts.run({ intent, data, owner: this.owner });
  }

  async claim(id: string, now: number, staleClaimBefore: number): Promise<boolean> {
    const r = await this.db.query(
      "UPDATE intents SET claimed_at = $2 WHERE id = $1 AND (claimed_at IS NULL OR claimed_at <= $3)",
      [id, now, staleClaimBefore],
    );
    return r.rowCount > 0;
  }

  async release(id: string): Promise<void> {
    await this.db.query("UPDATE intents SET claimed_at = NULL WHERE id = $1", [id]);
  }

  async delete(id: string): Promise<void> {
    await this.writes.run((tx) => tx.query({ name: "intent_delete", text: "DELETE FROM intents WHERE id = $1" }, [id]));
  }

  async olderThan(time: number, limit: number): Promise<IntentRecord[]> {
    const { rows } = await this.db.query<IntentRow>(
      `SELECT id, lease_id, mount_accessor, secret_type, data, created_at FROM intents
       WHERE created_at <= $1 ORDER BY created_at LIMIT $2`,
      [time, limit],
    );
    return this.records(rows);
  }

  /** Intents whose owner's liveness lock no session holds: the process that wrote them is gone. */
  async orphaned(limit: number): Promise<IntentRecord[]> {
    const { rows } = await this.db.query<IntentRow>(
      `SELECT id, lease_id, mount_accessor, secret_type, data, created_at FROM intents
       WHERE owner NOT IN (
         SELECT objid::int8 FROM pg_locks
         WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid::int8 = $1
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
       ORDER BY created_at LIMIT $2`,
      [OWNER_LOCK_CLASS, limit],
    );
    return this.records(rows);
  }

  private records(rows: IntentRow[]): IntentRecord[] {
    return rows.map((r) => intentRecord(r, this.keyring));
  }

  async existsForLease(leaseId: string): Promise<boolean> {
    const { rows } = await this.db.query("SELECT 1 FROM intents WHERE lease_id = $1 LIMIT 1", [leaseId]);
    return rows.length > 0;
  }
}

class PgTokens implements TokenStore {
  constructor(private readonly db: PgDb) {}

  /** Every request reads its token: those read together share one query. */
  private readonly byHash = new BatchedLookup<Buffer, TokenRow>(
    async (hashes) => {
      const { rows } = await this.db.query<TokenRow & { hash: Buffer }>(
        { name: "tokens_by_hashes", text: `SELECT hash, ${TOKEN_COLUMNS} FROM tokens WHERE hash = ANY($1::bytea[])` },
        [hashes],
      );
      return new Map(rows.map((r) => [r.hash.toString("hex"), r]));
    },
    (hash) => hash.toString("hex"),
  );

  async insert(hash: Buffer, t: TokenRecord): Promise<void> {
    const json = tokenJsonColumns(t);
    await this.db.query(
      `INSERT INTO tokens (accessor, hash, policies, display_name, parent_accessor, created_at, expire_time, ttl,
                           max_expire_time, renewable, num_uses, uses_left, meta, bound_cidrs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        t.accessor,
        hash,
        json.policies,
        t.displayName,
        t.parentAccessor,
        t.createdAt,
        t.expireTime,
        t.ttlSeconds,
        t.maxExpireTime,
        t.renewable,
        t.numUses,
        t.usesLeft,
        json.meta,
        json.boundCidrs,
      ],
    );
  }

  async getByHash(hash: Buffer): Promise<TokenRecord | undefined> {
    const r = await this.byHash.get(hash);
    return r ? tokenRecord(r) : undefined;
  }

  async getByAccessor(accessor: string): Promise<TokenRecord | undefined> {
    const { rows } = await this.db.query<TokenRow>(
      { name: "token_by_accessor", text: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE accessor = $1` },
      [accessor],
    );
    const r = rows[0];
    return r ? tokenRecord(r) : undefined;
  }

  async consumeUse(accessor: string): Promise<number> {
    const { rows } = await this.db.query<{ uses_left: number }>(
      {
        name: "token_use",
        text: "UPDATE tokens SET uses_left = uses_left - 1 WHERE accessor = $1 AND uses_left > 0 RETURNING uses_left",
      },
      [accessor],
    );
    const r = rows[0];
    return r ? r.uses_left : -1;
  }

  async delete(accessor: string): Promise<void> {
    await this.db.query("DELETE FROM tokens WHERE accessor = $1", [accessor]);
  }

  async any(): Promise<boolean> {
    const { rows } = await this.db.query("SELECT 1 FROM tokens LIMIT 1");
    return rows.length > 0;
  }
}

class PgRevocationJobs implements RevocationJobStore {
  constructor(private readonly db: PgDb) {}

  async create(job: Pick<RevocationJobRecord, "id" | "prefix" | "force" | "enqueue" | "createdAt">): Promise<void> {
    await this.db.query(
      `INSERT INTO revocation_jobs (id, prefix, force, enqueue, cursor, created_at) VALUES ($1, $2, $3, $4, NULL, $5)`,
      [job.id, job.prefix, job.force, job.enqueue, job.createdAt],
    );
  }

  async get(id: string): Promise<RevocationJobRecord | undefined> {
    const { rows } = await this.db.query<JobRow>("SELECT * FROM revocation_jobs WHERE id = $1", [id]);
    const r = rows[0];
    return r ? jobRecord(r) : undefined;
  }

  async unfinished(): Promise<RevocationJobRecord[]> {
    const { rows } = await this.db.query<JobRow>("SELECT * FROM revocation_jobs WHERE done_at IS NULL ORDER BY created_at");
    return rows.map(jobRecord);
  }

  async markBatch(id: string, now: number, dueTime: number, limit: number, forceNote: string): Promise<PrefixBatch> {
    return this.db.tx(async (tx): Promise<PrefixBatch> => {
      // The job row is locked: two replicas resuming the same job take turns
      // and never mark the same batch twice.
      const job = (await tx.query<JobRow>("SELECT * FROM revocation_jobs WHERE id = $1 FOR UPDATE", [id])).rows[0];
      if (!job || job.done_at !== null) return { leases: [], done: true };
      const end = prefixEnd(job.prefix);
      const from = job.cursor ?? job.prefix;
      const op = job.cursor === null ? ">=" : ">";
      // The leases are locked (not SKIP LOCKED: a lease skipped here would be
      // passed over by the cursor and never revoked by this job); waits are
      // short, as every other lease transaction is.
      const { rows } = await tx.query<LeaseStateRow>(
        `SELECT id, state, attempts FROM leases WHERE id ${op} $1 AND id < $2 ORDER BY id LIMIT $3 FOR UPDATE`,
        [from, end, limit],
      );
      const marked: LeaseStateRow[] = [];
      for (const row of rows) {
        if (row.state === "revoked") continue;
        if (job.force) {
          if ((await forceOne(tx, row.id, now, forceNote)) > 0) {
            tx.event("force_revoked", row.id, now);
            marked.push(row);
          }
        } else {
          const r = await tx.query(enqueueSql, [row.id, dueTime]);
          if (r.rowCount > 0) marked.push(row);
        }
      }
      const last = rows[rows.length - 1];
      if (last) {
        await tx.query("UPDATE revocation_jobs SET cursor = $2, matched = matched + $3 WHERE id = $1", [id, last.id, marked.length]);
      }
      return { leases: marked, done: rows.length < limit };
    });
  }

  async addOutcomes(id: string, revoked: number, failed: number): Promise<void> {
    if (revoked === 0 && failed === 0) return;
    await this.db.query("UPDATE revocation_jobs SET revoked = revoked + $2, failed = failed + $3 WHERE id = $1", [id, revoked, failed]);
  }

  async finish(id: string, now: number): Promise<void> {
    await this.db.query("UPDATE revocation_jobs SET done_at = $2 WHERE id = $1 AND done_at IS NULL", [id, now]);
  }

  async purgeFinished(before: number): Promise<number> {
    return (await this.db.query("DELETE FROM revocation_jobs WHERE done_at IS NOT NULL AND done_at < $1", [before])).rowCount;
  }
}
