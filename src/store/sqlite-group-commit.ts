// SQLite's group commit (one transaction for the writes of one turn of the
// event loop), apart from the store so the store's parts can take it without
// importing the store.
import type { Database as SqliteDatabase } from "better-sqlite3";

/**
 * Group commit: writes that arrive in the same turn of the event loop share
 * one transaction, so concurrent requests pay for one commit (and one copy of
 * each page they touch in the WAL) instead of one each. Each write still runs
 * in its own savepoint, so one that fails is undone alone; and a caller's
 * promise settles only after the shared transaction has committed, so "durable
 * before the external call it leads to" still holds. Every write to leases
 * and lease events goes through here.
 */
export class GroupCommit {
  private queue: Array<{ work: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  private scheduled = false;
  private readonly inSavepoint: (work: () => unknown) => unknown;
  private readonly inTransaction: (batch: Array<() => unknown>) => Array<{ value: unknown } | { error: unknown }>;

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
