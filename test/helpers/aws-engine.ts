// A Lessor server with the aws engine mounted and configured against a fresh
// IAM/STS emulator, for the aws engine's tests; and IAM set-up they share.
import assert from "node:assert/strict";
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
import { type LessorClient } from "@lessor/client";
import { type ServerProcess, type StartServerOptions } from "./processes.js";
import { rootIam, startWithEmulator, type AwsEmulator } from "./aws.js";
export { rejects } from "./errors.js";

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  userName: string;
}

export interface AwsSetup {
  emulator: AwsEmulator;
  server: ServerProcess;
  client: LessorClient;
  /** An IAM client signing as the account root (the test's own hands on AWS). */
  iam: IAMClient;
  /** The IAM user whose key is in aws/config/root (when `asIamUser`). */
  admin: AwsKey | undefined;
}

/** Makes an IAM user with AdministratorAccess and an access key. */
export async function createAdminUser(iam: IAMClient, userName = "lessor-admin"): Promise<AwsKey> {
  await iam.send(new CreateUserCommand({ UserName: userName }));
  await iam.send(new AttachUserPolicyCommand({ UserName: userName, PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: userName }))).AccessKey;
  assert.ok(key?.AccessKeyId && key.SecretAccessKey);
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey, userName };
}

/** Makes an IAM role the account's principals may assume (with the conditions given) and returns its ARN. */
export async function createAssumableRole(
  iam: IAMClient,
  emulator: AwsEmulator,
  roleName: string,
  condition?: Record<string, Record<string, string>>,
  maxSessionDuration = 3600,
): Promise<string> {
  const trust = {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${emulator.accountId}:root` },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        ...(condition ? { Condition: condition } : {}),
      },
    ],
  };
  const out = await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify(trust), MaxSessionDuration: maxSessionDuration }));
  assert.ok(out.Role?.Arn);
  return out.Role.Arn;
}

/**
 * Starts an emulator and a server, mounts aws/ and writes config/root: with an
 * IAM user's key (`asIamUser`, needed for STS: AWS refuses AssumeRole to the
 * root user) or the account root's key.
 */
export async function awsSetup(
  t: { after: (fn: () => Promise<void>) => void },
  options: {
    asIamUser?: boolean;
    server?: StartServerOptions;
    /** Makes the root client (default: plaintext to the server's address). */
    connect?: (server: ServerProcess) => LessorClient;
    mount?: { defaultLeaseTtlSeconds?: number; maxLeaseTtlSeconds?: number };
  } = {},
): Promise<AwsSetup> {
  const { emulator, server, client } = await startWithEmulator(t, options.server, options.connect);
  const iam = rootIam(emulator);
  t.after(() => Promise.resolve(iam.destroy()));
  await client.mounts.enable("aws", options.mount ?? {});
  const admin = options.asIamUser ? await createAdminUser(iam) : undefined;
  await client.write("aws/config/root", {
    access_key: admin?.accessKeyId ?? emulator.rootAccessKeyId,
    secret_key: admin?.secretAccessKey ?? emulator.rootSecretAccessKey,
    region: "us-east-1",
  });
  return { emulator, server, client, iam, admin };
}

/** Users in the emulator (names), excluding the test's own admin. */
export function lessorUsers(emulator: AwsEmulator, admin?: AwsKey): string[] {
  return emulator
    .listUsers()
    .map((u) => u.userName)
    .filter((n) => n !== admin?.userName);
}
