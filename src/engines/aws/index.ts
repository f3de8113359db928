// The aws secrets engine: configure it with AWS credentials (config/root,
// config/lease, config/rotate-root), describe roles (roles/:name), and read
// creds/:name or sts/:name for fresh credentials on a lease: an IAM user and
// access key (deleted when the lease ends), or STS credentials (which AWS
// expires). tidy finds IAM users the mount made that no lease owns any more.
import type { Logger } from "pino";
import { LessorError } from "../../errors.js";
import type { Engine, EngineFactory, EngineStorage, EngineTelemetry, IntentInfo, JsonObject, LeaseView, SystemView } from "../framework/types.js";
import { buildClients, rootConfigSchema, type AwsClients, type RootConfig } from "./clients.js";
import { configLeasePath, configRootPath, leaseConfigSchema, type LeaseConfig } from "./config.js";
import { ACCESS_KEYS_SECRET, credsPath, stsPath } from "./creds.js";
import { deleteIamUser, iamUserInternalSchema, rollbackIamUser } from "./iam-user.js";
import { roleListPath, rolePath } from "./roles.js";
import { rollbackRotation, ROOT_ROTATION, rotateRootPath } from "./rotate-root.js";
import { STS_SECRET } from "./sts.js";
import { tidyPath } from "./tidy.js";

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

function notConfiguredForRevoke(mountPath: string): LessorError {
  return LessorError.failedPrecondition(
    `the aws engine at ${mountPath} has no usable AWS credentials to revoke with: write access_key, secret_key and region to ${mountPath}config/root`,
    "AWS_NOT_CONFIGURED",
  );
}

export const awsEngine: EngineFactory = {
  type: "aws",
  synopsis: "Dynamic AWS credentials: an IAM user and access key made when read and deleted when the lease ends, or STS credentials.",
  // Sudo-only: the root credentials, their rotation, and tidy (which deletes IAM users).
  special: { root: ["config/root", "config/rotate-root", "tidy"] },
  create({ storage, mount, leases, logger, telemetry, system }): Engine {
    const backend = new AwsBackend(storage, mount.path, mount.accessor, leases, logger, telemetry, system);
    const iam = async () => {
      try {
        return (await backend.aws()).iam;
      } catch {
        throw notConfiguredForRevoke(mount.path);
      }
    };
    return {
      paths: [
        configRootPath(backend),
        configLeasePath(backend),
        rotateRootPath(backend),
        roleListPath(backend),
        rolePath(backend),
        credsPath(backend),
        stsPath(backend),
        tidyPath(backend),
      ],
      secrets: {
        [ACCESS_KEYS_SECRET]: {
          revoke: async (lease, signal) => deleteIamUser(await iam(), iamUserInternalSchema.parse(lease.internal), mount.path, { signal, logger }),
        },
        [STS_SECRET]: {
          // STS has no call that ends temporary credentials early: they expire
          // on their own at the end of their lifetime, which is the lease's.
          // Revoking the lease records that it is over; the credentials stay
          // valid until then (as with Vault). Keep STS lifetimes short.
          revoke: async () => {},
        },
      },
      async rollback(intent: IntentInfo) {
        const data: JsonObject = intent.data;
        if (intent.secretType === ROOT_ROTATION) return rollbackRotation(backend, data);
        // An IAM user: the intent names it before it was made.
        await rollbackIamUser(await iam(), String(data.username ?? ""), intent.leaseId, mount.path, { logger });
      },
    };
  },
};
