// Vault's HTTP API from outside, with clients Lessor did not write:
// node-vault (a Vault client from npm) does what a Node service does with
// Vault, against a real server and the AWS emulator; Debian's curl runs the
// README's examples as written, whose answers must have Vault's documented
// shapes. The same values are seen through gRPC: one server, two doors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import vault from "node-vault";
import { z } from "zod";
import { LeaseState } from "@lessor/client/gen/lessor/v1/leases.js";
import { awsEnv, EC2_POLICY, startAwsEmulator, startWithEmulator, whoAmI } from "../helpers/aws.js";
import { assertHasShape, assertSameShape, type Json } from "../helpers/json-shape.js";
import { clientFor, REPO_ROOT, startServer } from "../helpers/processes.js";

/** node-vault's answers are untyped: each is parsed for what a user reads from it. */
const envelope = z.object({ request_id: z.string(), lease_id: z.string(), renewable: z.boolean(), lease_duration: z.number() });
const credsAnswer = envelope.extend({ data: z.object({ access_key: z.string(), secret_key: z.string(), security_token: z.null() }) });
const authAnswer = z.object({
  auth: z.object({ client_token: z.string(), accessor: z.string(), policies: z.array(z.string()), lease_duration: z.number(), renewable: z.boolean() }),
});

/** What node-vault rejects with: Vault's status code and errors. */
async function vaultError(promise: Promise<unknown>): Promise<{ status: number; errors: string[] }> {
  try {
    await promise;
  } catch (err) {
    const parsed = z.object({ response: z.object({ statusCode: z.number(), body: z.object({ errors: z.array(z.string()) }) }) }).parse(err);
    return { status: parsed.response.statusCode, errors: parsed.response.body.errors };
  }
  assert.fail("expected the request to fail");
}

test("node-vault against Lessor: kv, an AWS credential on a lease, renew, revoke, policies, tokens, health", async (t) => {
  const { emulator, server, client } = await startWithEmulator(t, { http: true });
  const endpoint = server.httpUrl;
  assert.ok(endpoint, "the banner names the HTTP API");
  const root = vault({ endpoint, token: server.rootToken });

  const health = z.object({ initialized: z.boolean(), sealed: z.boolean(), standby: z.boolean(), version: z.string() }).parse(await root.health());
  assert.deepEqual([health.initialized, health.sealed, health.standby], [true, false, false]);

  // node-vault's mount() sends the mount point in the body too.
  await root.mount({ mount_point: "secret", type: "kv" });
  await root.mount({ mount_point: "aws", type: "aws", description: "AWS" });
  const mounts = z.record(z.string(), z.unknown()).parse(await root.mounts());
  assert.equal(z.object({ type: z.string() }).parse(mounts["aws/"]).type, "aws", "sys/mounts' data is at the top level, as Vault's");

  await root.write("secret/app", { password: "s3cr3t", ttl: "1h" });
  const read = envelope.extend({ data: z.record(z.string(), z.string()) }).parse(await root.read("secret/app"));
  assert.deepEqual(read.data, { password: "s3cr3t", ttl: "1h" });
  assert.equal(read.lease_duration, 3600, "kv's ttl is the lease_duration, as Vault's kv");
  assert.deepEqual((await client.read("secret/app")).data, { password: "s3cr3t", ttl: "1h" }, "gRPC reads what HTTP wrote");
  // node-vault lists with the LIST method, on a kept-alive connection.
  assert.deepEqual(z.object({ data: z.object({ keys: z.array(z.string()) }) }).parse(await root.list("secret/")).data.keys, ["app"]);

  await root.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  await root.write("aws/roles/deploy", { credential_type: "iam_user", policy_document: EC2_POLICY });
  const creds = credsAnswer.parse(await root.read("aws/creds/deploy"));
  assert.match(creds.lease_id, /^aws\/creds\/deploy\/[0-9a-f-]{36}$/);
  assert.equal(creds.renewable, true);
  const identity = await whoAmI(emulator, creds.data.access_key, creds.data.secret_key);
  assert.ok("arn" in identity && /:user\//.test(identity.arn), `the key works against AWS: ${JSON.stringify(identity)}`);

  const renewed = z.object({ lease_id: z.string(), renewable: z.boolean(), lease_duration: z.number() }).parse(await root.renew({ lease_id: creds.lease_id, increment: 600 }));
  assert.deepEqual(renewed, { ...renewed, lease_id: creds.lease_id, renewable: true, lease_duration: 600 });
  assert.ok((await client.leases.lookup(creds.lease_id)).ttlSeconds <= 600, "gRPC sees the renewed lease");

  await root.revoke({ lease_id: creds.lease_id });
  assert.equal((await client.leases.lookup(creds.lease_id)).state, LeaseState.LEASE_STATE_REVOKED);
  assert.deepEqual(emulator.listUsers(), [], "revoking the lease deleted the IAM user");
  assert.ok("error" in (await whoAmI(emulator, creds.data.access_key, creds.data.secret_key)), "the key no longer works");

  await root.addPolicy({ name: "reader", rules: 'path "secret/*" { capabilities = ["read", "list"] }' });
  assert.match(z.object({ rules: z.string() }).parse(await root.getPolicy({ name: "reader" })).rules, /secret\/\*/);
  assert.ok(z.object({ policies: z.array(z.string()) }).parse(await root.policies()).policies.includes("reader"));

  // node-vault's tokenCreate goes on as the token it made, so it gets a client of its own.
  const reader = vault({ endpoint, token: server.rootToken });
  const made = authAnswer.parse(await reader.tokenCreate({ policies: ["reader"], ttl: "1h" }));
  assert.equal(reader.token, made.auth.client_token);
  assert.deepEqual(made.auth.policies, ["default", "reader"]);
  assert.equal(made.auth.lease_duration, 3600);
  const looked = z.object({ data: z.object({ id: z.string(), policies: z.array(z.string()), ttl: z.number() }) }).parse(await root.tokenLookup({ token: made.auth.client_token }));
  assert.equal(looked.data.id, made.auth.client_token);
  assert.ok(looked.data.ttl > 3500 && looked.data.ttl <= 3600);

  assert.equal(z.object({ data: z.object({ password: z.string() }) }).parse(await reader.read("secret/app")).data.password, "s3cr3t");
  const denied = await vaultError(reader.write("secret/app", { password: "mine" }));
  assert.equal(denied.status, 403);
  assert.match(denied.errors.join(" "), /permission denied: "update" on path "secret\/app"/);
  const self = authAnswer.parse(await reader.tokenRenewSelf({ increment: "30m" }));
  assert.deepEqual([self.auth.client_token, self.auth.lease_duration], [made.auth.client_token, 1800]);

  const nobody = vault({ endpoint, token: "lsr.not-a-token" });
  const refused = await vaultError(nobody.read("secret/app"));
  assert.deepEqual(refused, { status: 403, errors: ["permission denied", "invalid token: no such token (it may have been revoked)"] });
  assert.equal(z.object({ initialized: z.boolean() }).parse(await nobody.health()).initialized, true, "health needs no token");
});

interface Example {
  command: string;
  output: string;
}

/** `$ curl ...` lines of the README's HTTP API section, each with the output printed under it. */
function readmeExamples(): Example[] {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Vault's HTTP API"), readme.indexOf("## Leases"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return block
    .split(/^\$ /m)
    .slice(1)
    .filter((chunk) => chunk.startsWith("curl "))
    .map((chunk) => {
      const [command = "", ...output] = chunk.split("\n");
      return { command, output: output.join("\n").trim() };
    });
}

/**
 * Vault's documented answers, from its API pages (api-docs/system/health,
 * secret/kv/kv-v1, secret/aws, system/leases, auth/token,
 * system/capabilities-self, and the error response of the API's index).
 */
const VAULT_DOCUMENTED: Array<[RegExp, Json]> = [
  [
    /\/v1\/sys\/health$/,
    {
      initialized: true,
      sealed: false,
      standby: false,
      performance_standby: false,
      replication_performance_mode: "disabled",
      replication_dr_mode: "disabled",
      server_time_utc: 1516639589,
      version: "0.9.2",
      cluster_name: "vault-cluster-3bd69ca2",
      cluster_id: "00af5aa8-c87d-b5fc-e82e-97cd8dfaf731",
    },
  ],
  [/-X LIST .*\/v1\/secret$/, { auth: null, data: { keys: ["foo", "foo/"] }, lease_duration: 2764800, lease_id: "", renewable: false }],
  [/Wrap-TTL/, { errors: ["message"] }],
  // The sample's data is its own example's fields: any data matches.
  [/\/v1\/secret\/app$/, { auth: null, data: null, lease_duration: 3600, lease_id: "", renewable: false }],
  [/\/v1\/aws\/creds\/my-role$/, { data: { access_key: "AKIA...", secret_key: "xlCs...", security_token: null } }],
  [/\/v1\/sys\/leases\/renew$/, { lease_id: "aws/creds/deploy/abcd-1234...", renewable: true, lease_duration: 2764790 }],
  [
    /\/v1\/auth\/token\/create$/,
    {
      request_id: "f00341c1-fad5-f6e6-13fd-235617f858a1",
      lease_id: "",
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: null,
      warnings: null,
      auth: {
        client_token: "s.wOrq9dO9kzOcuvB06CMviJhZ",
        accessor: "B6oixijqmeR4bsLOJH88Ska9",
        policies: ["default", "stage", "web"],
        token_policies: ["default", "stage", "web"],
        metadata: {}, // the sample's own example metadata: any
        lease_duration: 3600,
        renewable: true,
        entity_id: "",
        token_type: "service",
        orphan: false,
      },
    },
  ],
  [/\/v1\/sys\/capabilities-self$/, { capabilities: ["delete", "list", "read", "update"], "secret/app": ["delete", "list", "read", "update"] }],
];

function curl(line: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", line], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test("the README's curl calls work as written and answer in Vault's documented shapes; -dev serves them", async (t) => {
  const examples = readmeExamples();
  assert.equal(examples.length, 10, "the README's examples were found");
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({ dev: true, env: awsEnv(emulator) });
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    await server.stop();
    await emulator.close();
  });
  assert.match(server.output(), /Vault API: http:\/\/127\.0\.0\.1:\d+ \(HTTP, plaintext, loopback\)/);
  assert.match(server.output(), /export VAULT_ADDR='http:\/\/127\.0\.0\.1:\d+'/);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  await client.write("aws/roles/my-role", { credential_type: "iam_user", policy_document: EC2_POLICY });

  const env = { VAULT_ADDR: server.httpUrl, VAULT_TOKEN: server.rootToken };
  const readmeLeaseId = /aws\/creds\/my-role\/[0-9a-f-]{36}/.exec(examples.map((e) => e.output).join("\n"))?.[0] ?? "";
  let leaseId = readmeLeaseId;
  const documented = new Set<RegExp>();
  for (const example of examples) {
    const result = await curl(example.command.replaceAll(readmeLeaseId, leaseId), env);
    assert.equal(result.code, 0, `${example.command}\n${result.stderr}`);
    if (example.output === "") {
      assert.equal(result.stdout, "", `${example.command}: no body (204), as the README shows`);
      continue;
    }
    const actual = JSON.parse(result.stdout) as Json;
    assertSameShape(actual, JSON.parse(example.output) as Json, example.command);
    const vaultShape = VAULT_DOCUMENTED.find(([pattern]) => pattern.test(example.command));
    if (vaultShape) {
      assertHasShape(actual, vaultShape[1], `Vault's documented answer for ${example.command}`);
      documented.add(vaultShape[0]);
    }
    if (example.command.endsWith("/v1/aws/creds/my-role")) leaseId = credsAnswer.parse(actual).lease_id;
  }
  assert.equal(documented.size, VAULT_DOCUMENTED.length, "every documented answer was compared");
  assert.notEqual(leaseId, readmeLeaseId, "the read issued a lease");
  assert.equal((await client.leases.lookup(leaseId)).state, LeaseState.LEASE_STATE_REVOKED, "the README's revoke revoked it");
  assert.deepEqual(emulator.listUsers(), []);
});
