// The published package as a user gets it: clients/ts copied out of the
// repository and built there on its own (`npm install && npm pack`: its own
// devDependencies and tsconfig, nothing from the workspace), the tarball
// installed into a fresh project (with the real AWS SDK beside it), a small
// program type-checked against the package's declarations with tsc, then run
// against a live server: read creds through the emulator, renew, revoke, the
// SDK credential provider.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, tempDir } from "../helpers/processes.js";
import { awsSetup } from "./setup.js";

const run = promisify(execFile);
const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");

const PROGRAM = `
import { GetCallerIdentityCommand, STSClient, type STSClientConfig } from "@aws-sdk/client-sts";
import { LeaseRenewer, LessorClient, LessorClientError, lessorAwsCredentials, type AwsCredentials, type RenewedEvent } from "@lessor/client";

const endpoint = process.env.EMULATOR_ENDPOINT as string;
const whoAmI = async (credentials: STSClientConfig["credentials"]) => {
  const sts = new STSClient({ endpoint, region: "us-east-1", credentials, maxAttempts: 1 });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? "";
  } catch (err) {
    return \`error: \${(err as Error).name}\`;
  } finally {
    sts.destroy();
  }
};

// Address and token from LESSOR_ADDR and LESSOR_TOKEN, as the CLI.
const client = new LessorClient();
const creds: AwsCredentials = await client.aws.creds("deploy");
const arnBefore = await whoAmI({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey });

const renewer = new LeaseRenewer(client, creds.lease);
const renewed = await new Promise<RenewedEvent>((resolve) => renewer.once("renewed", resolve));
renewer.stop();

const revoked = await client.leases.revoke(creds.lease.id);
const arnAfter = await whoAmI({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey });

const provider = lessorAwsCredentials({ role: "deploy" });
const arnProvider = await whoAmI(provider);
const providerLease = provider.currentLeaseId();
await provider.close({ revoke: true });

let errorReason = "";
try {
  await client.leases.lookup("aws/creds/deploy/no-such-lease");
} catch (err) {
  if (err instanceof LessorClientError) errorReason = \`\${err.codeName} \${err.reason}\`;
}
client.close();
console.log(JSON.stringify({ leaseId: creds.lease.id, arnBefore, renewedClamped: renewed.clamped, renewedSeconds: renewed.durationSeconds, revoked, arnAfter, arnProvider, providerLease, errorReason }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    types: ["node"],
    outDir: "out",
    // Check the package's own declarations too, not only the program.
    skipLibCheck: false,
  },
  include: ["main.ts"],
};

test("the packed tarball installs outside the repository, type-checks, and works against a live server", async (t) => {
  const work = tempDir("consumer");
  assert.ok(!work.startsWith(REPO_ROOT), "outside the repository");

  // The package's sources alone, away from the workspace's node_modules and tsconfig.base.json.
  const source = join(work, "lessor-client");
  cpSync(join(REPO_ROOT, "clients", "ts"), source, { recursive: true, filter: (path) => !/[/\\](dist|node_modules)$/.test(path) });
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: source, timeout: 300_000 });
  const packed = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: source, timeout: 120_000 });
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(info);
  const files = info.files.map((f) => f.path);
  for (const f of ["README.md", "LICENSE", "package.json", "dist/index.js", "dist/index.d.ts", "dist/renewer.d.ts", "dist/aws-credentials.d.ts", "dist/watch.js"]) {
    assert.ok(files.includes(f), `${f} in the tarball`);
  }
  assert.ok(!files.some((f) => f.endsWith(".tsbuildinfo")), "no build state in the tarball");
  // The one generated tree ships here (the server imports it as @lessor/client/gen/...);
  // what only the server needs (its reflection descriptor set) does not.
  assert.ok(files.includes("dist/gen/lessor/v1/secrets.js"), "the generated stubs are in the tarball");
  assert.ok(!files.some((f) => /descriptor_set/.test(f)), "no server-only generated code in the tarball");

  const project = join(work, "consumer");
  await run("mkdir", ["-p", project]);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  const sdkVersion = (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules/@aws-sdk/client-sts/package.json"), "utf8")) as { version: string }).version;
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(work, info.filename), `@aws-sdk/client-sts@${sdkVersion}`, "@types/node@20"], {
    cwd: project,
    timeout: 300_000,
  });

  // One tsc run over the program and one that misuses the types: the misuse
  // must be refused (the declarations are really checked), and it must be the
  // only error (the program itself type-checks; tsc still emits it).
  writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ ...TSCONFIG, include: ["main.ts", "wrong.ts"] }));
  writeFileSync(join(project, "main.ts"), PROGRAM);
  writeFileSync(join(project, "wrong.ts"), `import { LessorClient } from "@lessor/client";\nconst n: number = (await new LessorClient().aws.creds("deploy")).accessKeyId;\nconsole.log(n);\n`);
  const refused = await run(process.execPath, [TSC, "-p", project], { cwd: project }).then(
    () => "",
    (err: { stdout: string }) => err.stdout,
  );
  const errors = refused.split("\n").filter((line) => / error TS\d+:/.test(line));
  assert.equal(errors.length, 1, refused);
  assert.match(errors[0] ?? "", /^wrong\.ts.*error TS2322: Type 'string' is not assignable to type 'number'/);

  // CommonJS code can require the package too (Node's require of ES modules).
  const cjs = await run(process.execPath, ["-e", "const c = require('@lessor/client'); console.log(typeof c.LessorClient, typeof c.lessorAwsCredentials)"], { cwd: project });
  assert.equal(cjs.stdout.trim(), "function function");

  const { emulator, server } = await awsSetup(t, { defaultLeaseTtlSeconds: 3, maxLeaseTtlSeconds: 60 });
  const env: NodeJS.ProcessEnv = { ...process.env, LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken, EMULATOR_ENDPOINT: emulator.endpoint };
  for (const key of Object.keys(env)) if (key.startsWith("AWS_")) delete env[key];
  const out = await run(process.execPath, [join(project, "out", "main.js")], { cwd: project, env, timeout: 60_000 });
  const result = JSON.parse(out.stdout) as Record<string, unknown>;
  assert.match(String(result.leaseId), /^aws\/creds\/deploy\//);
  assert.match(String(result.arnBefore), /:user\/lessor-root-deploy-/);
  assert.equal(result.renewedClamped, false);
  assert.ok(Number(result.renewedSeconds) >= 2, String(result.renewedSeconds));
  assert.deepEqual(result.revoked, { leaseId: result.leaseId, revokedNow: true, queued: false, warnings: [] });
  assert.equal(result.arnAfter, "error: InvalidClientTokenId");
  assert.match(String(result.arnProvider), /:user\/lessor-root-deploy-/);
  assert.notEqual(result.arnProvider, result.arnBefore);
  assert.match(String(result.providerLease), /^aws\/creds\/deploy\//);
  assert.equal(result.errorReason, "NOT_FOUND LEASE_NOT_FOUND");
  assert.deepEqual(emulator.listUsers(), [], "every user the program made was revoked");
});
