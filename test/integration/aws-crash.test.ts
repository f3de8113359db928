// Crash-safe issuance: the server is killed with SIGKILL while IAM users are
// being issued, and restarted on the same data directory. First at every step
// of an issuance in turn (the emulator holds that IAM call until the kill has
// landed), then at random points. Once the start-up rollback has run, every
// IAM user in the account belongs to a live lease: none is left behind
// half-made or unowned, and every lease a caller received has its user.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CreateGroupCommand } from "@aws-sdk/client-iam";
import { LeaseState, LessorClient, LessorClientError } from "@lessor/client";
import pino from "pino";
import { startLessor } from "../../src/server/app.js";
import { awsEnv, EC2_POLICY, rootIam, startAwsEmulator, type AwsEmulator } from "../helpers/aws.js";
import { clientFor, startServer, tempDir, type ServerProcess } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const RANDOM_KILLS = 6;
const READS_PER_ROUND = 3;
/** How long the emulator holds the IAM call a kill is aimed at. */
const HOLD_MS = 800;

/** Intents the start-up rollback undid, from the server's log. */
function rolledBackAtStart(server: ServerProcess): number {
  return Number(/"intents":(\d+)[^\n]*rolled back issuance/.exec(server.output())?.[1] ?? 0);
}

/** Starts the reads of a round; a read cut off by the kill fails UNAVAILABLE, which is the point. */
function startReads(client: LessorClient, issued: Set<string>): Promise<unknown> {
  return Promise.all(
    Array.from({ length: READS_PER_ROUND }, () =>
      client.aws.creds("deploy").then(
        (c) => issued.add(c.lease.id),
        (err: unknown) => {
          if (!(err instanceof LessorClientError) || err.codeName !== "UNAVAILABLE") throw err;
        },
      ),
    ),
  );
}

/** The IAM actions of one issuance, in the order it makes them. */
async function issuanceSteps(emulator: AwsEmulator, client: LessorClient): Promise<string[]> {
  emulator.resetCounts();
  const creds = await client.aws.creds("deploy");
  await client.leases.revoke(creds.lease.id);
  const steps = Object.keys(emulator.counts().calls).filter((a) => !/^(Delete|Remove|Detach|List|Get)/.test(a));
  assert.ok(steps.includes("CreateUser") && steps.includes("CreateAccessKey"), steps.join(", "));
  return steps;
}

test("SIGKILL at every step of an issuance, then at random: after restart every IAM user belongs to a live lease", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const iam = rootIam(emulator);
  t.after(async () => {
    iam.destroy();
    await emulator.close();
  });
  const env = awsEnv(emulator);
  const dataDir = tempDir("crash");

  const first = await startServer({ dataDir, env });
  const token = first.rootToken;
  assert.ok(token);
  let client = clientFor(first);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  await iam.send(new CreateGroupCommand({ GroupName: "developers" }));
  // Several IAM calls per issuance (user, inline and managed policy, group, key), so kills land between them.
  await client.write("aws/roles/deploy", {
    policy_document: EC2_POLICY,
    policy_arns: "arn:aws:iam::aws:policy/ReadOnlyAccess",
    iam_groups: "developers",
    iam_tags: "team=payments",
  });
  const steps = await issuanceSteps(emulator, client);
  client.close();
  await first.stop();

  const issued = new Set<string>();
  let rolledBack = 0;
  // 1. At every step: the emulator holds that call; the kill lands while it is in flight.
  for (const step of steps) {
    const server = await startServer({ dataDir, env });
    rolledBack += rolledBackAtStart(server);
    client = clientFor(server, token);
    const before = emulator.counts().calls[step] ?? 0;
    const fault = emulator.addFault({ action: step, latencyMs: HOLD_MS, count: 1 });
    const reads = startReads(client, issued);
    await waitFor(`a ${step} call in flight`, () => (emulator.counts().calls[step] ?? 0) > before, 20_000, 5);
    await server.kill();
    await reads;
    client.close();
    // The held call still completes at AWS after the kill, as a real one would: let it, then restart.
    await new Promise((r) => setTimeout(r, HOLD_MS + 100));
    emulator.removeFault(fault);
    const restarted = await startServer({ dataDir, env });
    const undone = rolledBackAtStart(restarted);
    assert.ok(undone > 0, `the kill during ${step} left an issuance the next start rolled back`);
    rolledBack += undone;
    await restarted.stop();
  }

  // 2. At random points, with a little latency on every IAM call to widen the windows.
  const latency = emulator.addFault({ action: "iam:*", latencyMs: 10 });
  for (let round = 0; round < RANDOM_KILLS; round++) {
    const server = await startServer({ dataDir, env });
    rolledBack += rolledBackAtStart(server);
    client = clientFor(server, token);
    const reads = startReads(client, issued);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
    await server.kill();
    await reads;
    client.close();
  }
  emulator.removeFault(latency);

  // The last start rolls back what the last kill left; it runs before the server listens.
  // (On PostgreSQL too: the killed server's session, and with it its liveness lock, is gone.)
  const last = await startServer({ dataDir, env });
  rolledBack += rolledBackAtStart(last);
  client = clientFor(last, token);
  t.after(async () => {
    client.close();
    await last.stop();
  });

  const users = emulator.listUsers();
  for (const user of users) {
    const leaseId = user.tags.find((tag) => tag.Key === "lessor-lease-id")?.Value;
    assert.ok(leaseId, `user ${user.userName} carries its lease id`);
    const lease = await client.leases.lookup(leaseId);
    assert.equal(lease.state, LeaseState.LEASE_STATE_ACTIVE, `user ${user.userName} belongs to a live lease`);
    assert.equal(user.accessKeys.length, 1, `user ${user.userName} was made whole`);
  }
  // Every lease a caller received still has its user.
  const owners = new Set(users.map((u) => u.tags.find((tag) => tag.Key === "lessor-lease-id")?.Value));
  for (const id of issued) assert.ok(owners.has(id), `the user of ${id} exists`);
  t.diagnostic(`${users.length} users, ${issued.size} leases returned to callers, ${rolledBack} issuances rolled back`);

  // And they all go away on revoke.
  for (const id of owners) await client.leases.revoke(id as string);
  assert.deepEqual(emulator.listUsers(), []);
});

test("an issuance that outlives the intent timeout is rolled back by the periodic sweep", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const dataDir = tempDir("sweep");
  const server = await startLessor({
    dataDir,
    ...(await storeOptions(dataDir)),
    listenAddress: "127.0.0.1:0",
    intentTimeoutMs: 1_000,
    logger: pino({ level: "silent" }),
  });
  const client = new LessorClient({ address: server.address, token: server.rootToken });
  t.after(async () => {
    client.close();
    await server.stop();
    await emulator.close();
  });
  await client.mounts.enable("aws");
  await client.write("aws/config/root", {
    access_key: emulator.rootAccessKeyId,
    secret_key: emulator.rootSecretAccessKey,
    region: "us-east-1",
    iam_endpoint: emulator.endpoint,
    sts_endpoint: emulator.endpoint,
  });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  // The issuance hangs between CreateUser and CreateAccessKey for longer than the timeout.
  emulator.addFault({ action: "CreateAccessKey", latencyMs: 4_000, count: 1 });
  const pending = client.aws.creds("deploy").then(
    () => assert.fail("an issuance rolled back must not return credentials"),
    (err: unknown) => err as LessorClientError,
  );
  // The sweep deletes the half-made user while the request still waits on AWS.
  const deadline = Date.now() + 10_000;
  let seen = false;
  for (;;) {
    const count = emulator.listUsers().length;
    if (count > 0) seen = true;
    if (seen && count === 0) break;
    assert.ok(Date.now() < deadline, "the sweep rolled the issuance back");
    await new Promise((r) => setTimeout(r, 50));
  }
  const err = await pending;
  assert.ok(err instanceof LessorClientError);
  assert.equal(err.codeName, "UNAVAILABLE");
  assert.match(err.message, /disappeared while it was being set up \(iam:CreateAccessKey\): the issuance took too long and was rolled back/);
  assert.deepEqual(emulator.listUsers(), []);
  // Issuance works again afterwards.
  const creds = await client.aws.creds("deploy");
  await client.leases.revoke(creds.lease.id);
  assert.deepEqual(emulator.listUsers(), []);
});
