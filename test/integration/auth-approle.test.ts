// The approle auth method, and a workload's whole way to AWS: a secret_id is
// shown once, stored only as an HMAC, spent use by use (exactly once even
// when logins race), runs out with its uses or TTL, binds to CIDRs and is
// refused once destroyed. Then a token from each method (jwt and approle)
// reads aws/creds/<role> within its policy (from the emulator, through the
// real AWS SDK), is refused outside it, and revoking the token revokes the
// leases it made (the IAM users are gone).
import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import { Code, LeaseState, LessorClient } from "@lessor/client";
import { startLessor } from "../../src/server/app.js";
import { rejects } from "../helpers/errors.js";
import { EC2_POLICY, startAwsEmulator, whoAmI } from "../helpers/aws.js";
import { startJwtIssuer } from "../helpers/jwt-issuer.js";
import { tempDir } from "../helpers/processes.js";
import { openRawDb } from "../helpers/raw-db.js";
import { storeOptions } from "../helpers/store.js";

const REFUSED = /^permission denied: the login was refused$/;

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dataDir = tempDir("auth-approle");
  const server = await startLessor({ dataDir, ...(await storeOptions(dataDir)), listenAddress: "127.0.0.1:0", logger: pino({ level: "silent" }) });
  const clients: LessorClient[] = [];
  const client = (token = ""): LessorClient => {
    const c = new LessorClient({ address: server.address, token, retry: { maxAttempts: 1 } });
    clients.push(c);
    return c;
  };
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });
  const root = client(server.rootToken);
  await root.write("sys/auth/approle", { type: "approle" });
  return { dataDir, root, client };
}

async function newSecretId(root: LessorClient, role: string, data: Record<string, unknown> = {}): Promise<{ secretId: string; accessor: string }> {
  const res = await root.write(`auth/approle/role/${role}/secret-id`, data);
  return { secretId: String(res.data.secret_id), accessor: String(res.data.secret_id_accessor) };
}

test("approle: secret_ids run out of uses (exactly, under racing logins) and time, bind to CIDRs, and are refused once destroyed", async (t) => {
  const { dataDir, root, client } = await setup(t);
  const anonymous = client();
  await root.write("auth/approle/role/cron", { secret_id_num_uses: 3, secret_id_ttl: "1h", token_policies: "cron", token_ttl: "20m" });
  const roleId = String((await root.read("auth/approle/role/cron/role-id")).data.role_id);
  assert.match(roleId, /^[0-9a-f-]{36}$/);
  assert.equal((await root.read("auth/approle/role/cron")).data.secret_id_num_uses, 3);

  // Made, shown once, stored only as an HMAC.
  const first = await newSecretId(root, "cron", { metadata: { host: "cron-1" } });
  const db = await openRawDb(dataDir, { readonly: true });
  t.after(() => db.close());
  const stored = await db.all("SELECT key FROM engine_entries");
  assert.ok(stored.length > 0 && !JSON.stringify(stored).includes(first.secretId), "the secret_id is not a storage key");
  assert.deepEqual(await root.list("auth/approle/role/cron/secret-id"), [first.accessor]);

  const login = (secretId: string) => anonymous.login("approle", { role_id: roleId, secret_id: secretId });
  const { info } = await login(first.secretId);
  assert.deepEqual(info.meta, { host: "cron-1", role_name: "cron" });
  assert.equal(info.displayName, "approle-cron");
  assert.deepEqual(info.policies, ["cron", "default"]);
  assert.equal((await root.write("auth/approle/role/cron/secret-id-accessor/lookup", { secret_id_accessor: first.accessor })).data.secret_id_num_uses, 2);

  // Two uses left, five logins at once: exactly two get a token.
  const raced = await Promise.allSettled(Array.from({ length: 5 }, () => login(first.secretId)));
  assert.equal(raced.filter((r) => r.status === "fulfilled").length, 2, JSON.stringify(raced.map((r) => r.status)));
  await rejects(login(first.secretId), Code.PERMISSION_DENIED, REFUSED);
  assert.deepEqual(await root.list("auth/approle/role/cron/secret-id").catch(() => []), [], "a used-up secret_id is gone");

  // Destroyed by accessor: refused from then on; a wrong role_id and a wrong secret_id are refused alike.
  const second = await newSecretId(root, "cron");
  await root.write("auth/approle/role/cron/secret-id-accessor/destroy", { secret_id_accessor: second.accessor });
  await rejects(login(second.secretId), Code.PERMISSION_DENIED, REFUSED);
  await rejects(anonymous.login("approle", { role_id: "no-such-role-id", secret_id: second.secretId }), Code.PERMISSION_DENIED, REFUSED);
  await rejects(root.write("auth/approle/role/cron/secret-id-accessor/destroy", { secret_id_accessor: second.accessor }), Code.NOT_FOUND, /no secret_id of this role has that accessor/);

  // TTL: a secret_id of one second is refused after it.
  await rejects(root.write("auth/approle/role/cron/secret-id", { ttl: "2h" }), Code.INVALID_ARGUMENT, /ttl: must not be longer than the role's secret_id_ttl/);
  const brief = await newSecretId(root, "cron", { ttl: "1s" });
  await new Promise((r) => setTimeout(r, 1100));
  await rejects(login(brief.secretId), Code.PERMISSION_DENIED, REFUSED);

  // CIDR binding: the role's secret_id_bound_cidrs and the secret_id's cidr_list are both checked against the connection (127.0.0.1).
  await root.write("auth/approle/role/cron", { secret_id_bound_cidrs: "10.0.0.0/8" });
  const elsewhere = await newSecretId(root, "cron");
  await rejects(login(elsewhere.secretId), Code.PERMISSION_DENIED, REFUSED);
  await root.write("auth/approle/role/cron", { secret_id_bound_cidrs: "127.0.0.0/8,::1" });
  assert.ok((await login(elsewhere.secretId)).token);
  const pinned = await newSecretId(root, "cron", { cidr_list: "192.0.2.0/24" });
  await rejects(login(pinned.secretId), Code.PERMISSION_DENIED, REFUSED);
  // A token that would not work from here (token_bound_cidrs) is not issued, and no use is spent.
  const bound = await newSecretId(root, "cron", { token_bound_cidrs: "10.0.0.0/8" });
  await rejects(login(bound.secretId), Code.PERMISSION_DENIED, REFUSED);
  assert.equal((await root.write("auth/approle/role/cron/secret-id-accessor/lookup", { secret_id_accessor: bound.accessor })).data.secret_id_num_uses, 3);

  // A custom role_id; one already taken is refused; the old one no longer logs in.
  await root.write("auth/approle/role/other", { secret_id_num_uses: 0 });
  await rejects(root.write("auth/approle/role/other/role-id", { role_id: roleId }), Code.INVALID_ARGUMENT, /role_id: is already the role_id of another role/);
  await root.write("auth/approle/role/cron/role-id", { role_id: "cron-box-7" });
  const fresh = await newSecretId(root, "cron");
  await rejects(login(fresh.secretId), Code.PERMISSION_DENIED, REFUSED);
  assert.ok((await anonymous.login("approle", { role_id: "cron-box-7", secret_id: fresh.secretId })).token);
  await rejects(root.write("auth/approle/role/open", { bind_secret_id: false }), Code.INVALID_ARGUMENT, /bind_secret_id: cannot be false unless/);
});

/** The aws engine mounted in `server`, talking to an emulator the test runs, with a role per name. */
async function awsMount(t: { after: (fn: () => Promise<void>) => void }, root: LessorClient, roles: string[]) {
  const emulator = await startAwsEmulator({ port: 0 });
  t.after(() => emulator.close());
  await root.mounts.enable("aws");
  await root.write("aws/config/root", {
    access_key: emulator.rootAccessKeyId,
    secret_key: emulator.rootSecretAccessKey,
    region: "us-east-1",
    iam_endpoint: emulator.endpoint,
    sts_endpoint: emulator.endpoint,
  });
  for (const role of roles) await root.write(`aws/roles/${role}`, { policy_document: EC2_POLICY });
  return emulator;
}

test("a token from jwt and from approle reads aws/creds within its policy, not outside it; revoking the token revokes its leases", async (t) => {
  const { root, client } = await setup(t);
  const emulator = await awsMount(t, root, ["payments", "orders", "cron"]);
  const issuer = await startJwtIssuer();
  t.after(() => issuer.close());
  await root.write("sys/auth/jwt", { type: "jwt" });
  await root.write("auth/jwt/config", { jwks_url: issuer.jwksUrl, jwks_ca_pem: issuer.caPem });
  await root.write("auth/jwt/role/k8s", { role_type: "jwt", bound_audiences: "lessor", user_claim: "sub", claim_mappings: { "/kubernetes.io/namespace": "namespace" }, token_policies: "by-namespace" });
  await root.policies.write("by-namespace", `path "aws/creds/{{token.metadata.namespace}}" { capabilities = ["read"] }`);
  await root.write("auth/approle/role/cron", { token_policies: "cron" });
  await root.policies.write("cron", `path "aws/creds/cron" { capabilities = ["read"] }`);

  const jwt = await issuer.sign({ aud: "lessor", sub: "system:serviceaccount:payments:api", "kubernetes.io": { namespace: "payments" } });
  const roleId = String((await root.read("auth/approle/role/cron/role-id")).data.role_id);
  const { secretId } = await newSecretId(root, "cron");
  const logins = {
    jwt: { token: (await client().login("jwt", { role: "k8s", jwt })).token, own: "payments", other: "orders" },
    approle: { token: (await client().login("approle", { role_id: roleId, secret_id: secretId })).token, own: "cron", other: "payments" },
  };
  for (const [method, { token, own, other }] of Object.entries(logins)) {
    const service = client(token);
    const creds = await service.aws.creds(own);
    assert.ok("arn" in (await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey)), `${method}: the keys work in AWS`);
    await rejects(service.aws.creds(other), Code.PERMISSION_DENIED, new RegExp(`"read" on path "aws/creds/${other}"`));

    const revoked = await root.tokens.revoke({ token });
    assert.equal(revoked.revokedLeases, 1, `${method}: revoking the token revoked its lease`);
    assert.equal((await root.leases.lookup(creds.lease.id)).state, LeaseState.LEASE_STATE_REVOKED);
    assert.deepEqual(await whoAmI(emulator, creds.accessKeyId, creds.secretAccessKey), { error: "InvalidClientTokenId" }, `${method}: the IAM user is gone`);
    await rejects(service.aws.creds(own), Code.UNAUTHENTICATED, /invalid token/);
  }
});
