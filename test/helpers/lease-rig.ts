// The lease machinery without a process: the real LeaseManager (and, for
// tests that want it, the real ExpiryScheduler) on the in-memory store, with
// an engine defined here whose revocations the test controls: they can fail
// a number of times, or hang until released. For fast unit tests of
// revocation, retries, expiry and their bookkeeping.
import pino, { type Logger } from "pino";
import { LeaseManager, type LeaseGrant, type LeaseManagerOptions } from "../../src/leases/manager.js";
import type { MountTable } from "../../src/mounts/table.js";
import { mountTableFor } from "./mounts.js";
import type { EngineFactory } from "../../src/engines/framework/types.js";
import { openMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import type { MountRecord, NewLease } from "../../src/store/types.js";

/** The one secret type the controlled engine issues. */
export const SECRET_TYPE = "thing";

/** Revocations (and rollbacks, renewals) as a test wants them to go. */
export class ControlledEngine {
  /** Revoke calls, in order, with the time each began. */
  readonly calls: Array<{ leaseId: string; at: number }> = [];
  /** Leases whose revoke succeeded, in order. */
  readonly revoked: string[] = [];
  readonly rolledBack: string[] = [];
  /** Revocations in progress now, and the most there ever were at once. */
  running = 0;
  maxRunning = 0;
  /** What renew answers with (undefined: the increment asked for). */
  renewTtlSeconds: number | undefined;
  private failures = 0;
  private failure: () => Error = () => new Error("the owning system said no");
  private rollbackFailures = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  /** Which revocations the gate holds (all when unset). */
  private held: ((lease: { id: string; mountAccessor: string }) => boolean) | undefined;

  /** The next `times` revocations fail with `error`. */
  failNext(times: number, error?: () => Error): void {
    this.failures = times;
    if (error) this.failure = error;
  }

  /** The next `times` rollbacks fail. */
  failRollbacks(times: number): void {
    this.rollbackFailures = times;
  }

  /** Revocations hang (after they began) until release(): all, or those `which` picks. */
  hold(which?: (lease: { id: string; mountAccessor: string }) => boolean): void {
    this.held = which;
    this.gate ??= new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
    this.openGate = undefined;
    this.held = undefined;
  }

  attemptsOn(leaseId: string): number {
    return this.calls.filter((c) => c.leaseId === leaseId).length;
  }

  async revoke(lease: { id: string; mountAccessor: string }): Promise<void> {
    this.calls.push({ leaseId: lease.id, at: Date.now() });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.held === undefined || this.held(lease)) await this.gate;
      if (this.failures > 0) {
        this.failures--;
        throw this.failure();
      }
      this.revoked.push(lease.id);
    } finally {
      this.running--;
    }
  }

  readonly factory: EngineFactory = {
    type: "controlled",
    synopsis: "an engine whose revocations the test controls",
    create: (ctx) => ({
      paths: [],
      secrets: {
        [SECRET_TYPE]: {
          revoke: (lease: { id: string }) => this.revoke({ id: lease.id, mountAccessor: ctx.mount.accessor }),
          renew: async (_lease: { id: string }, incrementSeconds: number) => ({ ttlSeconds: this.renewTtlSeconds ?? incrementSeconds }),
        },
      },
      rollback: async (intent: { leaseId: string }) => {
        if (this.rollbackFailures > 0) {
          this.rollbackFailures--;
          throw new Error("rollback failed");
        }
        this.rolledBack.push(intent.leaseId);
      },
    }),
  };
}

export interface LeaseRig {
  store: MemoryStore;
  engine: ControlledEngine;
  mounts: MountTable;
  /** The mount at test/, default TTL 1h, max 2h. */
  mount: MountRecord;
  leases: LeaseManager;
  logger: Logger;
  /** Issues a lease through the manager (intent, then lease), as a request does. */
  issue(options?: { ttlSeconds?: number; maxTtlSeconds?: number; renewable?: boolean; tokenAccessor?: string }): Promise<LeaseGrant>;
  /** Records a lease straight in the store, expiring `inMs` from now (for expiry at a millisecond scale). */
  record(inMs: number, fields?: Partial<NewLease>): Promise<string>;
}

/** Retries fast enough to watch several in a test. */
export const FAST_RETRY = { baseMs: 20, capMs: 40, maxAttempts: 3 };

export async function leaseRig(options: LeaseManagerOptions = {}): Promise<LeaseRig> {
  const store = openMemoryStore();
  const logger = pino({ level: "silent" });
  const engine = new ControlledEngine();
  const mounts = mountTableFor(store, [engine.factory], logger);
  const mount = await mounts.enable("secret", "controlled", "test/", { defaultTtlSeconds: 3600, maxTtlSeconds: 7200 }, Date.now());
  const leases = new LeaseManager(store, mounts, logger, { retry: FAST_RETRY, revokeRate: { perSecond: 0 }, ...options });
  let n = 0;
  const nextId = () => `test/creds/role/${String(++n).padStart(4, "0")}`;
  return {
    store,
    engine,
    mounts,
    mount,
    leases,
    logger,
    async issue(o = {}) {
      const id = nextId();
      const intent = await leases.recordIntent(mount.accessor, id, SECRET_TYPE, { user: id });
      const secret = { type: SECRET_TYPE, internal: { user: id }, ttlSeconds: o.ttlSeconds, maxTtlSeconds: o.maxTtlSeconds, renewable: o.renewable ?? true };
      return leases.register(mount.accessor, id, secret, intent, o.tokenAccessor ?? "token-1", Date.now());
    },
    async record(inMs, fields = {}) {
      const id = nextId();
      const now = Date.now();
      const lease: NewLease = {
        id,
        mountAccessor: mount.accessor,
        secretType: SECRET_TYPE,
        internal: { user: id },
        issueTime: now,
        expireTime: now + inMs,
        maxExpireTime: now + 3_600_000,
        ttlSeconds: Math.ceil(inMs / 1000),
        renewable: true,
        tokenAccessor: null,
        ...fields,
      };
      await store.leases.insertFromIntent(lease, null);
      return id;
    },
  };
}
