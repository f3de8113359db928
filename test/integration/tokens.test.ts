// Tokens and policies against a real server: children, TTLs, use limits,
// revocation of a tree with its leases, sudo-only operations, and
// generate-root while the server runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, LessorClientError, type LessorClient } from "@lessor/client";
import { clientFor, runCli, startServer } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator, whoAmI } from "../helpers/aws.js";
import { failure } from "../helpers/errors.js";
import { storageArgs } from "../helpers/store.js";

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("tokens: policies, children, limits, revocation with leases, sudo", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({ env: awsEnv(emulator) });
  const root = clientFor(server);
  const clients: LessorClient[] = [root];
  const as = (token: string) => {
    const c = clientFor(server, token);
    clients.push(c);
    return c;
  };
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
    await emulator.close();
  });

  await root.mounts.enable("aws");
  await root.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  await root.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  await root.policies.write(
    "deployer",
    `path "aws/creds/deploy" { capabilities = ["read"] }
     path "auth/token/create" { capabilities = ["update"] }
     path "aws/config/*" { capabilities = ["create", "update"] }
     path "sys/mounts/*" { capabilities = ["update"] }`,
  );
  assert.deepEqual(await root.policies.list(), ["default", "deployer", "root"]);
  assert.match(await root.policies.read("default"), /auth\/token\/lookup-self/);

  // A child token with a policy: Vault's defaults and what it may do.
  const parent = await root.tokens.create({ policies: ["deployer"], ttlSeconds: 3600, displayName: "ci" });
  assert.match(parent.token, /^lsr\./);
  assert.deepEqual(parent.info.policies, ["default", "deployer"]);
  assert.equal(parent.info.displayName, "token-ci");
  assert.ok(parent.info.ttlSeconds > 3590 && parent.info.ttlSeconds <= 3600);
  const deployer = as(parent.token);
  const self = await deployer.tokens.lookupSelf();
  assert.equal(self.accessor, parent.info.accessor);
  assert.notEqual(self.parentAccessor, "");

  const creds = await deployer.aws.creds("deploy");
  assert.ok("arn" in (await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey)));

  // Denials name the path and the capability.
  let err = await failure(deployer.read("aws/roles/deploy"));
  assert.equal(err.codeName, "PERMISSION_DENIED");
  assert.equal(err.message, 'permission denied: "read" on path "aws/roles/deploy" is not granted by policies [default, deployer]');
  // Root-protected paths need sudo as well.
  err = await failure(deployer.write("aws/config/root", { region: "us-west-2" }));
  assert.equal(err.codeName, "PERMISSION_DENIED");
  assert.match(err.message, /"sudo" on path "aws\/config\/root"/);
  err = await failure(deployer.mounts.enable("kv", { path: "mine" }));
  assert.match(err.message, /"sudo" on path "sys\/mounts\/mine"/);
  err = await failure(deployer.policies.write("x", `path "a" { capabilities = ["read"] }`));
  assert.match(err.message, /"update" on path "sys\/policies\/acl\/x"/);
  err = await failure(deployer.sys.listAudit());
  assert.equal(err.codeName, "PERMISSION_DENIED");
  err = await failure(deployer.sys.writeQuota({ name: "q", rate: 1 }));
  assert.equal(err.codeName, "PERMISSION_DENIED");
  // Orphans need sudo; a child cannot get policies its parent lacks.
  err = await failure(deployer.tokens.create({ orphan: true }));
  assert.match(err.message, /"update" on path "auth\/token\/create-orphan"/);
  err = await failure(deployer.tokens.create({ policies: ["root"] }));
  assert.equal(err.reason, "CHILD_POLICIES_NOT_SUBSET");

  // A grandchild with its own lease; revoking the parent takes the tree and both leases.
  const child = await deployer.tokens.create({ ttlSeconds: 600 });
  assert.deepEqual(child.info.policies, ["default", "deployer"]);
  assert.equal(child.info.parentAccessor, parent.info.accessor);
  const childCreds = await as(child.token).aws.creds("deploy");
  const outcome = await root.tokens.revoke({ accessor: parent.info.accessor });
  assert.deepEqual(outcome, { revokedTokens: 2, revokedLeases: 2 });
  for (const c of [creds, childCreds]) {
    assert.deepEqual(await whoAmI(emulator, c.accessKeyId, c.secretAccessKey), { error: "InvalidClientTokenId" });
    assert.equal((await root.leases.lookup(c.lease.id)).state, 3 /* revoked */);
  }
  for (const token of [parent.token, child.token]) {
    err = await failure(as(token).tokens.lookupSelf());
    assert.equal(err.codeName, "UNAUTHENTICATED");
    assert.match(err.message, /no such token/);
  }
  // Revoking again is quiet.
  assert.deepEqual(await root.tokens.revoke({ accessor: parent.info.accessor }), { revokedTokens: 0, revokedLeases: 0 });

  // Orphan mode keeps the children.
  const p2 = await root.tokens.create({ policies: ["deployer"] });
  const c2 = await as(p2.token).tokens.create({});
  assert.deepEqual(await root.tokens.revoke({ token: p2.token, orphan: true }), { revokedTokens: 1, revokedLeases: 0 });
  assert.equal((await root.tokens.lookup({ token: c2.token })).parentAccessor, "");

  // Use limits: the third use fails and says why.
  const twice = await root.tokens.create({ policies: ["deployer"], numUses: 2 });
  const limited = as(twice.token);
  assert.equal((await limited.tokens.lookupSelf()).numUses, 1);
  await limited.tokens.lookupSelf();
  err = await failure(limited.tokens.lookupSelf());
  assert.equal(err.codeName, "UNAUTHENTICATED");
  assert.match(err.message, /no uses left/);

  // TTL, renewal clamped to the explicit max, and expiry.
  const short = await root.tokens.create({ policies: ["deployer"], ttlSeconds: 2, explicitMaxTtlSeconds: 3 });
  const renewed = await root.tokens.renew({ token: short.token, incrementSeconds: 3600 });
  assert.ok(renewed.ttlSeconds <= 3, `renewal is clamped to the explicit max TTL (got ${renewed.ttlSeconds}s)`);
  const notRenewable = await root.tokens.create({ renewable: false, ttlSeconds: 60 });
  err = await failure(root.tokens.renew({ accessor: notRenewable.info.accessor }));
  assert.equal(err.reason, "TOKEN_NOT_RENEWABLE");
  const expiring = as(short.token);
  await waitFor("the token to expire", async () => {
    try {
      await expiring.tokens.lookupSelf();
      return false;
    } catch (e) {
      return e instanceof LessorClientError && /expired|no such token/.test(e.message);
    }
  });

  // The default policy lets any token look itself up, renew and revoke itself.
  const plain = await root.tokens.create({ policies: ["default"], ttlSeconds: 600 });
  const plainClient = as(plain.token);
  assert.deepEqual((await plainClient.tokens.lookupSelf()).policies, ["default"]);
  await plainClient.tokens.renew({ incrementSeconds: 60 });
  err = await failure(plainClient.tokens.lookup({ accessor: parent.info.accessor }));
  assert.match(err.message, /"update" on path "auth\/token\/lookup-accessor"/);
  await plainClient.tokens.revoke({});
  assert.equal((await failure(plainClient.tokens.lookupSelf())).codeName, "UNAUTHENTICATED");

  // generate-root while the server runs: the new token works at once.
  const storage = await storageArgs(server.dataDir);
  const gen = await runCli(["operator", "generate-root", `-data-dir=${server.dataDir}`, ...storage]);
  assert.equal(gen.code, 0, gen.stderr);
  const newRoot = /Root Token: (lsr\.\S+)/.exec(gen.stdout)?.[1];
  assert.ok(newRoot, gen.stdout);
  assert.deepEqual((await as(newRoot).tokens.lookupSelf()).policies, ["root"]);
  const wrongKey = await runCli(["operator", "generate-root", `-data-dir=${server.dataDir}`, ...storage], {
    env: { LESSOR_SEAL_KEY: Buffer.alloc(32, 7).toString("base64") },
  });
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /encryption key does not match this database/);
  assert.doesNotMatch(wrongKey.stdout, /Root Token/);
});

test("a child token never outlives its parent: TTLs capped by the parent's, refused the moment an ancestor expires or is being revoked", async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({ env: awsEnv(emulator) });
  const root = clientFor(server);
  const clients: LessorClient[] = [root];
  const as = (token: string) => {
    const c = clientFor(server, token);
    clients.push(c);
    return c;
  };
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
    await emulator.close();
  });
  await root.mounts.enable("aws");
  await root.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  await root.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  await root.policies.write("deployer", `path "aws/creds/deploy" { capabilities = ["read"] }\npath "auth/token/create" { capabilities = ["update"] }`);
  const refused = (token: string) =>
    as(token).tokens.lookupSelf().then(
      () => false,
      (e: unknown) => e instanceof LessorClientError && e.code === Code.UNAUTHENTICATED,
    );

  // A parent with 2 s left asks for a 768h child: it gets the parent's remaining TTL and max.
  const parent = await root.tokens.create({ policies: ["deployer"], ttlSeconds: 2, explicitMaxTtlSeconds: 3600 });
  const child = await as(parent.token).tokens.create({ ttlSeconds: 768 * 3600 });
  assert.ok(child.info.ttlSeconds <= 2, `the child's TTL is at most its parent's remaining TTL (got ${child.info.ttlSeconds}s)`);
  assert.ok((child.info.maxExpireTime?.getTime() ?? Infinity) <= (parent.info.maxExpireTime?.getTime() ?? 0), "and its max TTL at most its parent's");
  const grandchild = await as(child.token).tokens.create({ ttlSeconds: 3600 });
  assert.ok(grandchild.info.ttlSeconds <= 2);
  // Renewing the child does not take it past its parent either.
  const renewed = await as(child.token).tokens.renew({ incrementSeconds: 3600 });
  assert.ok((renewed.expireTime?.getTime() ?? Infinity) <= (parent.info.expireTime?.getTime() ?? 0), "a child's renewal stops at its parent's expiry");
  // When the parent expires, the whole tree is refused at once (the sweep of dead tokens runs only every 30 s).
  await waitFor("the parent to expire", () => refused(parent.token), 10_000);
  assert.ok(await refused(child.token), "the child is refused once its parent has expired");
  assert.ok(await refused(grandchild.token), "so is the grandchild");

  // Shortening a parent by renewal shortens its children.
  const long = await root.tokens.create({ policies: ["deployer"], ttlSeconds: 3600 });
  const longChild = await as(long.token).tokens.create({ ttlSeconds: 3600 });
  await root.tokens.renew({ accessor: long.info.accessor, incrementSeconds: 60 });
  assert.ok((await root.tokens.lookup({ accessor: longChild.info.accessor })).ttlSeconds <= 60);

  // Revoking a tree refuses every token in it at once, before the (slow) revocation of its leases ends.
  const top = await root.tokens.create({ policies: ["deployer"], ttlSeconds: 3600 });
  const withLease = await as(top.token).tokens.create({});
  const sibling = await as(top.token).tokens.create({});
  await as(withLease.token).aws.creds("deploy");
  emulator.addFault({ action: "DeleteUser", latencyMs: 1_500 });
  let revokeDone = false;
  const revoking = root.tokens.revoke({ accessor: top.info.accessor }).then((r) => {
    revokeDone = true;
    return r;
  });
  await waitFor("the lease's IAM user deletion to be under way", async () => (emulator.counts().calls.DeleteUser ?? 0) >= 1, 10_000);
  for (const token of [top.token, withLease.token, sibling.token]) assert.ok(await refused(token), "every token of the tree is refused while its leases are revoked");
  assert.equal(revokeDone, false, "the revocation was still under way");
  assert.deepEqual(await revoking, { revokedTokens: 3, revokedLeases: 1 });
});

test("the token and policy CLI speaks Vault's dialect", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const env = { LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken };
  const cli = (args: string[], stdin?: string, token = server.rootToken) => runCli(args, { env: { ...env, LESSOR_TOKEN: token }, stdin });

  let r = await cli(["policy", "write", "Readers", "-"], `path "secret/*" { capabilities = ["read", "list"] }\n`);
  assert.deepEqual([r.code, r.stdout], [0, "Success! Uploaded policy: readers\n"], r.stderr);
  r = await cli(["policy", "list"]);
  assert.equal(r.stdout, "default\nreaders\nroot\n");
  r = await cli(["policy", "read", "readers"]);
  assert.equal(r.stdout, `path "secret/*" { capabilities = ["read", "list"] }\n`);
  r = await cli(["policy", "write", "bad", "-"], `path "secret/*" { capabilities = ["reed"] }`);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Code: INVALID_ARGUMENT\. Errors:\n\n\* policy: path "secret\/\*" \(line 1\): unknown capability "reed"/);
  r = await cli(["policy", "delete", "root"]);
  assert.match(r.stderr, /the "root" policy is built in and cannot be deleted/);

  r = await cli(["token", "create", "-policy=readers", "-ttl=1h", "-display-name=app", "-metadata=team=web"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^Key {18}Value\n--- {18}-----\ntoken {16}lsr\.\S+\ntoken_accessor {7}\S+\ntoken_duration {7}1h\ntoken_renewable {6}true\ntoken_policies {7}\["default" "readers"\]\nidentity_policies {4}\[\]\npolicies {13}\["default" "readers"\]\ntoken_meta_team {6}web\n$/,
  );
  const token = /token {16}(\S+)/.exec(r.stdout)?.[1] as string;
  const accessor = /token_accessor {7}(\S+)/.exec(r.stdout)?.[1] as string;
  r = await cli(["token", "create", "-policy=readers", "-field=token"]);
  assert.match(r.stdout, /^lsr\.\S+$/);

  r = await cli(["token", "lookup"], undefined, token);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\naccessor {12}\S+\n/);
  assert.match(r.stdout, /\ndisplay_name {8}token-app\n/);
  assert.match(r.stdout, /\nmeta {16}map\[team:web\]\n/);
  assert.match(r.stdout, /\npolicies {12}\[default readers\]\n/);
  r = await cli(["token", "lookup", "-accessor", accessor]);
  assert.match(r.stdout, /\nttl {17}(59m(\d+s)?|1h)\n/);
  r = await cli(["token", "renew", "-increment=30m", token]);
  assert.match(r.stdout, /\ntoken_duration {7}30m\n/);
  r = await cli(["token", "revoke", "-accessor", accessor]);
  assert.deepEqual([r.code, r.stdout], [0, "Success! Revoked token (if it existed)\n"]);
  r = await cli(["token", "lookup"], undefined, token);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Code: UNAUTHENTICATED\. Errors:\n\n\* invalid token: no such token/);
  r = await cli(["token", "create", "-ttl=-5m"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-ttl: must not be negative/);
});
