// Tidying the lease store: repairs what can drift (a due time that disagrees
// with the lease's state, a revoking lease with no next attempt, a live lease
// whose mount is gone), rolls back abandoned issuance, and forgets revoked
// leases, finished revoke-prefix jobs and lease events older than the
// retention period. It walks the leases a chunk at a time, letting requests
// run in between, so it is safe on a store of any size.
import type { Store } from "../store/types.js";
import type { LeaseManager } from "./manager.js";

/** How long revoked lease records, finished jobs and lease events are kept (7 days). */
export const DEFAULT_LEASE_RETENTION_MS = 7 * 24 * 3600 * 1000;

export const ORPHAN_ERROR =
  "the mount that issued this lease no longer exists, so nothing can revoke its secret: destroy the secret by hand if it still exists, then revoke the lease with -force";

export interface TidyReport {
  intentsRolledBack: number;
  revokedRecordsPurged: number;
  indexEntriesRepaired: number;
  orphanedLeases: number;
  leaseEventsPurged: number;
  revocationsRescheduled: number;
}

const CHUNK = 2_000;

export class LeaseTidy {
  private readonly retentionMs: number;
  private readonly now: () => number;
  private running: Promise<TidyReport> | undefined;

  constructor(
    private readonly store: Store,
    private readonly leases: LeaseManager,
    options: { retentionMs?: number; now?: () => number } = {},
  ) {
    this.retentionMs = options.retentionMs ?? DEFAULT_LEASE_RETENTION_MS;
    this.now = options.now ?? Date.now;
  }

  /** Runs a tidy pass; a second caller while one runs shares it. */
  run(): Promise<TidyReport> {
    if (!this.running) this.running = this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<TidyReport> {
    const report: TidyReport = {
      intentsRolledBack: await this.leases.rollbackAbandoned(this.leases.intentTimeoutMs),
      revokedRecordsPurged: 0,
      indexEntriesRepaired: 0,
      orphanedLeases: 0,
      leaseEventsPurged: 0,
      revocationsRescheduled: 0,
    };
    // From the store, not the loaded mount table: a mount whose engine this
    // build lacks still owns its leases.
    const liveMounts = new Set((await this.store.mounts.list()).map((m) => m.accessor));
    let after: string | null = null;
    do {
      const step = await this.store.leases.tidyStep(after, CHUNK, this.now(), liveMounts, ORPHAN_ERROR);
      report.indexEntriesRepaired += step.repaired;
      report.revocationsRescheduled += step.rescheduled;
      report.orphanedLeases += step.orphaned;
      after = step.next;
      await new Promise((resolve) => setImmediate(resolve));
    } while (after !== null);
    if (report.revocationsRescheduled > 0) this.leases.wakeScheduler(this.now());

    const before = this.now() - this.retentionMs;
    for (;;) {
      const purged = await this.store.leases.purgeRevoked(before, CHUNK);
      report.revokedRecordsPurged += purged;
      if (purged < CHUNK) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    report.leaseEventsPurged = await this.store.events.prune(before);
    await this.store.jobs.purgeFinished(before);
    return report;
  }
}
