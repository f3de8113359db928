// SQLite's group commit (one transaction for the writes of one turn of the
// event loop), apart from the store so the store's parts can take it without
// importing the store.
import type { Database as SqliteDatabase } from "better-sqlite3";

/**
 * Group commit: writes that arrive in the same turn of the event loop share
 * one transaction, so concurrent requests pay for one commit (and one copy of
 * each page they touch in the WAL) instead of one each. A write that fails is
 * undone alone: the batch runs first as one plain transaction (writes rarely
 * fail, and a savepoint per write cost two more statements each, which showed
 * in profiles of lease issuance); if any write throws, that transaction is
 * rolled back whole and the batch runs again with each write in its own
 * savepoint. Writes are SQL only, so running one again is safe. A caller's
 * promise settles only after the shared transaction has committed, so "durable
 * before the external call it leads to" still holds. Every write to leases
 * and lease events goes through here.
 */
export class GroupCommit {
  private queue: Array<{ work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private readonly inSavepoint: (work: () => unknown) => unknown;
  private readonly inTransaction: (batch: Array<() => unknown>) => Array<{ value: unknown } | { error: unknown }>;
  /** The batch in one transaction, without savepoints: all of it commits, or (a write threw) none of it. */
  private readonly allOrNothing: (batch: Array<() => unknown>) => unknown[];

  constructor(db: SqliteDatabase) {
    // A transaction function called inside another one runs in a savepoint.
    this.inSavepoint = db.transaction((work: () => unknown) => work());
    // IMMEDIATE: the write lock is taken at BEGIN, so a batch that reads
    // before it writes never meets another connection's write half-way.
    const batchTransaction = db.transaction((batch: Array<() => unknown>) =>
      batch.map((work) => {
        try {
          return { value: this.inSavepoint(work) };
        } catch (error) {
          return { error };
        }
      }),
    );
    this.inTransaction = (batch) => batchTransaction.immediate(batch);
    const plainTransaction = db.transaction((batch: Array<() => unknown>) => batch.map((work) => work()));
    this.allOrNothing = (batch) => plainTransaction.immediate(batch);
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
    const works = batch.map((op) => op.work);
    let outcomes: Array<{ value: unknown } | { error: unknown }>;
    try {
      outcomes = this.allOrNothing(works).map((value) => ({ value }));
    } catch {
      outcomes = [];
    }
    try {
      // A write threw, and the plain transaction was rolled back: again, each write in its savepoint.
      if (outcomes.length !== works.length) outcomes = this.inTransaction(works);
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
