// `lessor server` as an operator runs it: settings from a -config file with
// flags over it, the banner before any log line, readable log lines or JSON,
// no notice from the AWS SDK, a final "stopped" line, and a second signal
// that exits at once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clientFor, runCli, startServer, tempDir } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator } from "../helpers/aws.js";
import { testStore } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";
import { TEST_LEASE_ENGINE } from "../helpers/lease-engine.js";

test("-config: the file's listener, storage, metrics and log settings, a flag over it; banner first, then readable lines, then stopped", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  const dataDir = tempDir("data");
  const configFile = join(tempDir("config"), "lessor.hcl");
  writeFileSync(
    configFile,
    `# The operator's file\nlistener "tcp" {\n  address = "127.0.0.1:0"\n}\nstorage "sqlite" {\n  path = "${dataDir}"\n}\ntelemetry {\n  metrics_address = "127.0.0.1:0"\n}\nlog_format = "json"\n`,
  );
  // awsEnv leaves out every AWS_ variable of this process, the SDK's notice switch included.
  const server = await startServer({ configFile, dataDir, args: ["-log-format=text"], env: awsEnv(emulator) });
  let stopped = false;
  t.after(() => (stopped ? undefined : server.stop()));
  assert.ok(server.output().startsWith("==> Lessor server started! Log data will stream in below:\n"), server.output());
  assert.match(server.output(), /\n {11}Metrics: http:\/\/127\.0\.0\.1:\d+\/metrics\n/);
  if (testStore() === "sqlite") assert.match(server.output(), new RegExp(`\\n {11}Storage: sqlite \\(${dataDir}/lessor\\.db\\)\\n`));
  await waitFor("the listening line", () => /\n\[\d{4}-\d\d-\d\dT[\d:.]+[+-]\d{4}\] INFO: lessor listening \{"address":"127\.0\.0\.1:\d+"/.test(server.output()));

  // The server's first AWS calls (issue, revoke) print nothing of the SDK's.
  const client = clientFor(server);
  await client.mounts.enable("aws");
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  const creds = await client.aws.creds("deploy");
  await client.leases.revoke(creds.lease.id);
  client.close();

  await server.stop();
  stopped = true;
  assert.match(server.output(), /\] INFO: stopped\n$/);
  assert.doesNotMatch(server.output(), /NodeVersionSupportWarning|DeprecationWarning|^\{"level"/m);
});

test("logs are JSON off a terminal; a second SIGTERM exits at once, without waiting for the shutdown delay", async (t) => {
  const server = await startServer({ args: ["-shutdown-delay=300s"] });
  t.after(() => server.kill());
  const listening = await waitFor("the listening line", () => server.output().split("\n").find((line) => line.includes('"msg":"lessor listening"')));
  assert.equal((JSON.parse(listening) as { level: number }).level, 30);

  server.proc.kill("SIGTERM");
  await waitFor("the shutdown to start", () => /"msg":"shutting down \(send the signal again to exit at once\)"/.test(server.output()));
  server.proc.kill("SIGTERM");
  // Bounded far below the 300 s delay a graceful stop would wait.
  await waitFor("the process to exit", () => server.proc.exitCode !== null, 20_000);
  assert.equal(server.proc.exitCode, 1);
  assert.match(server.output(), /"signal":"SIGTERM","msg":"second signal: exiting at once/);
});

test("a bad -config file is refused before anything starts, naming the file, line and key", async () => {
  const dir = tempDir("config");
  const file = join(dir, "lessor.hcl");
  writeFileSync(file, `storage "sqlite" {\n  path = "${dir}"\n}\nlistener "tcp" {\n  address = "127.0.0.1:0"\n  tls_certfile = "server.pem"\n}\n`);
  let r = await runCli(["server", `-config=${file}`]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [1, "", `Error: ${file}:6: unknown setting "listener.tls_certfile"\n`]);
  r = await runCli(["server", `-config=${join(dir, "missing.hcl")}`]);
  assert.deepEqual([r.code, r.stderr], [1, `Error: cannot read the configuration file ${join(dir, "missing.hcl")}: ENOENT\n`]);
});

test("-dev-root-token-id: the dev server's root token is the one given, and works; without -dev it is refused", async (t) => {
  const home = tempDir("home");
  const server = await startServer({ dev: true, home, args: ["-dev-root-token-id=root"] });
  t.after(() => server.stop());
  assert.equal(server.rootToken, "root");
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: "root", HOME: home };
  const written = await runCli(["write", "secret/app", "password=s3cret"], { env });
  assert.equal(written.code, 0, written.stderr);
  const read = await runCli(["read", "-field=password", "secret/app"], { env });
  assert.equal(read.stdout, "s3cret");
  // The token saved for the CLI is the same one.
  const viaSaved = await runCli(["token", "lookup"], { env: { LESSOR_ADDR: server.address, HOME: home } });
  assert.match(viaSaved.stdout, /^policies\s+\[root\]$/m, viaSaved.stderr);

  const refused = await runCli(["server", "-data-dir", tempDir("data"), "-dev-root-token-id=root"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /-dev-root-token-id is for -dev only/);
});

test("an engine plugin given to node --import is mounted and issues leases", async (t) => {
  const plugin = new URL("../helpers/engine-plugin.js", import.meta.url).href;
  const server = await startServer({ nodeArgs: ["--import", plugin] });
  t.after(() => server.stop());
  const client = clientFor(server);
  t.after(() => client.close());
  await client.mounts.enable(TEST_LEASE_ENGINE, { path: "plugged" });
  const secret = await client.read("plugged/creds/web");
  assert.equal(secret.data.name, "web");
  assert.match(secret.lease?.id ?? "", /^plugged\/creds\/web\//);
  // An engine type no module registered is refused, naming it: the plugin is what made the difference.
  await assert.rejects(client.mounts.enable("no-such-plugin", { path: "other" }), /no-such-plugin/);
});
