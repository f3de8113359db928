// The aws secrets engine: configure it with AWS credentials (config/root,
// config/lease, config/rotate-root), describe roles (roles/:name), and read
// creds/:name or sts/:name for fresh credentials on a lease: an IAM user and
// access key (deleted when the lease ends), or STS credentials (which AWS
// expires). tidy finds IAM users the mount made that no lease owns any more.
import { LessorError } from "../../errors.js";
import type { Engine, EngineFactory, IntentInfo, JsonObject } from "../framework/types.js";
import { AwsBackend } from "./backend.js";
import { configLeasePath, configRootPath } from "./config.js";
import { ACCESS_KEYS_SECRET, credsPath, stsPath } from "./creds.js";
import { deleteIamUser, iamUserInternalSchema, rollbackIamUser } from "./iam-user.js";
import { roleListPath, rolePath } from "./roles.js";
import { rollbackRotation, ROOT_ROTATION, rotateRootPath } from "./rotate-root.js";
import { STS_SECRET } from "./sts.js";
import { tidyPath } from "./tidy.js";

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
