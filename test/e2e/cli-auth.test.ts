// The CLI's auth commands, as a Vault user types them, against a real server:
// auth enable/list/disable; `lessor login -method=jwt role=R jwt=@FILE`
// prints Vault's login table (metadata as token_meta_ rows) and stores the
// token in ~/.lessor-token, which the next command uses; -no-store only
// prints; `lessor write auth/approle/login ...` prints the token; `lessor
// login TOKEN` checks and stores a token; mistakes are usage errors.
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startJwtIssuer } from "../helpers/jwt-issuer.js";
import { clientFor, runCli, startServer, tempDir } from "../helpers/processes.js";

test("lessor auth enable|list|disable, lessor login -method=jwt|approle|token, lessor write auth/approle/login", async (t) => {
  const issuer = await startJwtIssuer();
  const server = await startServer();
  const root = clientFor(server);
  t.after(async () => {
    root.close();
    await server.stop();
    await issuer.close();
  });
  const home = tempDir("cli-home");
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string) =>
    runCli(args, { env: { LESSOR_ADDR: server.address, HOME: home, LESSOR_TOKEN: server.rootToken, ...env }, stdin });
  const ok = async (args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string) => {
    const r = await cli(args, env, stdin);
    assert.equal(r.code, 0, `lessor ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };

  assert.equal(await ok(["auth", "enable", "approle"]), "Success! Enabled approle auth method at: approle/\n");
  assert.equal(await ok(["auth", "enable", "-path=k8s", "-description=cluster A", "jwt"]), "Success! Enabled jwt auth method at: k8s/\n");
  assert.match(await ok(["auth", "list"]), /^Path {8}Type {7}Accessor {17}Description\n-{4} {8}-{4} {7}-{8} {17}-{11}\napprole\/ {4}approle {4}auth_approle_\w{8} {4}n\/a\nk8s\/ {8}jwt {8}auth_jwt_\w{8} {8}cluster A\n$/);

  await root.write("auth/k8s/config", { jwks_url: issuer.jwksUrl, jwks_ca_pem: issuer.caPem });
  await root.write("auth/k8s/role/payments", { role_type: "jwt", bound_audiences: "lessor", user_claim: "sub", claim_mappings: "/kubernetes.io/namespace=namespace", token_ttl: "1h" });
  const jwtFile = join(home, "token");
  writeFileSync(jwtFile, await issuer.sign({ aud: "lessor", sub: "system:serviceaccount:payments:api", "kubernetes.io": { namespace: "payments" } }));

  // Logged in and stored: the next command (without LESSOR_TOKEN) is that token.
  const login = await ok(["login", "-method=jwt", "-path=k8s", "role=payments", `jwt=@${jwtFile}`], { LESSOR_TOKEN: "" });
  assert.match(
    login,
    /^Success! You are now authenticated\. The token information displayed below\nis already stored in ~\/\.lessor-token\. You do NOT need to run "lessor login"\nagain\. Future Lessor requests will automatically use this token\.\n\nKey {21}Value\n-{3} {21}-{5}\ntoken {19}lsr\.\S+\ntoken_accessor {10}\S+\ntoken_duration {10}1h\ntoken_renewable {9}true\ntoken_policies {10}\["default"\]\nidentity_policies {7}\[\]\npolicies {16}\["default"\]\ntoken_meta_namespace {4}payments\ntoken_meta_role {9}payments\n$/,
  );
  const stored = readFileSync(join(home, ".lessor-token"), "utf8").trim();
  assert.ok(login.includes(stored), "the printed token is the stored one");
  assert.equal(statSync(join(home, ".lessor-token")).mode & 0o777, 0o600);
  assert.match(await ok(["token", "lookup"], { LESSOR_TOKEN: "" }), /display_name +k8s-system:serviceaccount:payments:api\n/);

  // -no-store prints but keeps the stored token as it was; -field prints one value.
  await root.write("auth/approle/role/cron", { token_policies: "default" });
  const roleId = String((await root.read("auth/approle/role/cron/role-id")).data.role_id);
  const secretIds = await Promise.all([0, 1].map(async () => String((await root.write("auth/approle/role/cron/secret-id", {})).data.secret_id)));
  const noStore = await cli(["login", "-method=approle", "-no-store", `role_id=${roleId}`, `secret_id=${secretIds[0]}`]);
  assert.equal(noStore.code, 0, noStore.stderr);
  assert.match(noStore.stderr, /The token was not stored \(-no-store\)/);
  assert.match(noStore.stdout, /^Success! You are now authenticated\.\n\nKey +Value\n.*\ntoken_meta_role_name +cron\n$/s);
  assert.equal(readFileSync(join(home, ".lessor-token"), "utf8").trim(), stored);

  // The generic write of a login prints the token (not stored), as Vault's.
  const written = await ok(["write", "-field=token", "auth/approle/login", `role_id=${roleId}`, `secret_id=${secretIds[1]}`]);
  assert.match(written, /^lsr\.\S+$/);
  assert.equal(readFileSync(join(home, ".lessor-token"), "utf8").trim(), stored);

  // lessor login TOKEN: checked by looking it up, then stored.
  const other = tempDir("cli-home-2");
  const tokenLogin = await cli(["login", written.trim()], { HOME: other, LESSOR_TOKEN: "" });
  assert.equal(tokenLogin.code, 0, tokenLogin.stderr);
  assert.match(tokenLogin.stdout, /token_meta_role_name +cron/);
  assert.equal(readFileSync(join(other, ".lessor-token"), "utf8").trim(), written.trim());

  // A usage error.
  const unknown = await cli(["login", "-method=ldap", "username=x"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown auth method "ldap"; the CLI logs in with: token, jwt, approle/);

  assert.equal(await ok(["auth", "disable", "k8s"]), "Success! Disabled the auth method (if it existed) at: k8s/\n");
  assert.deepEqual(Object.keys((await root.read("sys/auth")).data), ["approle/"]);
});
