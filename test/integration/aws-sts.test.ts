// The STS credential types through the generated client: assumed_role,
// federation_token and session_token, on creds/ and sts/; their leases last as
// long as the credentials, are not renewable, and the credentials expire by
// AWS's clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  CreateGroupCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  EnableMFADeviceCommand,
  IAMClient,
  ListUsersCommand,
  PutGroupPolicyCommand,
} from "@aws-sdk/client-iam";
import { Code, type LessorClient } from "@lessor/client";
import { EC2_POLICY, whoAmI, type AwsEmulator } from "../helpers/aws.js";
import { awsSetup, createAssumableRole, rejects } from "../helpers/aws-engine.js";

const S3_POLICY = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }] });

interface Issued {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  arn: string;
  leaseId: string;
  duration: number;
  renewable: boolean;
  warnings: string[];
}

async function sts(client: LessorClient, path: string, data?: Record<string, unknown>): Promise<Issued> {
  const res = await client.read(path, data);
  const { access_key, secret_key, security_token, arn } = res.data;
  assert.ok(res.lease, "STS credentials come with a lease");
  assert.equal(typeof security_token, "string", "STS credentials carry a security_token");
  return {
    accessKeyId: String(access_key),
    secretAccessKey: String(secret_key),
    sessionToken: String(security_token),
    arn: String(arn ?? ""),
    leaseId: res.lease.id,
    duration: res.lease.durationSeconds,
    renewable: res.lease.renewable,
    warnings: res.warnings,
  };
}

function tempCredential(emulator: AwsEmulator, accessKeyId: string) {
  const found = emulator.state().temporaryCredentials.find((c) => c.accessKeyId === accessKeyId);
  assert.ok(found, `the emulator issued ${accessKeyId}`);
  return found;
}

test("assumed_role: AssumeRole with the role's session policy, tags and external id; lease = STS lifetime; expiry by AWS's clock", async (t) => {
  const { client, emulator, iam } = await awsSetup(t, { asIamUser: true });
  const deployer = await createAssumableRole(iam, emulator, "deployer");
  await iam.send(new AttachRolePolicyCommand({ RoleName: "deployer", PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }));
  const partner = await createAssumableRole(iam, emulator, "partner", { StringEquals: { "sts:ExternalId": "partner-7" } }, 4 * 3600);
  await client.write("aws/roles/ops", {
    credential_type: "assumed_role",
    role_arns: [deployer, partner],
    policy_arns: "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    default_sts_ttl: "15m",
    max_sts_ttl: "2h",
    session_tags: "project=lessor",
    external_id: "partner-7",
  });

  await rejects(client.read("aws/sts/ops"), Code.INVALID_ARGUMENT, /role_arn: is required: role "ops" may assume several roles/);
  await rejects(
    client.read("aws/sts/ops", { role_arn: "arn:aws:iam::123456789012:role/other" }),
    Code.INVALID_ARGUMENT,
    /role_arn: "arn:aws:iam::123456789012:role\/other" is not one of role "ops"'s role_arns/,
  );
  await rejects(client.read("aws/sts/ops", { role_arn: deployer, role_session_name: "x" }), Code.INVALID_ARGUMENT, /role_session_name: .*AWS allows 2 to 64/);

  const creds = await sts(client, "aws/sts/ops", { role_arn: deployer });
  assert.equal(creds.duration, 900, "default_sts_ttl");
  assert.equal(creds.renewable, false);
  assert.match(creds.leaseId, /^aws\/sts\/ops\/[0-9a-f-]{36}$/);
  assert.match(creds.arn, /^arn:aws:sts::123456789012:assumed-role\/deployer\/lessor-root-ops-\d{10}-[a-z0-9]{10}$/);
  const who = await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey, creds.sessionToken);
  assert.deepEqual(who, { arn: creds.arn });
  const temp = tempCredential(emulator, creds.accessKeyId);
  assert.deepEqual(temp.sessionPolicyArns, ["arn:aws:iam::aws:policy/IAMReadOnlyAccess"]);
  assert.deepEqual(temp.tags, [{ Key: "project", Value: "lessor" }]);

  // The session policy limits the role's AdministratorAccess to reading IAM.
  const asRole = new IAMClient({
    endpoint: emulator.endpoint,
    region: "us-east-1",
    maxAttempts: 1,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
  });
  t.after(() => asRole.destroy());
  await asRole.send(new ListUsersCommand({}));
  await assert.rejects(asRole.send(new CreateUserCommand({ UserName: "sneaky" })), /AccessDenied|not authorized/);

  // The partner role's trust policy wants the external id the role sends; a session name may be given.
  const named = await sts(client, "aws/creds/ops", { role_arn: partner, role_session_name: "release-42", ttl: "3h" });
  assert.match(named.arn, /assumed-role\/partner\/release-42$/);
  assert.equal(named.duration, 7200, "clamped to max_sts_ttl");
  assert.match(named.warnings.join("\n"), /ttl shortened to 2h, the role's max_sts_ttl/);
  // Beyond the IAM role's own MaxSessionDuration (1h for deployer), AWS refuses, and Lessor says why.
  await rejects(client.read("aws/sts/ops", { role_arn: deployer, ttl: "2h" }), Code.FAILED_PRECONDITION, /sts:AssumeRole failed: ValidationError: .*MaxSessionDuration/);
  await client.write("aws/roles/ops", { external_id: "wrong-id" });
  await rejects(client.read("aws/sts/ops", { role_arn: partner }), Code.PERMISSION_DENIED, /sts:AssumeRole failed: AccessDenied/);

  // Not renewable; revoking records the end (STS cannot end credentials early).
  await rejects(client.leases.renew(creds.leaseId, 600), Code.FAILED_PRECONDITION, /is not renewable/);
  assert.deepEqual(await client.leases.revoke(named.leaseId), { leaseId: named.leaseId, revokedNow: true, queued: false, warnings: [] });

  // AWS ends them at their expiration.
  emulator.advanceClock(901);
  assert.deepEqual(await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey, creds.sessionToken), { error: "ExpiredToken" });
  assert.ok("arn" in (await whoAmI(emulator, named.accessKeyId, named.secretAccessKey, named.sessionToken)), "the 2h credentials live on");
  emulator.advanceClock(7200);
  assert.deepEqual(await whoAmI(emulator, named.accessKeyId, named.secretAccessKey, named.sessionToken), { error: "ExpiredToken" });
  assert.equal(tempCredential(emulator, named.accessKeyId).expired, true);
});

test("federation_token: GetFederationToken with the role's policy, policy ARNs and its groups' policies", async (t) => {
  const { client, emulator, iam } = await awsSetup(t, { asIamUser: true });
  await iam.send(new CreateGroupCommand({ GroupName: "ops" }));
  await iam.send(new PutGroupPolicyCommand({ GroupName: "ops", PolicyName: "s3", PolicyDocument: S3_POLICY }));
  await iam.send(new AttachGroupPolicyCommand({ GroupName: "ops", PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" }));
  await client.write("aws/roles/fed", {
    credential_type: "federation_token",
    policy_document: EC2_POLICY,
    policy_arns: "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    iam_groups: "ops",
  });
  const creds = await sts(client, "aws/sts/fed");
  assert.equal(creds.duration, 3600, "STS credentials last 1h by default");
  assert.equal(creds.renewable, false);
  const name = /:federated-user\/(.+)$/.exec(creds.arn)?.[1] ?? "";
  assert.match(name, /^lessor-fed-[a-z0-9]{10}$/);
  assert.ok(name.length <= 32);
  assert.deepEqual(await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey, creds.sessionToken), { arn: creds.arn });

  const temp = tempCredential(emulator, creds.accessKeyId);
  assert.deepEqual(temp.sessionPolicyArns, ["arn:aws:iam::aws:policy/IAMReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"]);
  const policy = JSON.parse(temp.sessionPolicy ?? "{}") as { Version: string; Statement: Array<{ Action: unknown }> };
  assert.equal(policy.Version, "2012-10-17");
  assert.deepEqual(
    policy.Statement.map((s) => s.Action),
    ["s3:*", ["ec2:*"]],
    "the group's inline policy and the role's policy_document, in one session policy",
  );

  const long = await sts(client, "aws/sts/fed", { ttl: "20h" });
  assert.equal(long.duration, 20 * 3600);
  await rejects(client.read("aws/sts/fed", { ttl: "5m" }), Code.INVALID_ARGUMENT, /ttl: STS credentials last at least 15m/);
  await rejects(client.read("aws/sts/fed", { role_arn: "arn:aws:iam::123456789012:role/x" }), Code.INVALID_ARGUMENT, /role_arn: only applies to assumed_role/);
});

test("session_token and assumed_role with MFA when the role names a device", async (t) => {
  const { client, emulator, iam, admin } = await awsSetup(t, { asIamUser: true });
  assert.ok(admin);
  await client.write("aws/roles/plain", { credential_type: "session_token" });
  const plain = await sts(client, "aws/sts/plain", { ttl: "2h" });
  assert.equal(plain.duration, 7200);
  assert.equal(tempCredential(emulator, plain.accessKeyId).mfa, false);
  const who = await whoAmI(emulator, plain.accessKeyId, plain.secretAccessKey, plain.sessionToken);
  assert.ok("arn" in who && who.arn.endsWith(`:user/${admin.userName}`), JSON.stringify(who));

  const device = await iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: "lessor-admin" }));
  const serial = device.VirtualMFADevice?.SerialNumber as string;
  const now = Date.now();
  await iam.send(
    new EnableMFADeviceCommand({
      UserName: admin.userName,
      SerialNumber: serial,
      AuthenticationCode1: emulator.mfaCode(serial, now - 30_000),
      AuthenticationCode2: emulator.mfaCode(serial, now),
    }),
  );
  await client.write("aws/roles/mfa", { credential_type: "session_token", mfa_serial_number: serial });
  await rejects(client.read("aws/sts/mfa"), Code.INVALID_ARGUMENT, /mfa_code: is required: role "mfa" needs the current code of MFA device/);
  await rejects(client.read("aws/sts/mfa", { mfa_code: "12ab" }), Code.INVALID_ARGUMENT, /mfa_code: must be the 6 digits/);
  const wrong = emulator.mfaCode(serial) === "000000" ? "111111" : "000000";
  await rejects(client.read("aws/sts/mfa", { mfa_code: wrong }), Code.PERMISSION_DENIED, /sts:GetSessionToken failed: AccessDenied: MultiFactorAuthentication failed/);
  const withMfa = await sts(client, "aws/sts/mfa", { mfa_code: emulator.mfaCode(serial) });
  assert.equal(tempCredential(emulator, withMfa.accessKeyId).mfa, true);
  await rejects(client.read("aws/sts/plain", { mfa_code: "123456" }), Code.INVALID_ARGUMENT, /mfa_code: role "plain" has no mfa_serial_number/);

  // assumed_role with MFA: an IAM role whose trust policy demands it.
  const guarded = await createAssumableRole(iam, emulator, "guarded", { Bool: { "aws:MultiFactorAuthPresent": "true" } });
  await client.write("aws/roles/no-mfa", { credential_type: "assumed_role", role_arns: guarded });
  await rejects(client.read("aws/sts/no-mfa"), Code.PERMISSION_DENIED, /sts:AssumeRole failed: AccessDenied/);
  await client.write("aws/roles/guarded", { credential_type: "assumed_role", role_arns: guarded, mfa_serial_number: serial });
  const assumed = await sts(client, "aws/sts/guarded", { mfa_code: emulator.mfaCode(serial) });
  assert.match(assumed.arn, /:assumed-role\/guarded\//);
  assert.equal(tempCredential(emulator, assumed.accessKeyId).mfa, true);
});

test("creds/ issues any of a role's types, sts/ only STS ones; the root user cannot assume roles", async (t) => {
  const { client, emulator } = await awsSetup(t);
  await client.write("aws/roles/both", { credential_type: "iam_user,federation_token", policy_document: EC2_POLICY });
  const user = await client.read("aws/creds/both");
  assert.equal(user.data.security_token, null, "creds/ gives the IAM user by default, as Vault does");
  assert.equal(user.lease?.renewable, true);
  assert.equal(emulator.listUsers().length, 1);
  const fed = await sts(client, "aws/creds/both", { credential_type: "federation_token" });
  assert.match(fed.arn, /:federated-user\/lessor-both-/);
  const viaSts = await sts(client, "aws/sts/both");
  assert.match(viaSts.arn, /:federated-user\//);
  await rejects(client.read("aws/sts/both", { credential_type: "iam_user" }), Code.INVALID_ARGUMENT, /credential_type: aws\/sts\/ issues STS credentials only/);
  await rejects(client.read("aws/creds/both", { credential_type: "session_token" }), Code.INVALID_ARGUMENT, /does not issue session_token/);

  await client.write("aws/roles/user-only", { policy_document: EC2_POLICY });
  await rejects(client.read("aws/sts/user-only"), Code.FAILED_PRECONDITION, /issues IAM users only .* read aws\/creds\/user-only/);

  await client.write("aws/roles/two-sts", { credential_type: "assumed_role,session_token", role_arns: "arn:aws:iam::123456789012:role/x" });
  await rejects(client.read("aws/sts/two-sts"), Code.INVALID_ARGUMENT, /credential_type: is required: role "two-sts" issues several kinds of credential \(assumed_role, session_token\)/);

  // config/root holds the account root's key here: AWS refuses AssumeRole to it.
  await client.write("aws/roles/assume", { credential_type: "assumed_role", role_arns: "arn:aws:iam::123456789012:role/x" });
  const err = await rejects(client.read("aws/sts/assume"), Code.PERMISSION_DENIED, /sts:AssumeRole failed: AccessDenied: Roles may not be assumed by root accounts/);
  assert.equal(err.metadata.aws_action, "sts:AssumeRole");
  await client.leases.revoke(user.lease?.id as string);
  assert.deepEqual(emulator.listUsers(), []);
});
