// The iam_user credential type: a fresh IAM user with the role's policies and
// one access key per lease. Issuance records an intent before the first IAM
// call; revocation removes everything a user can hold that blocks DeleteUser,
// treating "already gone" as done, so it can run any number of times.
import { z } from "zod";
import type { IAMClient } from "@aws-sdk/client-iam";
import type { Logger } from "pino";
import { abortable, type AwsClients } from "./clients.js";
import { LessorError } from "../../errors.js";
import { awsErrorCode, isNoSuchEntity, mapAwsError } from "./errors.js";
import { iamSdk, stsSdk } from "./sdk.js";

/** Tag put on every IAM user Lessor makes; its value is the lease id. */
export const LEASE_TAG = "lessor-lease-id";
/** Tag naming the mount (by accessor) that made the user, so tidy never touches another mount's or server's users. */
export const MOUNT_TAG = "lessor-mount";
/** Tag keys Lessor sets itself (lower case: IAM tag keys are case-insensitive). */
export const LESSOR_TAGS: readonly string[] = [LEASE_TAG, MOUNT_TAG];
/** Name of the inline policy holding the role's policy_document. */
export const INLINE_POLICY_NAME = "lessor-role-policy";

export interface IamUserPlan {
  username: string;
  path: string;
  leaseId: string;
  mountAccessor: string;
  policyDocument?: string;
  policyArns: string[];
  groups: string[];
  tags: Record<string, string>;
  permissionsBoundaryArn?: string;
}

/** What revocation needs to know (stored, sealed, in the lease). */
export const iamUserInternalSchema = z.object({
  username: z.string().min(1),
  access_key_id: z.string(),
  inline_policy: z.boolean(),
  policy_arns: z.array(z.string()),
  groups: z.array(z.string()),
});

export type IamUserInternal = z.infer<typeof iamUserInternalSchema>;

export interface IssuedKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export async function createIamUser(
  iam: IAMClient,
  plan: IamUserPlan,
  mountPath: string,
): Promise<{ key: IssuedKey; internal: IamUserInternal }> {
  const { AddUserToGroupCommand, AttachUserPolicyCommand, CreateAccessKeyCommand, CreateUserCommand, PutUserPolicyCommand } = await iamSdk();
  const call = async <T>(action: string, run: () => Promise<T>, userIsTheOnlyEntity = false): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (userIsTheOnlyEntity && isNoSuchEntity(err)) {
        // The user we just made is gone: the issuance outlived the intent timeout and was rolled back, or someone deleted it.
        throw LessorError.unavailable(
          `IAM user ${plan.username} disappeared while it was being set up (${action}): the issuance took too long and was rolled back, or the user was deleted meanwhile; try again`,
          "AWS_USER_VANISHED",
          { aws_action: action, aws_error_code: "NoSuchEntity" },
        );
      }
      throw mapAwsError(err, action, mountPath);
    }
  };
  // Tags go in with CreateUser itself: a user Lessor made always says which lease owns it.
  const tags = [
    { Key: LEASE_TAG, Value: plan.leaseId },
    { Key: MOUNT_TAG, Value: plan.mountAccessor },
    ...Object.entries(plan.tags).map(([Key, Value]) => ({ Key, Value })),
  ];
  await call("iam:CreateUser", () =>
    iam.send(
      new CreateUserCommand({
        UserName: plan.username,
        Path: plan.path,
        Tags: tags,
        ...(plan.permissionsBoundaryArn ? { PermissionsBoundary: plan.permissionsBoundaryArn } : {}),
      }),
    ),
  );
  if (plan.policyDocument) {
    await call("iam:PutUserPolicy", () =>
      iam.send(
        new PutUserPolicyCommand({ UserName: plan.username, PolicyName: INLINE_POLICY_NAME, PolicyDocument: plan.policyDocument }),
      ),
      true,
    );
  }
  for (const arn of plan.policyArns) {
    await call("iam:AttachUserPolicy", () => iam.send(new AttachUserPolicyCommand({ UserName: plan.username, PolicyArn: arn })));
  }
  for (const group of plan.groups) {
    await call("iam:AddUserToGroup", () => iam.send(new AddUserToGroupCommand({ UserName: plan.username, GroupName: group })));
  }
  const created = await call("iam:CreateAccessKey", () => iam.send(new CreateAccessKeyCommand({ UserName: plan.username })), true);
  const key = created.AccessKey;
  if (!key?.AccessKeyId || !key.SecretAccessKey) {
    throw mapAwsError(new Error("CreateAccessKey returned no key"), "iam:CreateAccessKey", mountPath);
  }
  return {
    key: { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey },
    internal: {
      username: plan.username,
      access_key_id: key.AccessKeyId,
      inline_policy: plan.policyDocument !== undefined,
      policy_arns: plan.policyArns,
      groups: plan.groups,
    },
  };
}

/** How a deletion runs: a deadline for its calls, and where skipped steps are reported. */
export interface DeleteOptions {
  /** Ends the deletion's AWS calls (the revocation attempt's deadline). */
  signal?: AbortSignal;
  /** Told of clean-up steps AWS refused and that were skipped. */
  logger?: Pick<Logger, "warn">;
}

/** Codes for an action the caller may not use (Vault's documented minimal policy grants no optional listing) or the endpoint does not offer. */
const REFUSED_OR_UNSUPPORTED = new Set(["AccessDenied", "UnauthorizedOperation", "InvalidAction", "NotImplemented", "UnsupportedOperation"]);

/** Runs an IAM call where "already gone" counts as done. */
async function ignoreGone(action: string, mountPath: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!isNoSuchEntity(err)) throw mapAwsError(err, action, mountPath);
  }
}

/**
 * Deletes the user and everything it holds. The fast path removes what Lessor
 * gave it and deletes the user (three calls for a plain lease); if IAM says
 * the user still holds something (DeleteConflict: someone added a login
 * profile, a group, a key by hand), the full sweep lists and removes it all.
 */
export async function deleteIamUser(
  iam: IAMClient,
  internal: Partial<IamUserInternal> & { username: string },
  mountPath: string,
  options: DeleteOptions = {},
): Promise<void> {
  const { DeleteAccessKeyCommand, DeleteUserCommand, DeleteUserPolicyCommand, DetachUserPolicyCommand, RemoveUserFromGroupCommand } = await iamSdk();
  const user = internal.username;
  const signal = options.signal;
  // The key and the inline policy do not depend on each other: removed side by
  // side, a plain lease's revocation waits for two round trips to IAM, not three.
  const accessKeyId = internal.access_key_id;
  await Promise.all([
    accessKeyId &&
      ignoreGone("iam:DeleteAccessKey", mountPath, () =>
        iam.send(abortable(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: accessKeyId }), signal)),
      ),
    internal.inline_policy &&
      ignoreGone("iam:DeleteUserPolicy", mountPath, () =>
        iam.send(abortable(new DeleteUserPolicyCommand({ UserName: user, PolicyName: INLINE_POLICY_NAME }), signal)),
      ),
  ]);
  for (const arn of internal.policy_arns ?? []) {
    await ignoreGone("iam:DetachUserPolicy", mountPath, () => iam.send(abortable(new DetachUserPolicyCommand({ UserName: user, PolicyArn: arn }), signal)));
  }
  for (const group of internal.groups ?? []) {
    await ignoreGone("iam:RemoveUserFromGroup", mountPath, () =>
      iam.send(abortable(new RemoveUserFromGroupCommand({ UserName: user, GroupName: group }), signal)),
    );
  }
  try {
    await iam.send(abortable(new DeleteUserCommand({ UserName: user }), signal));
    return;
  } catch (err) {
    if (isNoSuchEntity(err)) return;
    if (awsErrorCode(err) !== "DeleteConflict") throw mapAwsError(err, "iam:DeleteUser", mountPath);
  }
  const skipped = await sweepUser(iam, user, mountPath, options);
  try {
    await iam.send(abortable(new DeleteUserCommand({ UserName: user }), signal));
  } catch (err) {
    if (isNoSuchEntity(err)) return;
    const mapped = mapAwsError(err, "iam:DeleteUser", mountPath);
    const [first] = skipped;
    if (first === undefined) throw mapped;
    // What stops the deletion is most likely behind the step AWS refused: that is the error to show.
    throw new LessorError(first.code, `${first.message}; the step was skipped, and then ${mapped.message}`, {
      reason: first.reason,
      metadata: { ...first.metadata, skipped_actions: skipped.map((e) => e.metadata.aws_action).join(",") },
    });
  }
}

/**
 * Removes everything IAM lets a user hold that blocks DeleteUser. A step the
 * caller may not take or the endpoint does not offer (AccessDenied,
 * InvalidAction) is logged and skipped: the user may hold nothing of that
 * kind, and DeleteUser decides. Returns the errors of the skipped steps.
 */
async function sweepUser(iam: IAMClient, user: string, mountPath: string, options: DeleteOptions): Promise<LessorError[]> {
  const {
    DeactivateMFADeviceCommand,
    DeleteAccessKeyCommand,
    DeleteLoginProfileCommand,
    DeleteServiceSpecificCredentialCommand,
    DeleteSigningCertificateCommand,
    DeleteSSHPublicKeyCommand,
    DeleteUserPolicyCommand,
    DetachUserPolicyCommand,
    ListAccessKeysCommand,
    ListAttachedUserPoliciesCommand,
    ListGroupsForUserCommand,
    ListMFADevicesCommand,
    ListServiceSpecificCredentialsCommand,
    ListSigningCertificatesCommand,
    ListSSHPublicKeysCommand,
    ListUserPoliciesCommand,
    RemoveUserFromGroupCommand,
  } = await iamSdk();
  const signal = options.signal;
  const skipped: LessorError[] = [];
  /** One step: "already gone" is done; refused or unsupported is skipped; anything else fails the deletion. */
  const step = async <T>(action: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (err) {
      if (isNoSuchEntity(err)) return undefined;
      const code = awsErrorCode(err);
      if (code !== undefined && REFUSED_OR_UNSUPPORTED.has(code.replace(/Exception$/, ""))) {
        skipped.push(mapAwsError(err, action, mountPath));
        options.logger?.warn({ user, aws_action: action, aws_error_code: code }, "AWS refused an optional clean-up step of an IAM user's deletion; skipped");
        return undefined;
      }
      throw mapAwsError(err, action, mountPath);
    }
  };

  const keys = await step("iam:ListAccessKeys", () => iam.send(abortable(new ListAccessKeysCommand({ UserName: user }), signal)));
  for (const k of keys?.AccessKeyMetadata ?? []) {
    await step("iam:DeleteAccessKey", () => iam.send(abortable(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: k.AccessKeyId }), signal)));
  }
  const inline = await step("iam:ListUserPolicies", () => iam.send(abortable(new ListUserPoliciesCommand({ UserName: user }), signal)));
  for (const name of inline?.PolicyNames ?? []) {
    await step("iam:DeleteUserPolicy", () => iam.send(abortable(new DeleteUserPolicyCommand({ UserName: user, PolicyName: name }), signal)));
  }
  const attached = await step("iam:ListAttachedUserPolicies", () => iam.send(abortable(new ListAttachedUserPoliciesCommand({ UserName: user }), signal)));
  for (const p of attached?.AttachedPolicies ?? []) {
    await step("iam:DetachUserPolicy", () => iam.send(abortable(new DetachUserPolicyCommand({ UserName: user, PolicyArn: p.PolicyArn }), signal)));
  }
  const groups = await step("iam:ListGroupsForUser", () => iam.send(abortable(new ListGroupsForUserCommand({ UserName: user }), signal)));
  for (const g of groups?.Groups ?? []) {
    await step("iam:RemoveUserFromGroup", () => iam.send(abortable(new RemoveUserFromGroupCommand({ UserName: user, GroupName: g.GroupName }), signal)));
  }
  await step("iam:DeleteLoginProfile", () => iam.send(abortable(new DeleteLoginProfileCommand({ UserName: user }), signal)));
  const mfa = await step("iam:ListMFADevices", () => iam.send(abortable(new ListMFADevicesCommand({ UserName: user }), signal)));
  for (const d of mfa?.MFADevices ?? []) {
    await step("iam:DeactivateMFADevice", () => iam.send(abortable(new DeactivateMFADeviceCommand({ UserName: user, SerialNumber: d.SerialNumber }), signal)));
  }
  const certs = await step("iam:ListSigningCertificates", () => iam.send(abortable(new ListSigningCertificatesCommand({ UserName: user }), signal)));
  for (const c of certs?.Certificates ?? []) {
    await step("iam:DeleteSigningCertificate", () =>
      iam.send(abortable(new DeleteSigningCertificateCommand({ UserName: user, CertificateId: c.CertificateId }), signal)),
    );
  }
  const ssh = await step("iam:ListSSHPublicKeys", () => iam.send(abortable(new ListSSHPublicKeysCommand({ UserName: user }), signal)));
  for (const k of ssh?.SSHPublicKeys ?? []) {
    await step("iam:DeleteSSHPublicKey", () => iam.send(abortable(new DeleteSSHPublicKeyCommand({ UserName: user, SSHPublicKeyId: k.SSHPublicKeyId }), signal)));
  }
  const service = await step("iam:ListServiceSpecificCredentials", () =>
    iam.send(abortable(new ListServiceSpecificCredentialsCommand({ UserName: user }), signal)),
  );
  for (const c of service?.ServiceSpecificCredentials ?? []) {
    await step("iam:DeleteServiceSpecificCredential", () =>
      iam.send(abortable(new DeleteServiceSpecificCredentialCommand({ UserName: user, ServiceSpecificCredentialId: c.ServiceSpecificCredentialId }), signal)),
    );
  }
  return skipped;
}

/** The user's Lessor tags (lease id, mount), or undefined when the user does not exist. */
export async function lessorTagsOf(
  iam: IAMClient,
  user: string,
  mountPath: string,
  signal?: AbortSignal,
): Promise<{ leaseId: string | undefined; mount: string | undefined } | undefined> {
  const { ListUserTagsCommand } = await iamSdk();
  try {
    // A user holds at most 50 tags: one page.
    const out = await iam.send(abortable(new ListUserTagsCommand({ UserName: user, MaxItems: 100 }), signal));
    const value = (key: string) => out.Tags?.find((t) => t.Key?.toLowerCase() === key)?.Value;
    return { leaseId: value(LEASE_TAG), mount: value(MOUNT_TAG) };
  } catch (err) {
    if (isNoSuchEntity(err)) return undefined;
    throw mapAwsError(err, "iam:ListUserTags", mountPath);
  }
}

/**
 * Undoes an issuance that never became a lease. The intent names the user
 * before it was made, so the user may not exist, or (with a username_template
 * that repeats itself) be someone else's: only a user tagged with this very
 * lease id is deleted.
 */
export async function rollbackIamUser(iam: IAMClient, user: string, leaseId: string, mountPath: string, options: DeleteOptions = {}): Promise<void> {
  if (user === "") return;
  const tags = await lessorTagsOf(iam, user, mountPath, options.signal);
  if (tags?.leaseId !== leaseId) return;
  await deleteIamUser(iam, { username: user }, mountPath, options);
}

/**
 * Waits, up to `seconds`, until AWS accepts a new key (IAM is eventually
 * consistent: a new key can be refused for a few seconds). Returns whether it
 * did; never throws.
 */
export async function waitForKey(clients: AwsClients, key: IssuedKey, seconds: number): Promise<boolean> {
  const { GetCallerIdentityCommand } = await stsSdk();
  const sts = clients.stsWith(key);
  const deadline = Date.now() + seconds * 1000;
  let pause = 200;
  try {
    for (;;) {
      try {
        await sts.send(new GetCallerIdentityCommand({}));
        return true;
      } catch {
        // Not yet (InvalidClientTokenId), or STS unreachable: try again until the deadline.
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise((r) => setTimeout(r, Math.min(pause, left)));
      pause = Math.min(pause * 2, 2_000);
    }
  } finally {
    sts.destroy();
  }
}
