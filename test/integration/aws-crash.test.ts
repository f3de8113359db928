// Crash-safe issuance: the server is killed with SIGKILL at random points
// while IAM users are being issued, and restarted on the same data directory,
// over and over. Once the start-up rollback has run, every IAM user in the
// account belongs to a live lease: none is left behind half-made or unowned.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CreateGroupCommand } from "@aws-sdk/client-iam";
import { LeaseState, LessorClient, LessorClientError } from "@lessor/client";
import pino from "pino";
import { startLessor } from "../../src/server/app.js";
import { awsEnv, EC2_POLICY, rootIam, startAwsEmulator } from "../helpers/aws.js";
import { clientFor, startServer, tempDir } from "../helpers/processes.js";
import { onPostgres, storeOptions } from "../helpers/store.js";

// Fewer on PostgreSQL, where each cold start is slower: the suite runs on both stores.
const KILLS = onPostgres() ? 40 : 100;
const READS_PER_ROUND = 3;
const MAX_KILL_DELAY_MS = 300;

test(`SIGKILL during issuance ${KILLS} times: after restart every IAM user belongs to a live lease`, async (t) => {
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
  client.close();
  await first.stop();
  // A little latency on every IAM call widens the window between them.
  emulator.addFault({ action: "iam:*", latencyMs: 10 });

  const issued = new Set<string>();
  let rolledBack = 0;
  // Kills must land before and after issuances finish: the window covers a
  // cold start's first issuances, timed here, as slow as the machine (or the
  // store: PostgreSQL opens its connections on the first calls) makes them.
  const probe = await startServer({ dataDir, env });
  client = clientFor(probe, token);
  const probeStart = Date.now();
  const probed = (await Promise.all(Array.from({ length: READS_PER_ROUND }, () => client.aws.creds("deploy")))).map((c) => c.lease.id);
  const killWindowMs = Math.max(MAX_KILL_DELAY_MS, Math.ceil((Date.now() - probeStart) * 1.2));
  client.close();
  await probe.stop();
  t.diagnostic(`kill window ${killWindowMs} ms`);

  for (let round = 0; round < KILLS; round++) {
    const server = await startServer({ dataDir, env });
    rolledBack += Number(/"intents":(\d+)[^\n]*rolled back issuance/.exec(server.output())?.[1] ?? 0);
    client = clientFor(server, token);
    const reads = Array.from({ length: READS_PER_ROUND }, () =>
      client.aws.creds("deploy").then(
        (c) => issued.add(c.lease.id),
        (err: unknown) => {
          // The server dying mid-call is the point; anything else is a failure of the test.
          if (!(err instanceof LessorClientError) || err.codeName !== "UNAVAILABLE") throw err;
        },
      ),
    );
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * killWindowMs)));
    await server.kill();
    await Promise.all(reads);
    client.close();
  }

  // The last start rolls back what the last kill left; it runs before the server listens.
  // (On PostgreSQL too: the killed server's session, and with it its liveness lock, is gone.)
  const last = await startServer({ dataDir, env });
  rolledBack += Number(/"intents":(\d+)[^\n]*rolled back issuance/.exec(last.output())?.[1] ?? 0);
  client = clientFor(last, token);
  t.after(async () => {
    client.close();
    await last.stop();
  });

  const users = emulator.listUsers();
  assert.ok(issued.size > 0, "some issuances finished between kills");
  assert.ok(rolledBack > 0, "some kills landed mid-issuance and were rolled back at the next start");
  for (const user of users) {
    const leaseId = user.tags.find((tag) => tag.Key === "lessor-lease-id")?.Value;
    assert.ok(leaseId, `user ${user.userName} carries its lease id`);
    const lease = await client.leases.lookup(leaseId);
    assert.equal(lease.state, LeaseState.LEASE_STATE_ACTIVE, `user ${user.userName} belongs to a live lease`);
    assert.equal(user.accessKeys.length, 1, `user ${user.userName} was made whole`);
  }
  // Every lease a caller received still has its user.
  const owners = new Set(users.map((u) => u.tags.find((tag) => tag.Key === "lessor-lease-id")?.Value));
  for (const id of [...probed, ...issued]) assert.ok(owners.has(id), `the user of ${id} exists`);
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
