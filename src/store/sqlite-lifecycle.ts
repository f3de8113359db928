// SQL for the lease lifecycle beyond issue and expiry: claiming revocations,
// queueing, force, listing by state, tidying, and revoke-prefix jobs. Kept
// beside sqlite.ts (same connection, same rules): every change of a lease's
// state writes its lease_events row in the same transaction, and every write
// to leases goes through the store's group commit.
import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import { jobRecord, LEASE_COLUMNS, prefixEnd, TIDY_COLUMNS, type JobRow } from "./common.js";
import type { GroupCommit } from "./sqlite-group-commit.js";
import type { LeaseEventType, LeaseStateRow, PrefixBatch, RevocationJobRecord, RevocationJobStore } from "./types.js";

export interface LifecycleStatements {
  claimAny: Statement;
  claimDue: Statement;
  enqueue: Statement;
  force: Statement;
  dueRevoking: Statement;
  pageStateFirst: Statement;
  pageStateAfter: Statement;
  tidyRows: Statement;
  setDue: Statement;
  orphan: Statement;
  purgeRevoked: Statement;
}

export function prepareLifecycle(db: SqliteDatabase): LifecycleStatements {
  return {
    claimAny: db.prepare(
      `UPDATE leases SET state = 'revoking', due_time = @next, next_attempt_time = @next
       WHERE id = @id AND state IN ('active', 'revoking', 'irrevocable') RETURNING attempts`,
    ),
    claimDue: db.prepare(
      `UPDATE leases SET state = 'revoking', due_time = @next, next_attempt_time = @next
       WHERE id = @id AND due_time <= @now
         AND (state = 'revoking' OR (state = 'active' AND expire_time <= @now)) RETURNING attempts`,
    ),
    enqueue: db.prepare(
      `UPDATE leases SET state = 'revoking', due_time = @due, next_attempt_time = @due
       WHERE id = @id AND state IN ('active', 'revoking', 'irrevocable')`,
    ),
    force: db.prepare(
      `UPDATE leases SET state = 'revoked', due_time = NULL, next_attempt_time = NULL, revoke_time = @now, last_error = @note
       WHERE id = @id AND state != 'revoked'`,
    ),
    dueRevoking: db.prepare(`SELECT ${LEASE_COLUMNS} FROM leases WHERE state = 'revoking' AND due_time <= ? ORDER BY due_time LIMIT ?`),
    pageStateFirst: db.prepare(`SELECT ${LEASE_COLUMNS} FROM leases WHERE state = ? AND id >= ? AND id < ? ORDER BY id LIMIT ?`),
    pageStateAfter: db.prepare(`SELECT ${LEASE_COLUMNS} FROM leases WHERE state = ? AND id > ? AND id < ? ORDER BY id LIMIT ?`),
    tidyRows: db.prepare(`SELECT ${TIDY_COLUMNS} FROM leases WHERE id > ? ORDER BY id LIMIT ?`),
    setDue: db.prepare("UPDATE leases SET due_time = @due, next_attempt_time = @next WHERE id = @id AND state = @state"),
    orphan: db.prepare(
      `UPDATE leases SET state = 'irrevocable', due_time = NULL, next_attempt_time = NULL, last_error = @error
       WHERE id = @id AND state IN ('active', 'revoking')`,
    ),
    purgeRevoked: db.prepare(
      `DELETE FROM leases WHERE id IN (
         SELECT id FROM leases WHERE state = 'revoked' AND revoke_time < ? LIMIT ?)`,
    ),
  };
}

/** Writes one lease event row (inside the transaction of the change it describes). */
export type EventWriter = (type: LeaseEventType, leaseId: string, time: number, expireTime?: number | null, detail?: string | null) => void;

export function prepareEventWriter(db: SqliteDatabase): EventWriter {
  const insert = db.prepare(
    "INSERT INTO lease_events (type, lease_id, time, expire_time, detail) VALUES (@type, @leaseId, @time, @expireTime, @detail)",
  );
  return (type, leaseId, time, expireTime = null, detail = null) => void insert.run({ type, leaseId, time, expireTime, detail });
}

export class SqliteRevocationJobs implements RevocationJobStore {
  private readonly insertOne: Statement;
  private readonly getOne: Statement;
  private readonly open: Statement;
  private readonly firstRows: Statement;
  private readonly nextRows: Statement;
  private readonly advance: Statement;
  private readonly outcomes: Statement;
  private readonly done: Statement;
  private readonly purge: Statement;

  constructor(
    db: SqliteDatabase,
    private readonly writes: GroupCommit,
    private readonly lifecycle: LifecycleStatements,
    private readonly event: EventWriter,
  ) {
    this.insertOne = db.prepare(
      `INSERT INTO revocation_jobs (id, prefix, force, enqueue, cursor, created_at)
       VALUES (@id, @prefix, @force, @enqueue, NULL, @createdAt)`,
    );
    this.getOne = db.prepare("SELECT * FROM revocation_jobs WHERE id = ?");
    this.open = db.prepare("SELECT * FROM revocation_jobs WHERE done_at IS NULL ORDER BY created_at");
    this.firstRows = db.prepare("SELECT id, state, attempts FROM leases WHERE id >= ? AND id < ? ORDER BY id LIMIT ?");
    this.nextRows = db.prepare("SELECT id, state, attempts FROM leases WHERE id > ? AND id < ? ORDER BY id LIMIT ?");
    this.advance = db.prepare("UPDATE revocation_jobs SET cursor = @cursor, matched = matched + @matched WHERE id = @id");
    this.outcomes = db.prepare("UPDATE revocation_jobs SET revoked = revoked + @revoked, failed = failed + @failed WHERE id = @id");
    this.done = db.prepare("UPDATE revocation_jobs SET done_at = @now WHERE id = @id AND done_at IS NULL");
    this.purge = db.prepare("DELETE FROM revocation_jobs WHERE done_at IS NOT NULL AND done_at < ?");
  }

  async create(job: Pick<RevocationJobRecord, "id" | "prefix" | "force" | "enqueue" | "createdAt">): Promise<void> {
    this.insertOne.run({ ...job, force: job.force ? 1 : 0, enqueue: job.enqueue ? 1 : 0 });
  }

  async get(id: string): Promise<RevocationJobRecord | undefined> {
    const r = this.getOne.get(id) as JobRow | undefined;
    return r ? jobRecord(r) : undefined;
  }

  async unfinished(): Promise<RevocationJobRecord[]> {
    return (this.open.all() as JobRow[]).map(jobRecord);
  }

  async markBatch(id: string, now: number, dueTime: number, limit: number, forceNote: string): Promise<PrefixBatch> {
    return this.writes.run((): PrefixBatch => {
      const job = this.getOne.get(id) as JobRow | undefined;
      if (!job || job.done_at !== null) return { leases: [], done: true };
      const end = prefixEnd(job.prefix);
      const rows = (
        job.cursor === null ? this.firstRows.all(job.prefix, end, limit) : this.nextRows.all(job.cursor, end, limit)
      ) as LeaseStateRow[];
      const marked: LeaseStateRow[] = [];
      for (const row of rows) {
        if (row.state === "revoked") continue;
        if (job.force === 1) {
          if (this.lifecycle.force.run({ id: row.id, now, note: forceNote }).changes > 0) {
            this.event("force_revoked", row.id, now);
            marked.push(row);
          }
        } else if (this.lifecycle.enqueue.run({ id: row.id, due: dueTime }).changes > 0) {
          marked.push(row);
        }
      }
      const last = rows[rows.length - 1];
      if (last) this.advance.run({ id, cursor: last.id, matched: marked.length });
      return { leases: marked, done: rows.length < limit };
    });
  }

  async addOutcomes(id: string, revoked: number, failed: number): Promise<void> {
    if (revoked !== 0 || failed !== 0) this.outcomes.run({ id, revoked, failed });
  }

  async finish(id: string, now: number): Promise<void> {
    this.done.run({ id, now });
  }

  async purgeFinished(before: number): Promise<number> {
    return this.purge.run(before).changes;
  }
}
