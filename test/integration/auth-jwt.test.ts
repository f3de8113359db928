// The jwt auth method against a JWT issuer the test runs (keys made with jose,
// a JWKS and a discovery document over HTTPS from a CA made with openssl):
// a Kubernetes-like service-account token logs in, its namespace claim lands
// in the token's metadata and a templated policy gives it exactly its own
// path; every bad token is refused with the same message while the audit log
// says which check failed; an unknown kid makes one JWKS refresh, then none.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { base64url, exportSPKI, SignJWT } from "jose";
import pino from "pino";
import { Code, LessorClient } from "@lessor/client";
import { startLessor } from "../../src/server/app.js";
import { rejects } from "../helpers/errors.js";
import { startJwtIssuer, type JwtIssuer } from "../helpers/jwt-issuer.js";
import { tempDir } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";

const REFUSED = /^permission denied: the login was refused$/;

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const issuer = await startJwtIssuer();
  const dataDir = tempDir("auth-jwt");
  const server = await startLessor({ dataDir, ...(await storeOptions(dataDir)), listenAddress: "127.0.0.1:0", mountDefaultKv: true, logger: pino({ level: "silent" }) });
  const clients: LessorClient[] = [];
  const client = (token = ""): LessorClient => {
    const c = new LessorClient({ address: server.address, token, retry: { maxAttempts: 1 } });
    clients.push(c);
    return c;
  };
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
    await issuer.close();
  });
  const root = client(server.rootToken);
  const auditFile = join(dataDir, "audit.log");
  await root.sys.enableAudit("file", { options: { file_path: auditFile } });
  await root.write("sys/auth/jwt", { type: "jwt" });
  const refusals = () =>
    readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; request?: { path: string }; code?: string; error_detail?: string })
      .filter((l) => l.type === "response" && l.request?.path === "auth/jwt/login" && l.code === "PERMISSION_DENIED")
      .map((l) => l.error_detail);
  return { issuer, root, client, refusals };
}

/** Claims of a Kubernetes projected service-account token. */
function serviceAccount(issuer: JwtIssuer, namespace: string, name = "api"): Record<string, unknown> {
  return {
    aud: ["lessor"],
    sub: `system:serviceaccount:${namespace}:${name}`,
    "kubernetes.io": { namespace, serviceaccount: { name, uid: "5f7c" }, pod: { name: `${name}-7d9f`, uid: "a1b2" } },
    iss: issuer.url,
  };
}

test("jwt: a service-account token logs in; claims become metadata that a templated policy keys on; each bad token is refused alike", async (t) => {
  const { issuer, root, client, refusals } = await setup(t);
  await root.write("auth/jwt/config", { jwks_url: issuer.jwksUrl, jwks_ca_pem: issuer.caPem, bound_issuer: issuer.url });
  await root.write("auth/jwt/role/services", {
    role_type: "jwt",
    bound_audiences: "lessor",
    user_claim: "sub",
    bound_claims_type: "glob",
    bound_claims: JSON.stringify({ "/kubernetes.io/namespace": ["pay*", "billing"] }),
    claim_mappings: { "/kubernetes.io/namespace": "namespace", "/kubernetes.io/serviceaccount/name": "service_account" },
    token_policies: "services",
    token_ttl: "1h",
  });
  assert.deepEqual(await root.list("auth/jwt/role"), ["services"]);
  await root.policies.write("services", `path "secret/{{token.metadata.namespace}}/*" { capabilities = ["read"] }`);
  await root.write("secret/payments-eu/db", { password: "p" });
  await root.write("secret/orders/db", { password: "o" });

  const anonymous = client();
  const { token, info } = await anonymous.login("jwt", { role: "services", jwt: await issuer.sign(serviceAccount(issuer, "payments-eu")) });
  assert.equal(info.displayName, "jwt-system:serviceaccount:payments-eu:api");
  assert.deepEqual(info.meta, { role: "services", namespace: "payments-eu", service_account: "api" });
  assert.deepEqual(info.policies, ["default", "services"]);
  const service = client(token);
  assert.equal((await service.read("secret/payments-eu/db")).data.password, "p");
  await rejects(service.read("secret/orders/db"), Code.PERMISSION_DENIED, /"read" on path "secret\/orders\/db"/);
  assert.equal(issuer.fetches.jwks, 1, "fetched when the configuration was written; logins use that copy");

  const now = Math.floor(Date.now() / 1000);
  const good = serviceAccount(issuer, "payments");
  const publicPem = await exportSPKI(issuer.published[0]!.publicKey);
  const bad: Array<[string, Promise<string>]> = [
    ["expired", issuer.sign({ ...good, iat: now - 7200, exp: now - 3600 })],
    ["not yet valid", issuer.sign({ ...good, nbf: now + 3600 })],
    ["wrong audience", issuer.sign({ ...good, aud: "someone-else" })],
    ["wrong issuer", issuer.sign({ ...good, iss: "https://evil.example" })],
    ["namespace outside the glob", issuer.sign(serviceAccount(issuer, "orders"))],
    ["alg none", Promise.resolve(`${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify({ ...good, iat: now, exp: now + 600 }))}.`)],
    // The classic confusion: HS256 "signed" with the issuer's public key as the secret.
    ["HS256 with the public key", new SignJWT({ ...good, iat: now, exp: now + 600 }).setProtectedHeader({ alg: "HS256", kid: "key-1" }).sign(new TextEncoder().encode(publicPem))],
  ];
  for (const [name, jwt] of bad) {
    await rejects(anonymous.login("jwt", { role: "services", jwt: await jwt }), Code.PERMISSION_DENIED, REFUSED).catch((err: Error) => assert.fail(`${name}: ${err.message}`));
  }
  assert.deepEqual(refusals(), [
    "the token has expired (exp)",
    "the token is not valid yet (nbf)",
    "the aud claim matches none of the role's bound_audiences",
    "the iss claim is not the configured bound_issuer",
    "bound claim /kubernetes.io/namespace does not match any of the role's values",
    'the token\'s alg "none" is not one of jwt_supported_algs',
    'the token\'s alg "HS256" is not one of jwt_supported_algs',
  ]);
  assert.equal(issuer.fetches.jwks, 1, "no refused token made Lessor fetch keys");

  // A kid the JWKS lacks: one refresh, then refused; another one at once: no refresh (rate-limited).
  const stranger = await issuer.addKey("key-unknown", { publish: false });
  await rejects(anonymous.login("jwt", { role: "services", jwt: await issuer.sign(good, stranger) }), Code.PERMISSION_DENIED, REFUSED);
  assert.equal(issuer.fetches.jwks, 2, "one refresh for the unknown kid");
  const another = await issuer.addKey("key-unknown-2", { publish: false });
  await rejects(anonymous.login("jwt", { role: "services", jwt: await issuer.sign(good, another) }), Code.PERMISSION_DENIED, REFUSED);
  assert.equal(issuer.fetches.jwks, 2, "no second refresh within the cooldown");
  assert.deepEqual(refusals().slice(-2), ['no configured key fits the token (kid "key-unknown", alg RS256)', 'no configured key fits the token (kid "key-unknown-2", alg RS256)']);

  // Malformed and oversized tokens are bad input, said as such.
  await rejects(anonymous.login("jwt", { role: "services", jwt: "not.a.jwt" }), Code.INVALID_ARGUMENT, /^jwt: is not a JWT/);
  await rejects(anonymous.login("jwt", { role: "services", jwt: "x".repeat(40_000) }), Code.INVALID_ARGUMENT, /^jwt: is longer than 32768 characters/);
});

test("jwt: configuration is checked when written (one key source, asymmetric algorithms, a URL that answers), and OIDC discovery and PEM keys work", async (t) => {
  const { issuer, root, client } = await setup(t);
  await rejects(root.write("auth/jwt/config", { bound_issuer: "x" }), Code.INVALID_ARGUMENT, /oidc_discovery_url: give one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys/);
  await rejects(root.write("auth/jwt/config", { jwks_url: issuer.jwksUrl, oidc_discovery_url: issuer.url }), Code.INVALID_ARGUMENT, /jwks_url: give only one of/);
  await rejects(root.write("auth/jwt/config", { jwks_url: issuer.jwksUrl, jwks_ca_pem: issuer.caPem, jwt_supported_algs: "RS256,HS256" }), Code.INVALID_ARGUMENT, /jwt_supported_algs: "HS256" is not allowed: give asymmetric algorithms only/);
  await rejects(root.write("auth/jwt/config", { jwks_url: issuer.jwksUrl }), Code.INVALID_ARGUMENT, /jwks_url: could not be used: .*(certificate|self-signed)/i);
  await rejects(root.write("auth/jwt/config", { jwks_url: "file:///etc/passwd" }), Code.INVALID_ARGUMENT, /jwks_url: must be an https:\/\/ \(or http:\/\/\) URL/);
  await rejects(root.write("auth/jwt/role/r", { role_type: "oidc", user_claim: "sub", bound_audiences: "a" }), Code.INVALID_ARGUMENT, /role_type: "oidc" is not one of: jwt/);
  await rejects(root.write("auth/jwt/role/r", { user_claim: "sub" }), Code.INVALID_ARGUMENT, /bound_audiences: a role needs at least one of/);
  await rejects(root.write("auth/jwt/role/r", { bound_audiences: "a", user_claim: "sub", claim_mappings: "ns=role" }), Code.INVALID_ARGUMENT, /claim_mappings: metadata key "role" is reserved/);
  await rejects(root.write("auth/jwt/role/r", { bound_audiences: "a", user_claim: "sub", expiration_leeway: "soon" }), Code.INVALID_ARGUMENT, /expiration_leeway: "soon" is not a duration/);

  // Discovery: the document names the issuer and the JWKS; tokens must come from that issuer.
  await root.write("auth/jwt/config", { oidc_discovery_url: issuer.url, oidc_discovery_ca_pem: issuer.caPem });
  assert.equal(issuer.fetches.discovery, 1);
  await root.write("auth/jwt/role/ci", { role_type: "jwt", bound_audiences: "lessor", bound_subject: "repo:acme/app:ref:refs/heads/main", user_claim: "sub", expiration_leeway: "-1" });
  assert.equal((await root.read("auth/jwt/role/ci")).data.expiration_leeway, -1);
  const ci = { aud: "lessor", sub: "repo:acme/app:ref:refs/heads/main", repository: "acme/app" };
  const { info } = await client().login("jwt", { role: "ci", jwt: await issuer.sign(ci) });
  assert.equal(info.displayName, "jwt-repo:acme/app:ref:refs/heads/main");
  await rejects(client().login("jwt", { role: "ci", jwt: await issuer.sign({ ...ci, iss: "https://127.0.0.1:1" }) }), Code.PERMISSION_DENIED, REFUSED);

  // PEM keys in the configuration; a private key given by mistake is refused.
  const pem = await exportSPKI(issuer.published[0]!.publicKey);
  await rejects(root.write("auth/jwt/config", { jwt_validation_pubkeys: ["-----BEGIN PRIVATE KEY-----\nMII=\n-----END PRIVATE KEY-----"] }), Code.INVALID_ARGUMENT, /jwt_validation_pubkeys: item 1 is a private key/);
  await root.write("auth/jwt/config", { jwt_validation_pubkeys: [pem], default_role: "ci" });
  assert.equal((await client().login("jwt", { jwt: await issuer.sign(ci) })).info.meta.role, "ci", "default_role is used when the login names none");
});
