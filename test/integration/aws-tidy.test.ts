// aws/tidy through the generated client: it finds exactly the IAM users this
// mount made that no live lease owns, deletes them when asked, and touches
// nothing else: users without Lessor's tags, other mounts' users, users with
// a live lease (or one being revoked, or being issued), users outside the path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { CreateUserCommand } from "@aws-sdk/client-iam";
import { Code } from "@lessor/client";
import { z } from "zod";
import { EC2_POLICY } from "../helpers/aws.js";
import { awsSetup, rejects } from "../helpers/aws-engine.js";
import { runCli } from "../helpers/processes.js";

/** What aws/tidy answers, parsed rather than assumed. */
const TidyResult = z.object({
  scanned: z.number(),
  orphans: z.array(z.object({ user_name: z.string(), path: z.string(), lease_id: z.string() })),
  deleted: z.array(z.string()),
  failed: z.record(z.string(), z.string()),
});
const tidy = (answer: { data: unknown }) => TidyResult.parse(answer.data);

test("tidy finds exactly the orphans, deletes them when asked, and nothing else", async (t) => {
  const { client, emulator, iam } = await awsSetup(t);
  const accessor = (await client.mounts.list()).find((m) => m.path === "aws/")?.accessor ?? "";
  assert.match(accessor, /^aws_/);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY, user_path: "/lessor/" });
  await client.write("aws/roles/root-path", { policy_document: EC2_POLICY });
  const tags = (leaseId: string, mount = accessor) => [
    { Key: "lessor-lease-id", Value: leaseId },
    { Key: "lessor-mount", Value: mount },
  ];

  // More users than one ListUsers page, none of them Lessor's.
  emulator.seed({ users: 1_100, prefix: "human-" });

  // A revoked lease whose user came back (made again by hand, tags and all), and a lease Lessor never recorded.
  const revoked = await client.aws.creds("deploy");
  const revokedUser = emulator.listUsers().find((u) => u.tags.some((tag) => tag.Value === revoked.lease.id));
  assert.ok(revokedUser);
  await client.leases.revoke(revoked.lease.id);
  await iam.send(new CreateUserCommand({ UserName: revokedUser.userName, Path: "/lessor/", Tags: tags(revoked.lease.id) }));
  const unknownLease = `aws/creds/root-path/${randomUUID()}`;
  await iam.send(new CreateUserCommand({ UserName: "lost-rollback", Tags: tags(unknownLease) }));

  // A live lease, and a lease whose revocation is failing (still owned: the lease manager retries it).
  const live = await client.aws.creds("deploy");
  const stuck = await client.aws.creds("root-path");
  // (Users tidy deletes hold no keys, so this fault holds up only the lease manager's retries.)
  const fault = emulator.addFault({ action: "DeleteAccessKey", code: "AccessDenied", status: 403 });
  await rejects(client.leases.revoke(stuck.lease.id), Code.PERMISSION_DENIED, /DeleteAccessKey/);

  // Look-alikes that are not this mount's orphans.
  await iam.send(new CreateUserCommand({ UserName: "other-server", Tags: tags(`aws/creds/deploy/${randomUUID()}`, "aws_0badc0de") }));
  await iam.send(new CreateUserCommand({ UserName: "lease-tag-only", Tags: [{ Key: "lessor-lease-id", Value: `aws/creds/x/${randomUUID()}` }] }));
  await iam.send(new CreateUserCommand({ UserName: "tagged-otherwise", Path: "/lessor/", Tags: [{ Key: "team", Value: "payments" }] }));

  const expected = [
    { user_name: "lost-rollback", path: "/", lease_id: unknownLease },
    { user_name: revokedUser.userName, path: "/lessor/", lease_id: revoked.lease.id },
  ].sort((a, b) => a.user_name.localeCompare(b.user_name));
  const usersBefore = emulator.listUsers().map((u) => u.userName).sort();

  const listed = tidy(await client.read("aws/tidy"));
  assert.deepEqual(listed.orphans, expected);
  assert.equal(listed.scanned, usersBefore.length);
  assert.deepEqual(listed.deleted, []);

  const underPath = tidy(await client.read("aws/tidy", { path_prefix: "/lessor/" }));
  assert.deepEqual(underPath.orphans, expected.filter((o) => o.path === "/lessor/"));
  const dry = tidy(await client.write("aws/tidy", { dry_run: true }));
  assert.deepEqual([dry.orphans, dry.deleted], [expected, []]);
  assert.deepEqual(emulator.listUsers().map((u) => u.userName).sort(), usersBefore, "listing deletes nothing");

  const done = tidy(await client.write("aws/tidy", {}));
  assert.deepEqual(done.deleted, expected.map((o) => o.user_name).sort());
  assert.deepEqual(done.failed, {});
  const left = new Set(emulator.listUsers().map((u) => u.userName));
  assert.deepEqual(
    usersBefore.filter((u) => !left.has(u)),
    expected.map((o) => o.user_name).sort(),
    "exactly the orphans are gone",
  );
  assert.deepEqual(tidy(await client.read("aws/tidy")).orphans, []);

  // The live lease's user still works as before.
  emulator.removeFault(fault);
  await client.leases.revoke(live.lease.id);
  await rejects(client.read("aws/tidy", { path_prefix: "lessor" }), Code.INVALID_ARGUMENT, /path_prefix: must be an IAM path prefix/);
});

test("tidy never takes a user whose issuance is still under way", async (t) => {
  const { client, emulator } = await awsSetup(t);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  // Hold the issuance between CreateUser and CreateAccessKey.
  emulator.addFault({ action: "CreateAccessKey", latencyMs: 3_000, count: 1 });
  const pending = client.aws.creds("deploy");
  const deadline = Date.now() + 10_000;
  while (emulator.listUsers().length === 0) {
    assert.ok(Date.now() < deadline, "the user appears");
    await new Promise((r) => setTimeout(r, 20));
  }
  const during = tidy(await client.write("aws/tidy", {}));
  assert.deepEqual([during.orphans, during.deleted], [[], []]);
  const creds = await pending;
  assert.equal(emulator.listUsers().length, 1);
  await client.leases.revoke(creds.lease.id);
});

test("`lessor write -force aws/tidy` fails, exit code 2, when some orphans could not be deleted, and says which", async (t) => {
  const { client, emulator, iam, server } = await awsSetup(t);
  const accessor = (await client.mounts.list()).find((m) => m.path === "aws/")?.accessor ?? "";
  for (const name of ["orphan-a", "orphan-b"]) {
    await iam.send(
      new CreateUserCommand({ UserName: name, Tags: [{ Key: "lessor-lease-id", Value: `aws/creds/x/${randomUUID()}` }, { Key: "lessor-mount", Value: accessor }] }),
    );
  }
  // IAM refuses one of the two deletions.
  emulator.addFault({ action: "DeleteUser", code: "AccessDenied", status: 403, count: 1 });
  const r = await runCli(["write", "-force", "aws/tidy"], { env: { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken } });
  assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /Code: PERMISSION_DENIED/);
  assert.match(r.stderr, /tidy could not delete 1 of 2 IAM users no lease owns \(1 deleted\): orphan-[ab]: AWS denied the request: iam:DeleteUser failed: AccessDenied/);
  assert.equal(emulator.listUsers().length, 1, "the other orphan was deleted");
  // Once IAM allows it, tidy finishes and succeeds.
  const again = await runCli(["write", "-force", "aws/tidy"], { env: { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken } });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(emulator.listUsers(), []);
});
