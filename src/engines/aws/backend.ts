// One aws mount's backend: its stored configuration (parsed where it is read)
// and the AWS clients made from it, shared by the mount's paths (config,
// roles, creds, sts, rotate-root, tidy) and its revocations.
import type { Logger } from "pino";
import { z } from "zod";
import type { EngineStorage, EngineTelemetry, LeaseView, SystemView } from "../framework/types.js";
import { buildClients, rootConfigSchema, type AwsClients, type RootConfig } from "./clients.js";

/** config/lease as stored: seconds. */
const leaseConfigSchema = z.object({ lease: z.number(), lease_max: z.number() });

export type LeaseConfig = z.infer<typeof leaseConfigSchema>;

/** Clients replaced by a config change are closed this much later, so calls under way can finish. */
const RETIRE_CLIENTS_AFTER_MS = 60_000;

/** One mount's AWS access: stored configuration and the clients made from it. */
export class AwsBackend {
  private clients: Promise<AwsClients> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly storage: EngineStorage,
    readonly mountPath: string,
    /** Tagged on every IAM user the mount makes. */
    readonly mountAccessor: string,
    readonly leases: LeaseView,
    readonly logger: Logger,
    private readonly telemetry: EngineTelemetry,
    /** The mount's lease limits. */
    readonly system: SystemView,
  ) {}

  async rootConfig(): Promise<RootConfig | undefined> {
    const stored = await this.storage.get("config/root");
    return stored === undefined ? undefined : rootConfigSchema.parse(stored);
  }

  async leaseConfig(): Promise<LeaseConfig | undefined> {
    const stored = await this.storage.get("config/lease");
    return stored === undefined ? undefined : leaseConfigSchema.parse(stored);
  }

  /**
   * Clients for the configured account. Without config/root they use the AWS
   * SDK's default chain; whether it finds credentials shows at the first call.
   */
  async aws(): Promise<AwsClients> {
    if (!this.clients) {
      const pending = this.rootConfig().then((config) => buildClients(config ?? {}, this.telemetry));
      pending.catch(() => {
        if (this.clients === pending) this.clients = undefined;
      });
      this.clients = pending;
    }
    return this.clients;
  }

  /** Called after config/root changes: the next call builds new clients. */
  async resetClients(): Promise<void> {
    const old = this.clients;
    this.clients = undefined;
    const retired = old ? await old.catch(() => undefined) : undefined;
    if (retired) setTimeout(() => retired.destroy(), RETIRE_CLIENTS_AFTER_MS).unref();
  }

  /** Runs `work` after any other exclusive work of this mount (root key rotation). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
