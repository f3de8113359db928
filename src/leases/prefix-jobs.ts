// Revoke-prefix jobs: every lease under a prefix, a batch at a time, never
// all at once. Each batch is marked (revoking and due at once, or with force
// dropped) in the same transaction that moves the job's cursor, so a job
// that a restart interrupts continues by itself from where it stopped. The
// scheduler does the revocations, within each mount's rate limit; a job that
// someone waits for watches its batch finish before marking the next.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { describeError } from "../errors.js";
import type { LeaseStateRow, RevocationJobRecord, Store } from "../store/types.js";
import { FORCE_REVOKE_NOTE, type LeaseManager } from "./manager.js";

export interface PrefixProgress {
  /** Leases found under the prefix so far (live ones: not already revoked). */
  matched: number;
  /** Revoked (with force: dropped) so far. */
  revoked: number;
  /** Failed at least once and left to the scheduler's retries. */
  failed: number;
  done: boolean;
}

export interface PrefixJobOptions {
  /** Leases marked per batch. */
  batchSize?: number;
  /** How often a waited-for batch is checked. */
  pollMs?: number;
  now?: () => number;
}

export type ProgressReport = (progress: PrefixProgress) => Promise<void>;

export class RevocationJobs {
  private stopped = false;
  private readonly running = new Set<Promise<unknown>>();
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly leases: LeaseManager,
    private readonly logger: Logger,
    options: PrefixJobOptions = {},
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.pollMs = options.pollMs ?? 200;
    this.now = options.now ?? Date.now;
  }

  /** Continues, in the background, the jobs a previous run left unfinished. Returns how many. */
  async resume(): Promise<number> {
    const jobs = await this.store.jobs.unfinished();
    for (const job of jobs) {
      this.logger.info({ job: job.id, prefix: job.prefix, cursor: job.cursor }, "resuming revoke-prefix job");
      void this.track(this.work(job, async () => undefined)).catch((err: unknown) =>
        this.logger.error({ job: job.id, err: describeError(err) }, "revoke-prefix job failed; it resumes at the next start"),
      );
    }
    return jobs.length;
  }

  /** Records a job and runs it to the end, reporting progress as it goes. */
  async run(prefix: string, force: boolean, enqueue: boolean, report: ProgressReport): Promise<PrefixProgress> {
    const job: RevocationJobRecord = {
      id: randomUUID(),
      prefix,
      force,
      enqueue,
      cursor: null,
      createdAt: this.now(),
      doneAt: null,
      matched: 0,
      revoked: 0,
      failed: 0,
    };
    await this.store.jobs.create(job);
    this.logger.info({ job: job.id, prefix, force, enqueue }, "revoke-prefix job started");
    return this.track(this.work(job, report));
  }

  /** Stops marking and waiting; unfinished jobs resume at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.running]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    void work.finally(() => this.running.delete(work)).catch(() => undefined);
    return work;
  }

  private async work(job: RevocationJobRecord, report: ProgressReport): Promise<PrefixProgress> {
    const progress: PrefixProgress = { matched: job.matched, revoked: job.revoked, failed: job.failed, done: false };
    while (!this.stopped) {
      const now = this.now();
      const batch = await this.store.jobs.markBatch(job.id, now, now, this.batchSize, FORCE_REVOKE_NOTE);
      progress.matched += batch.leases.length;
      if (job.force) {
        progress.revoked += batch.leases.length;
        await this.store.jobs.addOutcomes(job.id, batch.leases.length, 0);
      } else if (batch.leases.length > 0) {
        this.leases.wakeScheduler(now);
        if (!job.enqueue) await this.waitFor(job.id, batch.leases, progress, report);
      }
      if (batch.done) {
        await this.store.jobs.finish(job.id, this.now());
        progress.done = true;
        this.logger.info({ job: job.id, prefix: job.prefix, ...progress }, "revoke-prefix job finished");
        await report({ ...progress });
        return progress;
      }
      await report({ ...progress });
    }
    return progress;
  }

  /** Waits until every lease of a batch is revoked, or has failed once and is left to the retries. */
  private async waitFor(jobId: string, batch: LeaseStateRow[], progress: PrefixProgress, report: ProgressReport): Promise<void> {
    const pending = new Map(batch.map((l) => [l.id, l.attempts]));
    while (pending.size > 0 && !this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
      const rows = await this.store.leases.states([...pending.keys()]);
      const seen = new Set<string>();
      let revoked = 0;
      let failed = 0;
      for (const row of rows) {
        seen.add(row.id);
        const before = pending.get(row.id) ?? 0;
        if (row.state === "revoked") revoked++;
        else if (row.state === "irrevocable" || row.attempts > before) failed++;
        else continue;
        pending.delete(row.id);
      }
      // A lease gone from the store was revoked and purged since.
      for (const id of [...pending.keys()]) {
        if (!seen.has(id)) {
          pending.delete(id);
          revoked++;
        }
      }
      if (revoked + failed > 0) {
        progress.revoked += revoked;
        progress.failed += failed;
        await this.store.jobs.addOutcomes(jobId, revoked, failed);
        await report({ ...progress });
      }
    }
  }
}
