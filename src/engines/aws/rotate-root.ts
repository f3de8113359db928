// aws/config/rotate-root: replaces the IAM user access key in config/root
// with a new one. The new key is made for the same user, switched to only
// once AWS accepts it (IAM is eventually consistent), and the old key is then
// deleted. An intent covers the window in between: if the process dies, the
// rollback deletes whichever of the two keys is no longer configured.
import { LessorError } from "../../errors.js";
import { z } from "zod";
import { definePath, type JsonObject, type PathSpec } from "../framework/types.js";
import { awsErrorCode, isNoSuchEntity, mapAwsError } from "./errors.js";
import { waitForKey } from "./iam-user.js";
import type { AwsBackend } from "./backend.js";
import { iamSdk, stsSdk } from "./sdk.js";

/** Intent type of a rotation under way. */
export const ROOT_ROTATION = "root_rotation";
/** Storage key of the new key's id while a rotation is under way. */
const PENDING_KEY = "rotate-root/pending";
/** How long to wait for AWS to accept the new key before giving up and keeping the old one. */
export const ROTATE_WAIT_SECONDS = 60;

/** A rotation under way (stored, so a crash mid-way can be rolled back). */
const pendingRotationSchema = z.object({ user_name: z.string(), new_access_key_id: z.string() });

type PendingRotation = z.infer<typeof pendingRotationSchema>;

async function call<T>(action: string, mountPath: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw mapAwsError(err, action, mountPath);
  }
}

function notAnIamUserKey(mountPath: string, what: string): LessorError {
  return LessorError.failedPrecondition(
    `config/rotate-root rotates the access key of an IAM user, and the key in ${mountPath}config/root ${what}. Create an IAM user for Lessor, write its access key to ${mountPath}config/root, then rotate`,
    "AWS_ROOT_NOT_IAM_USER",
  );
}

export function rotateRootPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "config/rotate-root",
    synopsis: "Rotate the access key in config/root.",
    description:
      "Makes a new access key for the IAM user whose key is in config/root, waits until AWS accepts it, stores it, and deletes the old key. Returns the new access key id only; the secret key is never shown. The configured key must be an IAM user's (not the account root user's, not temporary STS credentials), and the user must have room for a second key (IAM allows two).",
    fields: {},
    operations: {
      write: (req) =>
        backend.exclusive(async () => {
          const mountPath = backend.mountPath;
          const [{ CreateAccessKeyCommand, DeleteAccessKeyCommand, GetUserCommand }, { GetCallerIdentityCommand }] = await Promise.all([iamSdk(), stsSdk()]);
          const config = await backend.rootConfig();
          if (!config?.access_key || !config.secret_key) {
            throw LessorError.failedPrecondition(
              `there is no access key in ${mountPath}config/root to rotate: the engine uses the AWS SDK's default credential chain, whose credentials Lessor does not own. Write access_key and secret_key to ${mountPath}config/root first`,
              "AWS_ROOT_NOT_CONFIGURED",
            );
          }
          const oldKeyId = config.access_key;
          if (oldKeyId.startsWith("ASIA")) throw notAnIamUserKey(mountPath, `(${oldKeyId}) is a temporary STS key`);
          const clients = await backend.aws();
          const who = await call("sts:GetCallerIdentity", mountPath, () => clients.sts.send(new GetCallerIdentityCommand({})));
          const arn = who.Arn ?? "";
          if (arn.endsWith(":root")) throw notAnIamUserKey(mountPath, "belongs to the AWS account's root user");
          if (!/:iam::\d{12}:user\//.test(arn)) throw notAnIamUserKey(mountPath, `belongs to ${arn}, which is not an IAM user`);
          const user = await call("iam:GetUser", mountPath, () => clients.iam.send(new GetUserCommand({})));
          const userName = user.User?.UserName;
          if (!userName) throw notAnIamUserKey(mountPath, `belongs to ${arn}, for which IAM reports no user name`);

          await req.recordIntent(ROOT_ROTATION, { user_name: userName, old_access_key_id: oldKeyId });
          let created;
          try {
            created = await clients.iam.send(new CreateAccessKeyCommand({ UserName: userName }));
          } catch (err) {
            if (awsErrorCode(err) === "LimitExceeded") {
              throw LessorError.failedPrecondition(
                `IAM user ${userName} already has two access keys, IAM's limit: delete the one that is not ${oldKeyId} (the one Lessor uses), then rotate again`,
                "AWS_ROOT_TOO_MANY_KEYS",
                { aws_action: "iam:CreateAccessKey", aws_error_code: "LimitExceeded" },
              );
            }
            throw mapAwsError(err, "iam:CreateAccessKey", mountPath);
          }
          const newKey = created.AccessKey;
          if (!newKey?.AccessKeyId || !newKey.SecretAccessKey) {
            throw mapAwsError(new Error("CreateAccessKey returned no key"), "iam:CreateAccessKey", mountPath);
          }
          const pending: PendingRotation = { user_name: userName, new_access_key_id: newKey.AccessKeyId };
          await backend.storage.put(PENDING_KEY, { ...pending });

          const fresh = { accessKeyId: newKey.AccessKeyId, secretAccessKey: newKey.SecretAccessKey };
          if (!(await waitForKey(clients, fresh, ROTATE_WAIT_SECONDS))) {
            await finishRollback(backend, pending, oldKeyId);
            throw LessorError.unavailable(
              `AWS did not accept the new access key within ${ROTATE_WAIT_SECONDS}s; it was deleted and ${oldKeyId} is still in use. Try again later`,
              "AWS_ROOT_ROTATION_UNCONFIRMED",
            );
          }
          await backend.storage.put("config/root", JSON.parse(JSON.stringify({ ...config, access_key: fresh.accessKeyId, secret_key: fresh.secretAccessKey })));
          await backend.resetClients();

          const warnings: string[] = [];
          // Signed with the new key: from here on, the new key is the one in use.
          const { iam } = await backend.aws();
          try {
            await iam.send(new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: oldKeyId }));
          } catch (err) {
            if (!isNoSuchEntity(err)) {
              warnings.push(
                `the old access key ${oldKeyId} could not be deleted (${mapAwsError(err, "iam:DeleteAccessKey", mountPath).message}); delete it by hand`,
              );
            }
          }
          await backend.storage.delete(PENDING_KEY);
          return { data: { access_key: fresh.accessKeyId }, warnings };
        }),
    },
  });
}

/** Deletes the key of an unfinished rotation that is not the configured one. */
async function finishRollback(backend: AwsBackend, pending: PendingRotation, oldKeyId: string): Promise<void> {
  const { DeleteAccessKeyCommand } = await iamSdk();
  const config = await backend.rootConfig();
  const { iam } = await backend.aws();
  const stale = config?.access_key === pending.new_access_key_id ? oldKeyId : pending.new_access_key_id;
  try {
    await iam.send(new DeleteAccessKeyCommand({ UserName: pending.user_name, AccessKeyId: stale }));
  } catch (err) {
    if (!isNoSuchEntity(err)) throw mapAwsError(err, "iam:DeleteAccessKey", backend.mountPath);
  }
  await backend.storage.delete(PENDING_KEY);
}

/** Rollback of a rotation intent: nothing to do unless a new key was made and the rotation did not finish. */
export async function rollbackRotation(backend: AwsBackend, data: JsonObject): Promise<void> {
  const stored = await backend.storage.get(PENDING_KEY);
  const pending = stored === undefined ? undefined : pendingRotationSchema.parse(stored);
  if (!pending) return;
  await finishRollback(backend, pending, String(data.old_access_key_id ?? ""));
}
