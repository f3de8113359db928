// `lessor agent`, `lessor aws credential-process` and `lessor aws exec`, as
// real processes, used by programs that know nothing of Lessor: an ordinary
// AWS SDK v3 program and Debian's boto3, configured by environment variables
// (or ~/.aws/config) alone, calling STS GetCallerIdentity on the emulator,
// which checks every SigV4 signature.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { LeaseEventType, LeaseState, watchLeases, type LeaseEvent, type LessorClient } from "@lessor/client";
import { awsEnv, EC2_POLICY, startAwsEmulator, type AwsEmulator } from "../helpers/aws.js";
import { boto3, boto3Missing, endpointEnv, runCaller, startAgent, type AgentProcess, type CallResult } from "../helpers/agent.js";
import { clientFor, LESSOR_BIN, runCli, startServer, tempDir, type ServerProcess } from "../helpers/processes.js";
import { waitFor } from "../helpers/wait.js";

const arnsOf = (results: CallResult[]): string[] => results.flatMap((r) => ("arn" in r ? [r.arn] : []));
const errorsOf = (results: CallResult[]): string[] => results.flatMap((r) => ("error" in r ? [r.error] : []));
const userOf = (arn: string): string => arn.slice(arn.lastIndexOf("/") + 1);
/** Users the emulator holds for a mount's leases (their lessor-lease-id tag names it). */
const usersOf = (emulator: AwsEmulator, mount: string): string[] =>
  emulator
    .listUsers()
    .filter((u) => u.tags.some((tag) => tag.Key === "lessor-lease-id" && tag.Value.startsWith(`${mount}/creds/`)))
    .map((u) => u.userName);

async function getCreds(agent: AgentProcess, role: string, token?: string): Promise<{ status: number; body: Record<string, string>; cacheControl: string | null }> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: token };
  const res = await fetch(`${agent.url}/aws/creds/${role}`, { headers, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: (await res.json()) as Record<string, string>, cacheControl: res.headers.get("cache-control") };
}

describe("lessor agent", () => {
  let emulator: AwsEmulator;
  let server: ServerProcess;
  let client: LessorClient;
  /** The root token, in a file the agents read. */
  let tokenFile: string;
  /** What every Lessor process here is started with: the AWS SDK talks to the emulator only. */
  let env: NodeJS.ProcessEnv;
  /** The long-running agent on aws/ (leases of 8 s, renewable for an hour). */
  let agent: AgentProcess;
  let agentToken: string;

  before(async () => {
    emulator = await startAwsEmulator({ port: 0 });
    server = await startServer({ env: awsEnv(emulator) });
    client = clientFor(server);
    // aws/: renewed every few seconds. aws-rotate/: 9 s leases that cannot be extended, so replaced every 4.5 s.
    await client.mounts.enable("aws", { defaultLeaseTtlSeconds: 8, maxLeaseTtlSeconds: 3600 });
    await client.mounts.enable("aws", { path: "aws-rotate", defaultLeaseTtlSeconds: 9, maxLeaseTtlSeconds: 9 });
    // aws-long/: the server's default lease TTLs, for credential_process's cache between runs.
    await client.mounts.enable("aws", { path: "aws-long" });
    for (const mount of ["aws", "aws-rotate", "aws-long"]) {
      await client.write(`${mount}/config/root`, { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
      await client.write(`${mount}/roles/deploy`, { credential_type: "iam_user", policy_document: EC2_POLICY });
    }
    tokenFile = join(tempDir("token"), "token");
    writeFileSync(tokenFile, `${server.rootToken}\n`, { mode: 0o600 });
    env = { ...awsEnv(emulator), LESSOR_ADDR: server.address, HOME: tempDir("home"), NODE_NO_WARNINGS: "1" };
    // The long-running agent holds only what the README says an agent needs (and the default policy).
    await client.policies.write("agent", 'path "aws/creds/deploy" { capabilities = ["read"] }\npath "sys/leases/revoke/aws/creds/deploy/*" { capabilities = ["update"] }\n');
    // It logs in by itself (AppRole: a role_id, and a secret_id in a file).
    await client.write("sys/auth/approle", { type: "approle" });
    await client.write("auth/approle/role/agent", { token_policies: "agent", token_ttl: "1h" });
    const roleId = String((await client.read("auth/approle/role/agent/role-id")).data.role_id);
    const secretIdFile = join(tempDir("agent-secret-id"), "secret-id");
    writeFileSync(secretIdFile, String((await client.write("auth/approle/role/agent/secret-id", {})).data.secret_id), { mode: 0o600 });
    agent = await startAgent({ args: ["-auth-method=approle", `-auth-config=role_id=${roleId}`, `-auth-config=secret_id_file=${secretIdFile}`], env });
    agentToken = readFileSync(agent.tokenFile, "utf8");
  });

  after(async () => {
    await agent?.kill();
    client?.close();
    await server?.stop();
    await emulator?.close();
  });

  it("replaces a lease before its max TTL: SDK calls across two replacements see no error, the old lease is revoked after the overlap, never more than two users", async () => {
    // New keys are refused by AWS for half a second: the agent must not hand one out before AWS accepts it.
    emulator.setKeyActivationDelay(500);
    const rotating = await startAgent({ args: [`-token-file=${tokenFile}`, "-mount=aws-rotate", "-role=deploy"], env });
    const events: LeaseEvent[] = [];
    const watching = new AbortController();
    const watched = (async () => {
      for await (const e of watchLeases(client, { prefix: "aws-rotate/creds/deploy/", fromOldest: true, signal: watching.signal })) events.push(e);
    })();
    let mostUsers = 0;
    const census = setInterval(() => (mostUsers = Math.max(mostUsers, usersOf(emulator, "aws-rotate").length)), 20);
    try {
      // The first lease, issued before the loop starts (the SDK gives up on an endpoint after a few seconds).
      const first = await getCreds(rotating, "deploy", readFileSync(rotating.tokenFile, "utf8"));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const loop = runCaller(endpointEnv(env, `${rotating.url}/aws/creds/deploy`, { file: rotating.tokenFile }), 0);
      await waitFor("three users in turn (two replacements)", () => new Set(arnsOf(loop.results())).size >= 3, 40_000);
      const firstArn = arnsOf(loop.results())[0] as string;
      await waitFor("the first user deleted", () => !usersOf(emulator, "aws-rotate").includes(userOf(firstArn)), 15_000);
      const results = await loop.stop();
      assert.deepEqual(errorsOf(results), [], "no SDK call failed");
      const arns = arnsOf(results);
      assert.ok(arns.length > 50, `the loop made calls all along (${arns.length})`);
      // Each user is used in one stretch: once callers moved on, they never went back.
      const stretches = arns.filter((arn, i) => i === 0 || arns[i - 1] !== arn);
      assert.equal(new Set(stretches).size, stretches.length, `users in turn: ${stretches.join(" ")}`);
      assert.ok(mostUsers <= 2, `at most two of the agent's users at once (saw ${mostUsers})`);
      // The first lease was revoked by the agent (not left to expire), after callers had moved to the second.
      const created = events.filter((e) => e.type === LeaseEventType.LEASE_EVENT_TYPE_CREATED);
      const firstLease = created[0]?.leaseId;
      await waitFor("the first lease's end", () => events.some((e) => e.leaseId === firstLease && e.type !== LeaseEventType.LEASE_EVENT_TYPE_CREATED));
      const end = events.find((e) => e.leaseId === firstLease && e.type !== LeaseEventType.LEASE_EVENT_TYPE_CREATED);
      assert.equal(end?.type, LeaseEventType.LEASE_EVENT_TYPE_REVOKED, "revoked on request, before its expiry");
      const lastUseOfFirst = results.filter((r) => "arn" in r && r.arn === firstArn).at(-1)?.t ?? 0;
      assert.ok((end?.time?.getTime() ?? 0) > lastUseOfFirst, "revoked after the last call made with it");
    } finally {
      clearInterval(census);
      emulator.setKeyActivationDelay(0);
      assert.equal(await rotating.stop(), 0);
      watching.abort();
      await watched.catch(() => undefined);
    }
    assert.deepEqual(usersOf(emulator, "aws-rotate"), [], "SIGTERM revoked the rest");
  });

  it("an unmodified AWS SDK v3 program gets a Lessor-made IAM user; 50 calls from 5 processes share one lease", async () => {
    const sdkEnv = endpointEnv(env, `${agent.url}/aws/creds/deploy`, { file: agent.tokenFile });
    const runs = await Promise.all(Array.from({ length: 5 }, () => runCaller(sdkEnv, 10).stop()));
    const results = runs.flat();
    assert.deepEqual(errorsOf(results), []);
    assert.equal(results.length, 50);
    const arns = new Set(arnsOf(results));
    assert.equal(arns.size, 1, `one user for every call: ${[...arns].join(" ")}`);
    const [arn] = [...arns] as [string];
    assert.match(arn, /^arn:aws:iam::\d{12}:user\/lessor-/);
    const user = emulator.getUser(userOf(arn));
    const leaseId = user?.tags.find((t) => t.Key === "lessor-lease-id")?.Value;
    assert.match(leaseId ?? "", /^aws\/creds\/deploy\//, "the user is a Lessor lease's");
    const leases = await client.leases.list("aws/creds/deploy/", { state: LeaseState.LEASE_STATE_ACTIVE });
    assert.deepEqual(leases.leases.map((l) => l.id), [leaseId], "one lease");

    const health = await fetch(`${agent.url}/health`);
    assert.equal(health.status, 200);
    const report = (await health.json()) as { status: string; auth: string };
    assert.equal(report.status, "ok");
    assert.equal(report.auth, "auth/approle (approle)", "it logged in by itself");
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    assert.match(metrics, /lessor_agent_requests_total\{role="deploy",status="200"\} \d+/);
    assert.match(metrics, /lessor_agent_leases\{role="deploy"\} 1/);
  });

  it("Debian's boto3 gets the same lease through the endpoint, and through credential_process (which asks the agent)", async (t) => {
    const missing = await boto3Missing();
    if (missing) {
      if (process.env.CI) assert.fail(missing);
      t.skip(missing);
      return;
    }
    const [agentArn] = new Set(usersOf(emulator, "aws"));
    const viaEndpoint = await boto3(endpointEnv(env, `${agent.url}/aws/creds/deploy`, { value: agentToken }), 2);
    assert.equal(viaEndpoint.code, 0, viaEndpoint.stderr);
    assert.deepEqual(viaEndpoint.arns.map(userOf), [agentArn, agentArn]);

    const home = tempDir("cp-home");
    const cache = tempDir("cp-cache");
    writeFileSync(
      join(home, "aws-config"),
      `[default]\nregion = us-east-1\ncredential_process = ${process.execPath} ${LESSOR_BIN} aws credential-process -role=deploy -token-file=${tokenFile} -agent-file=${agent.agentFile}\n`,
    );
    const viaProcess = await boto3(
      { ...endpointEnv(env, "", { value: "" }), AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined, HOME: home, XDG_CACHE_HOME: cache, AWS_CONFIG_FILE: join(home, "aws-config") },
      1,
    );
    assert.equal(viaProcess.code, 0, viaProcess.stderr);
    assert.deepEqual(viaProcess.arns.map(userOf), [agentArn]);
    assert.deepEqual(readdirSync(cache), [], "the agent answered: nothing cached");
  });

  it("refuses a missing or wrong authorization token", async () => {
    const none = await getCreds(agent, "deploy");
    assert.equal(none.status, 401);
    assert.equal(none.body.code, "Unauthorized");
    const wrong = await getCreds(agent, "deploy", `${agentToken.slice(0, -2)}xx`);
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, "Forbidden");
    assert.equal(wrong.body.AccessKeyId, undefined);
    const right = await getCreds(agent, "deploy", agentToken);
    assert.equal(right.status, 200);
    assert.equal(right.cacheControl, "no-store");
    assert.deepEqual(Object.keys(right.body).sort(), ["AccessKeyId", "AccountId", "Expiration", "SecretAccessKey", "Token"]);
    assert.equal(statSync(agent.tokenFile).mode & 0o777, 0o600);
  });

  it("keeps serving through a Lessor restart, then renews again", async () => {
    const sdkEnv = endpointEnv(env, `${agent.url}/aws/creds/deploy`, { file: agent.tokenFile });
    const [leaseId] = (await client.leases.list("aws/creds/deploy/", { state: LeaseState.LEASE_STATE_ACTIVE })).leases.map((l) => l.id);
    assert.ok(leaseId);
    // Stop Lessor just after a renewal, so the lease (8 s) would end a few seconds after the restart unless renewed again.
    const renewedAt = (await client.leases.lookup(leaseId)).lastRenewalTime?.getTime() ?? 0;
    await waitFor("a renewal", async () => ((await client.leases.lookup(leaseId)).lastRenewalTime?.getTime() ?? 0) > renewedAt, 15_000, 100);
    const loop = runCaller(sdkEnv, 0);
    await server.stop();
    const downAt = Date.now();
    await waitFor("calls while Lessor is down", () => loop.results().filter((r) => r.t > downAt + 1500).length > 0, 15_000);
    server = await startServer({ dataDir: server.dataDir, listenAddress: server.address, env: awsEnv(emulator) });
    const upAt = Date.now();
    // Past the end the lease had before the outage: only a renewal after the restart keeps calls working.
    await waitFor("calls well after the restart", () => loop.results().filter((r) => r.t > downAt + 9_000).length > 0, 30_000);
    const results = await loop.stop();
    assert.deepEqual(errorsOf(results), [], "no call failed");
    assert.equal(new Set(arnsOf(results)).size, 1, "the same lease throughout");
    const info = await client.leases.lookup(leaseId);
    assert.equal(info.state, LeaseState.LEASE_STATE_ACTIVE);
    assert.ok((info.lastRenewalTime?.getTime() ?? 0) > upAt, "renewed after the restart");
  });

  it("revokes every lease it holds on SIGTERM: no IAM user is left", async () => {
    assert.equal(usersOf(emulator, "aws").length, 1);
    assert.equal(await agent.stop(), 0);
    assert.deepEqual(usersOf(emulator, "aws"), []);
    assert.deepEqual((await client.leases.list("aws/creds/", { state: LeaseState.LEASE_STATE_ACTIVE })).leases, []);
    assert.throws(() => statSync(agent.tokenFile), /ENOENT/, "the token file is removed");
    assert.throws(() => statSync(agent.agentFile), /ENOENT/, "the agent file is removed");
  });

  it("lessor aws exec runs the command with leased credentials, returns its exit code, and leaves no user", async () => {
    const sts = createRequire(import.meta.url).resolve("@aws-sdk/client-sts");
    const script = `const { STSClient, GetCallerIdentityCommand } = require(${JSON.stringify(sts)});
new STSClient({}).send(new GetCallerIdentityCommand({})).then((who) => { console.log(who.Arn); process.exit(3); });`;
    // Credentials in the environment would win over the agent's in every SDK: exec removes them.
    const result = await runCli(["aws", "exec", "-role=deploy", `-token-file=${tokenFile}`, "--", process.execPath, "-e", script], {
      env: { ...env, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: "not-a-real-secret" },
    });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stdout, /^arn:aws:iam::\d{12}:user\/lessor-/m);
    assert.deepEqual(usersOf(emulator, "aws"), [], "the lease was revoked when the command ended");
  });

  it("lessor aws exec passes signals on to the command", async (t) => {
    // Bounded (60 s) so that a command orphaned by a failure cannot outlive the test run.
    const script = 'trap "exit 9" TERM; echo ready; i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done';
    const proc = spawn(process.execPath, [LESSOR_BIN, "aws", "exec", "-role=deploy", `-token-file=${tokenFile}`, "--", "sh", "-c", script], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // a process group of its own, ended whole whatever happens below
    });
    t.after(() => {
      try {
        if (proc.pid) process.kill(-proc.pid, "SIGKILL");
      } catch {
        // the group has already gone
      }
      proc.stdout.destroy();
      proc.stderr.destroy();
    });
    let out = "";
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    await waitFor("the command to start", () => out.includes("ready"), 20_000);
    assert.equal(usersOf(emulator, "aws").length, 1);
    proc.kill("SIGTERM");
    assert.equal(await exited, 9, "the command's own exit status, after its SIGTERM trap ran");
    assert.deepEqual(usersOf(emulator, "aws"), []);
  });

  it("credential_process without an agent: one lease for every refresh, cached sealed and owner-only", async (t) => {
    const missing = await boto3Missing();
    if (missing) {
      if (process.env.CI) assert.fail(missing);
      t.skip(missing);
      return;
    }
    const home = tempDir("cp-home");
    const cache = tempDir("cp-cache");
    const command = [process.execPath, LESSOR_BIN, "aws", "credential-process", "-role=deploy", "-mount=aws-long", `-token-file=${tokenFile}`];
    writeFileSync(join(home, "aws-config"), `[default]\nregion = us-east-1\ncredential_process = ${command.join(" ")}\n`);
    const boto3Env = { ...env, HOME: home, XDG_CACHE_HOME: cache, AWS_CONFIG_FILE: join(home, "aws-config") };
    const first = await boto3(boto3Env, 1);
    const second = await boto3(boto3Env, 1);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(second.arns, first.arns, "the second run (an SDK refresh) got the cached lease");
    assert.equal(usersOf(emulator, "aws-long").length, 1, "one IAM user");

    const dir = join(cache, "lessor");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const files = readdirSync(dir).filter((f) => !f.endsWith(".lock"));
    for (const f of files) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    const sealed = files.filter((f) => f.endsWith(".sealed"));
    assert.equal(sealed.length, 1);
    const bytes = readFileSync(join(dir, sealed[0] as string));
    const [user] = usersOf(emulator, "aws-long");
    const accessKeyId = emulator.getUser(user as string)?.accessKeys[0]?.accessKeyId;
    assert.ok(accessKeyId && !bytes.includes(accessKeyId), "the cache holds no key in plaintext");
    assert.ok(!bytes.includes("secret_access_key") && !bytes.includes("lease_id"), "nor anything else readable");
    // Clean up after ourselves: the cached lease would otherwise run out on its own.
    for (const l of (await client.leases.list("aws-long/creds/deploy/", { state: LeaseState.LEASE_STATE_ACTIVE })).leases) await client.leases.revoke(l.id);
  });

  it("refuses bad flags, naming them", async () => {
    const twice = await runCli(["agent", "-mount=a", "-mount=b"], { env });
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^Error: -mount was given more than once$/m);
    const noCommand = await runCli(["aws", "exec", "-role=deploy"], { env });
    assert.equal(noCommand.code, 1);
    assert.match(noCommand.stderr, /give the command to run after --/);
  });
});
