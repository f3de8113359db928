// What a failed call looks like to a client program: one error class with the
// gRPC code, ErrorInfo's reason and metadata, BadRequest's field violations and
// RetryInfo's delay, decoded from grpc-status-details-bin. And which calls the
// client repeats on UNAVAILABLE: reads that cannot issue anything, never creds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import pino from "pino";
import { Code, LessorClient, isIdempotentRead } from "@lessor/client";
import { startLessor } from "../../src/server/app.js";
import { tempDir } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";
import { awsSetup } from "./setup.js";
import { waitFor } from "../helpers/wait.js";
import { failure } from "../helpers/errors.js";

test("BadRequest field violations, ErrorInfo reason and metadata, and RetryInfo arrive decoded", async (t) => {
  const { client, emulator, server } = await awsSetup(t);

  const invalid = await failure(client.write("aws/roles/bad", { credential_type: "bogus", policy_document: "{}" }));
  assert.equal(invalid.code, Code.INVALID_ARGUMENT);
  assert.equal(invalid.codeName, "INVALID_ARGUMENT");
  assert.equal(invalid.reason, "FIELD_INVALID");
  assert.equal(invalid.method, "SecretsService/Write");
  assert.ok(invalid.fieldViolations.length >= 1);
  assert.ok(invalid.fieldViolations.some((v) => v.field === "credential_type" && v.description !== ""), JSON.stringify(invalid.fieldViolations));
  assert.ok(invalid.fieldViolations.every((v) => v.reason === "FIELD_INVALID"), "each violation keeps the reason the server sent");
  // What a logger prints of it: JSON.stringify keeps the message and the code's name.
  const logged = JSON.parse(JSON.stringify({ err: invalid })) as { err: Record<string, unknown> };
  assert.equal(logged.err.message, invalid.message);
  assert.equal(logged.err.codeName, "INVALID_ARGUMENT");
  assert.deepEqual([logged.err.name, logged.err.code, logged.err.reason, logged.err.method], ["LessorClientError", Code.INVALID_ARGUMENT, "FIELD_INVALID", "SecretsService/Write"]);
  assert.deepEqual(logged.err.fieldViolations, invalid.fieldViolations);

  const creds = await client.aws.creds("deploy");
  const missing = await failure(client.leases.lookup(creds.lease.id.slice(0, -3)));
  assert.equal(missing.code, Code.NOT_FOUND);
  assert.equal(missing.reason, "LEASE_NOT_FOUND");
  assert.equal(missing.metadata.did_you_mean, creds.lease.id);
  assert.equal(missing.metadata.lease_id, creds.lease.id.slice(0, -3));

  emulator.addFault({ action: "CreateUser", code: "Throttling", status: 400 });
  const throttled = await failure(client.aws.creds("deploy"));
  assert.equal(throttled.code, Code.UNAVAILABLE);
  assert.equal(throttled.reason, "AWS_THROTTLED");
  assert.equal(throttled.retryDelayMs, 2_000);
  assert.equal(throttled.metadata.aws_error_code, "Throttling");
  // UNAVAILABLE, but a creds read issues a secret each time: the client did not repeat it
  // (the server logs one failed SecretsService/Read per call it received). The log is
  // written in order, so once a later call's line is there, every earlier one is too.
  await failure(client.leases.lookup("aws/creds/deploy/marker"));
  await waitFor("the marker call in the server log", () => server.output().includes("lease not found: aws/creds/deploy/marker"));
  const failedReads = server
    .output()
    .split("\n")
    .filter((line) => line.includes('"method":"SecretsService/Read"') && line.includes("AWS is throttling"));
  assert.equal(failedReads.length, 1, failedReads.join("\n"));
});

test("idempotent reads are retried on UNAVAILABLE until the server is back; creds reads and writes are not", async (t) => {
  // A port with nothing listening yet.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
  const dataDir = tempDir("retry");
  const store = await storeOptions(dataDir);
  const first = await startLessor({ dataDir, ...store, listenAddress: `127.0.0.1:${port}`, logger: pino({ level: "silent" }) });
  const token = first.rootToken as string;
  const setupClient = new LessorClient({ address: first.address, token });
  await setupClient.mounts.enable("kv", { path: "kv" });
  await setupClient.write("kv/config/app", { colour: "blue" });
  setupClient.close();
  await first.stop();

  const client = new LessorClient({ address: `127.0.0.1:${port}`, token, retry: { maxAttempts: 100, initialBackoffMs: 100, maxBackoffMs: 300 } });
  t.after(() => client.close());
  // Not idempotent: fails at once with UNAVAILABLE.
  assert.equal((await failure(client.read("aws/creds/deploy"))).code, Code.UNAVAILABLE);
  assert.equal((await failure(client.write("kv/other", { a: "b" }))).code, Code.UNAVAILABLE);

  // Idempotent: keeps trying while the server is down, and succeeds once it is back.
  let settled = false;
  const listing = client.list("kv/config").finally(() => (settled = true));
  const reading = client.read("kv/config/app");
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(settled, false, "still retrying while nothing listens");
  const second = await startLessor({ dataDir, ...store, listenAddress: `127.0.0.1:${port}`, logger: pino({ level: "silent" }) });
  t.after(() => second.stop());
  assert.deepEqual(await listing, ["app"]);
  assert.deepEqual((await reading).data, { colour: "blue" });
});

test("which reads count as idempotent", () => {
  for (const path of ["aws/config/root", "aws/config/lease", "aws/roles/deploy", "team/aws/roles/deploy", "kv/config/app"]) {
    assert.equal(isIdempotentRead(path), true, path);
  }
  for (const path of ["aws/creds/deploy", "aws/sts/deploy", "aws/roles/creds", "secret/app", "pki/issue/web"]) {
    assert.equal(isIdempotentRead(path), false, path);
  }
});
