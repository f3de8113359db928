// The aws secrets engine: configure it with AWS credentials (config/root),
// describe roles (roles/:name), and read creds/:name to get a fresh IAM user
// and access key on a lease. Revoking the lease deletes the user.
import { LessorError } from "../../errors.js";
import type { Engine, EngineFactory, EngineStorage, IntentInfo, JsonObject, LeaseRecord } from "../framework/types.js";
import { buildClients, type AwsClients, type RootConfig } from "./clients.js";
import { configRootPath } from "./config.js";
import { credsPath } from "./creds.js";
import { deleteIamUser, type IamUserInternal } from "./iam-user.js";
import { roleListPath, rolePath } from "./roles.js";

/** One mount's AWS access: stored root config and the clients made from it. */
export class AwsBackend {
  private clients: Promise<AwsClients> | undefined;

  constructor(
    readonly storage: EngineStorage,
    readonly mountPath: string,
  ) {}

  async rootConfig(): Promise<RootConfig | undefined> {
    return (await this.storage.get("config/root")) as RootConfig | undefined;
  }

  /** Clients for the configured account; FAILED_PRECONDITION if config/root was never written. */
  async aws(): Promise<AwsClients> {
    if (!this.clients) {
      const pending = this.rootConfig().then((config) => {
        if (!config) {
          throw LessorError.failedPrecondition(
            `the aws engine at ${this.mountPath} is not configured: write access_key, secret_key and region to ${this.mountPath}config/root`,
            "AWS_NOT_CONFIGURED",
            { path: `${this.mountPath}config/root` },
          );
        }
        return buildClients(config);
      });
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
    if (old) (await old.catch(() => undefined))?.destroy();
  }
}

export const awsEngine: EngineFactory = {
  type: "aws",
  synopsis: "Dynamic AWS credentials: an IAM user and access key made when read, deleted when the lease ends.",
  rootPaths: ["config/root", "config/rotate-root"],
  create({ storage, mount }): Engine {
    const backend = new AwsBackend(storage, mount.path);
    const revokeUser = async (internal: JsonObject): Promise<void> => {
      const { iam } = await backend.aws();
      await deleteIamUser(iam, internal as unknown as IamUserInternal, mount.path);
    };
    return {
      paths: [configRootPath(backend), roleListPath(backend), rolePath(backend), credsPath(backend)],
      secrets: {
        access_keys: {
          revoke: (lease: LeaseRecord) => revokeUser(lease.internal),
        },
      },
      async rollback(intent: IntentInfo) {
        // The intent names the user before it was made; deleting what exists is the whole rollback.
        await revokeUser(intent.data);
      },
    };
  },
};
