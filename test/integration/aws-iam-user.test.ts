// The iam_user credential type through the generated client, against the
// IAM/STS emulator: every role option on the user, complete and idempotent
// revocation, rollback of a half-made user, lease settings, username
// templates, waiting out IAM's eventual consistency, and AWS errors mapped.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateLoginProfileCommand,
  CreatePolicyCommand,
  CreateServiceSpecificCredentialCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  DetachUserPolicyCommand,
  EnableMFADeviceCommand,
  PutUserPolicyCommand,
  TagUserCommand,
  UploadSigningCertificateCommand,
  UploadSSHPublicKeyCommand,
} from "@aws-sdk/client-iam";
import { Code } from "@lessor/client";
import { TEST_CERTIFICATES } from "../aws-emulator/certificates.js";
import { buildClients } from "../../src/engines/aws/clients.js";
import { deleteIamUser, rollbackIamUser, LEASE_TAG } from "../../src/engines/aws/iam-user.js";
import { LessorError } from "../../src/errors.js";
import { awsEnv, EC2_POLICY, rootIam, startAwsEmulator, whoAmI } from "../helpers/aws.js";
import { awsSetup, createAdminUser, lessorUsers, rejects } from "../helpers/aws-engine.js";
import { clientFor, startServer } from "../helpers/processes.js";
import { waitFor } from "../helpers/wait.js";

const SSH_KEY =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7Ip2wDY1c1ay4MXyczXr1fLWxXjVPlDJLHkpmfb/x1Mvy3p0yhmOI2Yk6+fxeVxZx9fVc1VYnJNcpYWhgW2l1y2qxg5xZTHOkZCqGCk+2UHSi4D4iuN2Gk4Iv6BEmP2SNzV8G5k9L6IwnvHMb1iYpnmVJ5TgFQCSY8G0KBkMJQ+7j7Rj1BJnm1f3P7tGGHeIyhSyS4sd+pZ0jjxZwnB3wqCyj9wrmEYzOxzMCskFdgpLKnH9WuFVH91UyKS5fV7dk2Hs6XmWk2wK4d1SOT7tNqdTfnzKcOsnRf3vF7J9W0JzKjBPaxLmY8HuAB1T/9wGZ9bGWZH/oF7fzqCd4c9+L lessor@test";

test("an iam_user role's path, boundary, tags, inline and managed policies and groups are all on the user; revoke removes them", async (t) => {
  const { client, emulator, iam } = await awsSetup(t);
  await iam.send(new CreateGroupCommand({ GroupName: "developers" }));
  const boundary = await iam.send(
    new CreatePolicyCommand({
      PolicyName: "lessor-boundary",
      PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["ec2:*", "s3:*"], Resource: "*" }] }),
    }),
  );
  const boundaryArn = boundary.Policy?.Arn as string;
  await client.write("aws/roles/full", {
    policy_document: EC2_POLICY,
    policy_arns: "arn:aws:iam::aws:policy/ReadOnlyAccess",
    iam_groups: "developers",
    iam_tags: "team=payments",
    user_path: "/lessor/",
    permissions_boundary_arn: boundaryArn,
  });
  const creds = await client.aws.creds("full");
  const [user, ...others] = emulator.listUsers();
  assert.ok(user);
  assert.deepEqual(others, []);
  assert.equal(user.path, "/lessor/");
  assert.equal(user.permissionsBoundary, boundaryArn);
  const tags = Object.fromEntries(user.tags.map((tag) => [tag.Key, tag.Value]));
  assert.equal(tags[LEASE_TAG], creds.lease.id);
  assert.match(tags["lessor-mount"] ?? "", /^aws_[0-9a-f]{8}$/);
  assert.equal(tags.team, "payments");
  assert.deepEqual(user.inlinePolicyNames, ["lessor-role-policy"]);
  assert.deepEqual(user.attachedPolicyArns, ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
  assert.deepEqual(user.groups, ["developers"]);
  assert.deepEqual(
    user.accessKeys.map((k) => k.accessKeyId),
    [creds.accessKeyId],
  );
  const who = await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey);
  assert.ok("arn" in who && who.arn.endsWith(`:user/lessor/${user.userName}`), JSON.stringify(who));

  await client.leases.revoke(creds.lease.id);
  assert.deepEqual(emulator.listUsers(), []);
  assert.deepEqual(emulator.state().groups.find((g) => g.groupName === "developers")?.members, []);
  assert.deepEqual(await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey), { error: "InvalidClientTokenId" });
});

test("revoking a user someone gave a login profile, an extra group and more by hand removes it all, and running it again changes nothing", async (t) => {
  const { client, emulator, iam } = await awsSetup(t);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const creds = await client.aws.creds("deploy");
  const [user] = lessorUsers(emulator);
  assert.ok(user);
  // What a person might do to the user in the console.
  await iam.send(new CreateLoginProfileCommand({ UserName: user, Password: "Correct-Horse-Battery-9" }));
  await iam.send(new CreateGroupCommand({ GroupName: "admins" }));
  await iam.send(new AddUserToGroupCommand({ UserName: user, GroupName: "admins" }));
  await iam.send(new AttachUserPolicyCommand({ UserName: user, PolicyArn: "arn:aws:iam::aws:policy/IAMReadOnlyAccess" }));
  await iam.send(new PutUserPolicyCommand({ UserName: user, PolicyName: "by-hand", PolicyDocument: EC2_POLICY }));
  await iam.send(new CreateAccessKeyCommand({ UserName: user }));
  await iam.send(new UploadSSHPublicKeyCommand({ UserName: user, SSHPublicKeyBody: SSH_KEY }));
  await iam.send(new UploadSigningCertificateCommand({ UserName: user, CertificateBody: TEST_CERTIFICATES[0] }));
  await iam.send(new CreateServiceSpecificCredentialCommand({ UserName: user, ServiceName: "codecommit.amazonaws.com" }));
  const device = await iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: `${user}-mfa` }));
  const serial = device.VirtualMFADevice?.SerialNumber as string;
  const now = Date.now();
  await iam.send(
    new EnableMFADeviceCommand({
      UserName: user,
      SerialNumber: serial,
      AuthenticationCode1: emulator.mfaCode(serial, now - 30_000),
      AuthenticationCode2: emulator.mfaCode(serial, now),
    }),
  );
  const held = emulator.getUser(user);
  assert.ok(held?.loginProfile && held.mfaDevices.length === 1 && held.signingCertificates.length === 1);
  assert.deepEqual(held.groups, ["admins"]);

  // The first attempt stops half-way (AWS refuses one call), having removed part of it.
  emulator.addFault({ action: "DeleteSigningCertificate", code: "AccessDenied", status: 403, count: 1 });
  await rejects(client.leases.revoke(creds.lease.id), Code.PERMISSION_DENIED, /iam:DeleteSigningCertificate failed: AccessDenied/);
  const half = emulator.getUser(user);
  assert.ok(half, "the user is still there after the failed attempt");
  assert.deepEqual([half.accessKeys, half.groups, half.loginProfile], [[], [], null]);

  // Running it again finishes the job: what is already gone counts as done.
  assert.deepEqual(await client.leases.revoke(creds.lease.id), { leaseId: creds.lease.id, revokedNow: true, queued: false, warnings: [] });
  assert.equal(emulator.getUser(user), undefined);
  assert.deepEqual(emulator.state().groups.find((g) => g.groupName === "admins")?.members, []);
  assert.equal(emulator.counts().deleteUserSuccesses[user], 1);
  // And once more: nothing left to do, nothing fails.
  assert.deepEqual(await client.leases.revoke(creds.lease.id), { leaseId: creds.lease.id, revokedNow: false, queued: false, warnings: [] });
  assert.deepEqual(emulator.listUsers(), []);
});

test("a clean-up listing AWS denies (or does not offer) is skipped: the revocation goes on to DeleteUser and succeeds at once", async (t) => {
  const { client, emulator, iam, server } = await awsSetup(t);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const creds = await client.aws.creds("deploy");
  const [user] = lessorUsers(emulator);
  assert.ok(user);
  // A second key, made by hand: DeleteUser conflicts, so the revocation sweeps the user.
  await iam.send(new CreateAccessKeyCommand({ UserName: user }));
  // Vault's documented minimal policy grants none of the optional listings; some IAM-compatible endpoints lack some.
  emulator.addFault({ action: "ListServiceSpecificCredentials", code: "AccessDenied", status: 403 });
  emulator.addFault({ action: "ListSSHPublicKeys", code: "InvalidAction", status: 400 });
  assert.deepEqual(await client.leases.revoke(creds.lease.id), { leaseId: creds.lease.id, revokedNow: true, queued: false, warnings: [] });
  assert.equal(emulator.getUser(user), undefined, "the user is deleted on the first attempt");
  const lease = await client.leases.lookup(creds.lease.id);
  assert.deepEqual([lease.revokeAttempts, lease.lastError], [0, ""]);
  // Both skipped steps are logged (the server's output arrives through a pipe: wait for it).
  const logged = () => server.output().split("\n").filter((l) => l.includes("AWS refused an optional clean-up step"));
  const skippedBoth = (lines: string[]) =>
    lines.some((l) => l.includes("iam:ListServiceSpecificCredentials") && l.includes("AccessDenied")) &&
    lines.some((l) => l.includes("iam:ListSSHPublicKeys") && l.includes("InvalidAction"));
  await waitFor("both skipped steps to be logged", () => skippedBoth(logged()), 5_000);
});

test("a failure mid-way deletes what was already made: user, policies, group membership, tags", async (t) => {
  const { client, emulator, iam } = await awsSetup(t);
  await iam.send(new CreateGroupCommand({ GroupName: "developers" }));
  await client.write("aws/roles/deploy", {
    policy_document: EC2_POLICY,
    policy_arns: "arn:aws:iam::aws:policy/ReadOnlyAccess",
    iam_groups: "developers",
    iam_tags: "team=payments",
  });
  emulator.addFault({ action: "CreateAccessKey", code: "AccessDenied", status: 403, count: 1 });
  const err = await rejects(client.aws.creds("deploy"), Code.PERMISSION_DENIED, /AWS denied the request: iam:CreateAccessKey failed: AccessDenied/);
  assert.equal(err.metadata.aws_error_code, "AccessDenied");
  assert.equal(err.metadata.aws_action, "iam:CreateAccessKey");
  assert.deepEqual(emulator.listUsers(), []);
  assert.deepEqual(emulator.state().groups.find((g) => g.groupName === "developers")?.members, []);

  // A group that does not exist: refused by AWS at AddUserToGroup, and undone the same way.
  await client.write("aws/roles/nogroup", { policy_document: EC2_POLICY, iam_groups: "no-such-group" });
  await rejects(client.aws.creds("nogroup"), Code.FAILED_PRECONDITION, /iam:AddUserToGroup failed: NoSuchEntity/);
  assert.deepEqual(emulator.listUsers(), []);

  // The rollback fails too (AWS refuses its first calls): it is tried again on the revocation
  // backoff (1 s, then 2 s), not left for the sweep of abandoned issuance minutes later.
  emulator.addFault({ action: "CreateAccessKey", code: "AccessDenied", status: 403, count: 1 });
  emulator.addFault({ action: "ListUserTags", code: "AccessDenied", status: 403, count: 2 });
  await rejects(client.aws.creds("deploy"), Code.PERMISSION_DENIED, /iam:CreateAccessKey failed: AccessDenied/);
  assert.equal(emulator.listUsers().length, 1, "the half-made user is still there after the failed rollback");
  await waitFor("the rollback to be retried", () => emulator.listUsers().length === 0, 20_000);
  assert.equal(emulator.counts().errors.ListUserTags?.AccessDenied, 2);

  // Issuance still works afterwards.
  const creds = await client.aws.creds("deploy");
  assert.equal(emulator.listUsers().length, 1);
  await client.leases.revoke(creds.lease.id);
});

test("rollback deletes only a user tagged with its own lease", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const iam = rootIam(emulator);
  const clients = await buildClients({
    access_key: emulator.rootAccessKeyId,
    secret_key: emulator.rootSecretAccessKey,
    region: "us-east-1",
    iam_endpoint: emulator.endpoint,
  });
  t.after(async () => {
    clients.destroy();
    iam.destroy();
    await emulator.close();
  });
  await iam.send(new CreateUserCommand({ UserName: "someone-else" }));
  await iam.send(new CreateUserCommand({ UserName: "other-lease", Tags: [{ Key: LEASE_TAG, Value: "aws/creds/x/other" }] }));
  await iam.send(new CreateUserCommand({ UserName: "ours" }));
  await iam.send(new TagUserCommand({ UserName: "ours", Tags: [{ Key: LEASE_TAG, Value: "aws/creds/x/ours" }] }));
  for (const user of ["someone-else", "other-lease", "ours", "never-made"]) await rollbackIamUser(clients.iam, user, "aws/creds/x/ours", "aws/");
  assert.deepEqual(
    emulator.listUsers().map((u) => u.userName).sort(),
    ["other-lease", "someone-else"],
  );
});

test("a revocation whose attempt is abandoned closes the IAM request it has under way and sends no more; the next attempt deletes the user", { timeout: 30_000 }, async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const iam = rootIam(emulator);
  // Requests may take a minute: only the signal can end the held one within the test's time.
  const clients = await buildClients({
    access_key: emulator.rootAccessKeyId,
    secret_key: emulator.rootSecretAccessKey,
    region: "us-east-1",
    iam_endpoint: emulator.endpoint,
    request_timeout: 60,
    max_retries: 0,
  });
  t.after(async () => {
    clients.destroy();
    iam.destroy();
    await emulator.close();
  });
  await iam.send(new CreateUserCommand({ UserName: "held" }));
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: "held" }));
  const internal = { username: "held", access_key_id: key.AccessKey?.AccessKeyId };
  // A first deletion (no signal) goes through the same client before and after, as every other revocation does.
  await iam.send(new CreateUserCommand({ UserName: "plain" }));
  await deleteIamUser(clients.iam, { username: "plain" }, "aws/");

  emulator.addFault({ action: "DeleteAccessKey", latencyMs: 60_000, count: 1 });
  const attempt = new AbortController();
  const deletion = deleteIamUser(clients.iam, internal, "aws/", { signal: attempt.signal });
  await waitFor("DeleteAccessKey to reach IAM", () => (emulator.counts().calls.DeleteAccessKey ?? 0) > 0, 10_000, 10);
  attempt.abort();
  await assert.rejects(deletion, (err: unknown) => err instanceof LessorError && err.reason === "AWS_CALL_ABANDONED", "the held call ends with the attempt");
  assert.equal(emulator.counts().calls.DeleteUser ?? 0, 1, "no DeleteUser sent for the abandoned attempt (only the plain user's)");
  assert.ok(emulator.getUser("held"), "the user is still there");

  await deleteIamUser(clients.iam, internal, "aws/", { signal: new AbortController().signal });
  assert.equal(emulator.getUser("held"), undefined, "the next attempt deleted it");
});

test("config/lease sets iam_user lease durations; a request's ttl is honoured within lease_max", async (t) => {
  const { client } = await awsSetup(t);
  assert.deepEqual((await client.read("aws/config/lease")).data, { lease: "768h0m0s", lease_max: "768h0m0s" });
  await rejects(client.write("aws/config/lease", { lease: "3h", lease_max: "2h" }), Code.INVALID_ARGUMENT, /lease: \(3h0m0s\) must not be longer than lease_max \(2h0m0s\)/);
  await rejects(client.write("aws/config/lease", { lease: "1h" }), Code.INVALID_ARGUMENT, /lease_max: is required/);
  await client.write("aws/config/lease", { lease: "1h", lease_max: "2h" });
  assert.deepEqual((await client.read("aws/config/lease")).data, { lease: "1h0m0s", lease_max: "2h0m0s" });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });

  const plain = await client.aws.creds("deploy");
  assert.equal(plain.lease.durationSeconds, 3600);
  assert.equal(plain.lease.renewable, true);
  const short = await client.read("aws/creds/deploy", { ttl: "30m" });
  assert.equal(short.lease?.durationSeconds, 1800);
  const long = await client.read("aws/creds/deploy", { ttl: "5h" });
  assert.equal(long.lease?.durationSeconds, 7200, "clamped to lease_max");
  const renewed = await client.leases.renew(plain.lease.id, 5 * 3600);
  assert.equal(renewed.clamped, true);
  for (const id of [plain.lease.id, short.lease?.id, long.lease?.id]) await client.leases.revoke(id as string);
});

test("username templates: per role, else config/root's, else the default; bad ones refused at write", async (t) => {
  const { client, emulator } = await awsSetup(t);
  await client.write("aws/roles/plain", { policy_document: EC2_POLICY });
  await client.write("aws/roles/own", {
    policy_document: EC2_POLICY,
    username_template: '{{ printf "own-%s-%s" (.PolicyName) (random 8) }}',
  });
  const names = async (role: string) => {
    const before = new Set(lessorUsers(emulator));
    const creds = await client.aws.creds(role);
    const made = lessorUsers(emulator).filter((n) => !before.has(n));
    assert.equal(made.length, 1);
    return { name: made[0] as string, creds };
  };
  assert.match((await names("plain")).name, /^lessor-root-plain-\d{10}-[a-z0-9]{10}$/);
  assert.match((await names("own")).name, /^own-own-[0-9A-Za-z]{8}$/);

  const written = await client.write("aws/config/root", {
    username_template: '{{ printf "vault-%s-%s-%s" (printf "%s-%s" (.DisplayName) (.PolicyName) | truncate 42) (unix_time) (random 20) | truncate 64 }}',
  });
  assert.match(written.warnings.join("\n"), /federation_token names/);
  assert.match((await names("plain")).name, /^vault-root-plain-\d{10}-[0-9A-Za-z]{20}$/);
  assert.match((await names("own")).name, /^own-own-/, "the role's own template wins");

  await rejects(client.write("aws/config/root", { username_template: "{{ .DisplayName }}" }), Code.INVALID_ARGUMENT, /username_template: renders the same name twice/);
  await client.write("aws/config/root", { username_template: "" });
  assert.match((await names("plain")).name, /^lessor-root-plain-/);
});

test("consistency_wait makes creds wait until AWS accepts the new key", async (t) => {
  const { client, emulator } = await awsSetup(t);
  emulator.setKeyActivationDelay(6_000);
  await client.write("aws/roles/eager", { policy_document: EC2_POLICY });
  await client.write("aws/roles/patient", { policy_document: EC2_POLICY, consistency_wait: "30s" });

  // Without the option, a new key is refused at first, as AWS does for a few seconds.
  const eager = await client.aws.creds("eager");
  assert.deepEqual(await whoAmI(emulator, eager.accessKeyId, eager.secretAccessKey), { error: "InvalidClientTokenId" });

  const patient = await client.aws.creds("patient");
  const who = await whoAmI(emulator, patient.accessKeyId, patient.secretAccessKey);
  assert.ok("arn" in who, `the key works at once: ${JSON.stringify(who)}`);

  // A wait shorter than AWS needs returns the key anyway, saying so.
  await client.write("aws/roles/patient", { consistency_wait: "1s" });
  const hurried = await client.read("aws/creds/patient");
  assert.match(hurried.warnings.join("\n"), /did not yet accept the new access key after 1s/);
});

test("AWS errors are mapped for people and programs, and nothing is left behind", async (t) => {
  const { client, emulator, iam } = await awsSetup(t);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const noStack = (message: string) => assert.doesNotMatch(message, /\n\s+at /);

  // Throttling is retried with backoff: two throttled calls, then success.
  emulator.addFault({ action: "CreateUser", code: "Throttling", status: 400, count: 2 });
  const retried = await client.aws.creds("deploy");
  assert.equal(emulator.counts().errors.CreateUser?.Throttling, 2);
  await client.leases.revoke(retried.lease.id);

  // Throttling that does not stop: UNAVAILABLE with a retry delay.
  const throttle = emulator.addFault({ action: "CreateUser", code: "Throttling", status: 400 });
  let err = await rejects(client.aws.creds("deploy"), Code.UNAVAILABLE, /AWS is throttling requests: iam:CreateUser failed: Throttling/);
  assert.equal(err.reason, "AWS_THROTTLED");
  assert.ok((err.retryDelayMs ?? 0) > 0);
  noStack(err.message);
  emulator.removeFault(throttle);

  // IAM's LimitExceeded is a quota, not throttling: reported at once, not retried.
  emulator.resetCounts();
  emulator.addFault({ action: "CreateUser", code: "LimitExceeded", status: 409, count: 5 });
  err = await rejects(client.aws.creds("deploy"), Code.FAILED_PRECONDITION, /an AWS quota is reached: iam:CreateUser failed: LimitExceeded/);
  assert.equal(emulator.counts().calls.CreateUser, 1);
  emulator.clearFaults();

  // AWS unreachable: UNAVAILABLE.
  emulator.setDown(true);
  err = await rejects(client.aws.creds("deploy"), Code.UNAVAILABLE, /AWS could not be reached for iam:CreateUser/);
  assert.equal(err.reason, "AWS_UNREACHABLE");
  emulator.setDown(false);

  // A user without the permission: PERMISSION_DENIED naming AWS's code and the refused action.
  const weak = await createAdminUser(iam, "weak");
  await iam.send(new DetachUserPolicyCommand({ UserName: "weak", PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }));
  await client.write("aws/config/root", { access_key: weak.accessKeyId, secret_key: weak.secretAccessKey });
  err = await rejects(client.aws.creds("deploy"), Code.PERMISSION_DENIED, /AWS denied the request: iam:CreateUser failed: AccessDenied: User: arn:aws:iam::\d{12}:user\/weak is not authorized to perform: iam:CreateUser/);
  assert.deepEqual([err.reason, err.metadata.aws_error_code, err.metadata.aws_action], ["AWS_ACCESS_DENIED", "AccessDenied", "iam:CreateUser"]);
  noStack(err.message);

  // Keys AWS does not know: FAILED_PRECONDITION saying which path to write.
  await client.write("aws/config/root", { access_key: "AKIAIOSFODNN7EXAMPLE", secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" });
  err = await rejects(client.aws.creds("deploy"), Code.FAILED_PRECONDITION, /AWS rejected the configured credentials: iam:CreateUser failed: InvalidClientTokenId.*write valid keys to aws\/config\/root/);
  assert.doesNotMatch(err.message, /wJalrXUtnFEMI/);
  assert.deepEqual(lessorUsers(emulator, weak), []);
});

test("with no access key configured, the AWS SDK's default credential chain is used", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({
    env: { ...awsEnv(emulator), AWS_ACCESS_KEY_ID: emulator.rootAccessKeyId, AWS_SECRET_ACCESS_KEY: emulator.rootSecretAccessKey },
  });
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    await server.stop();
    await emulator.close();
  });
  await client.mounts.enable("aws");
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  // config/root never written: the environment's key is used.
  const first = await client.aws.creds("deploy");
  assert.equal(emulator.listUsers().length, 1);
  // Written without keys (only a region): still the environment's key.
  await client.write("aws/config/root", { region: "eu-west-1", max_retries: 1 });
  const second = await client.aws.creds("deploy");
  assert.equal(emulator.listUsers().length, 2);
  for (const c of [first, second]) await client.leases.revoke(c.lease.id);
  assert.deepEqual(emulator.listUsers(), []);
});

test("retries follow max_retries in config/root, else the SDK's own setting (AWS_MAX_ATTEMPTS)", async (t) => {
  const { client, emulator } = await awsSetup(t, { server: { env: { AWS_MAX_ATTEMPTS: "1" } } });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  emulator.addFault({ action: "CreateUser", code: "Throttling", status: 400, count: 1 });
  await rejects(client.aws.creds("deploy"), Code.UNAVAILABLE, /Throttling/);
  assert.equal(emulator.counts().calls.CreateUser, 1, "AWS_MAX_ATTEMPTS=1: no retry");

  await client.write("aws/config/root", { max_retries: 2 });
  emulator.resetCounts();
  emulator.addFault({ action: "CreateUser", code: "Throttling", status: 400, count: 2 });
  const creds = await client.aws.creds("deploy");
  assert.equal(emulator.counts().calls.CreateUser, 3, "max_retries=2: three attempts");
  await client.leases.revoke(creds.lease.id);
  await rejects(client.write("aws/config/root", { max_retries: 50 }), Code.INVALID_ARGUMENT, /max_retries: must be -1 \(the SDK's default\) or 0 to 20/);
});
