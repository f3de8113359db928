// `lessor agent -config=agent.hcl` and its flags (src/agent/config.ts): what
// a file says, what a flag overrides, and errors that name the line and key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseAgentConfig, resolveAgentSettings } from "../../src/agent/config.js";

const ENV = { HOME: "/home/u" };

test("a configuration file sets the agent up; flags given override it", () => {
  const file = parseAgentConfig(
    `
lessor { address = "https://lessor.internal:8200"  ca_cert = "/etc/lessor/ca.pem" }
auto_auth {
  method "token_file" { config = { token_file_path = "/var/run/lessor/token" } }
}
listener "unix" { address = "/run/lessor-agent.sock" }
aws {
  mount = "aws-prod"
  roles = ["deploy", "read-only"]
  credential_ttl = "30m"
  verify_timeout = 0
}
authorization_token_file = "/run/lessor-agent/token"
revoke_on_exit = false
telemetry { metrics_address = "0.0.0.0:9102" }
log_level = "debug"
`,
    "agent.hcl",
  );
  const settings = resolveAgentSettings({}, ENV, file);
  assert.deepEqual(settings.lessor, { address: "https://lessor.internal:8200", caCert: "/etc/lessor/ca.pem", clientCert: undefined, clientKey: undefined });
  assert.deepEqual(settings.auth, { method: "token_file", path: "/var/run/lessor/token" });
  assert.deepEqual(settings.listen, { socketPath: "/run/lessor-agent.sock" });
  assert.equal(settings.mount, "aws-prod");
  assert.deepEqual(settings.roles, ["deploy", "read-only"]);
  assert.equal(settings.credentialTtlMs, 30 * 60_000);
  assert.equal(settings.verifyTimeoutMs, 0);
  assert.equal(settings.authorizationTokenFile, "/run/lessor-agent/token");
  assert.equal(settings.agentFile, "/home/u/.lessor/agent.json");
  assert.equal(settings.revokeOnExit, false);
  assert.deepEqual(settings.metricsListen, { host: "0.0.0.0", port: 9102 });
  assert.equal(settings.logLevel, "debug");

  const flagged = resolveAgentSettings(
    { "listen-address": "127.0.0.1:8101", role: ["deploy"], "token-file": "/tmp/t", "revoke-on-exit": true, "credential-ttl": "2h" },
    ENV,
    file,
  );
  assert.deepEqual(flagged.listen, { host: "127.0.0.1", port: 8101 });
  assert.deepEqual(flagged.roles, ["deploy"]);
  assert.deepEqual(flagged.auth, { method: "token_file", path: "/tmp/t" });
  assert.equal(flagged.revokeOnExit, true);
  assert.equal(flagged.credentialTtlMs, 2 * 3_600_000);
});

test("without a file or flags: loopback 8100, the CLI's token, files under ~/.lessor", () => {
  const settings = resolveAgentSettings({}, ENV);
  assert.deepEqual(settings.listen, { host: "127.0.0.1", port: 8100 });
  assert.deepEqual(settings.auth, { method: "token_file", path: "/home/u/.lessor-token" });
  assert.equal(settings.authorizationTokenFile, "/home/u/.lessor/agent-token");
  assert.equal(settings.mount, "aws");
  assert.deepEqual(settings.roles, []);
  assert.equal(settings.credentialTtlMs, 3_600_000);
  assert.equal(settings.verifyTimeoutMs, 60_000);
  assert.equal(settings.revokeOnExit, true);
  assert.deepEqual(resolveAgentSettings({}, { ...ENV, LESSOR_TOKEN: " lsr.abc \n" }).auth, { method: "token", token: "lsr.abc" });
});

test("auto-auth with an auth method, from the file or the flags", () => {
  const file = parseAgentConfig(
    `auto_auth {
  method "jwt" {
    mount_path = "auth/k8s"
    config = { role = "payments", token_file = "/var/run/secrets/token" }
  }
}`,
    "agent.hcl",
  );
  assert.deepEqual(resolveAgentSettings({}, ENV, file).auth, { method: "jwt", mountPath: "k8s", role: "payments", tokenFile: "/var/run/secrets/token" });
  assert.deepEqual(resolveAgentSettings({ "auth-method": "approle", "auth-config": ["role_id=r-1", "secret_id_file=/run/secret-id"] }, ENV).auth, {
    method: "approle",
    mountPath: "approle",
    roleId: "r-1",
    secretIdFile: "/run/secret-id",
  });
  assert.deepEqual(resolveAgentSettings({ "auth-method": "aws", "auth-config": ["role=ci", "header_value=lessor.example.com"] }, ENV).auth, {
    method: "aws",
    mountPath: "aws",
    role: "ci",
    headerValue: "lessor.example.com",
    region: undefined,
  });
  assert.deepEqual(resolveAgentSettings({ "auth-method": "cert", "auth-mount": "certs" }, ENV).auth, { method: "cert", mountPath: "certs", name: undefined });
  // A flag overrides the file's method.
  assert.deepEqual(resolveAgentSettings({ "token-file": "/t" }, ENV, file).auth, { method: "token_file", path: "/t" });
});

test("mistakes in the file are named by line and key", () => {
  const cases: [string, RegExp][] = [
    ['aws { mount = "aws"\n  rolez = ["x"] }', /^agent\.hcl:2: unknown setting "aws\.rolez"$/],
    ['listener "udp" { address = "x" }', /^agent\.hcl:1: listener\.type: the listener type must be "tcp" or "unix"$/],
    ['auto_auth {\n  method "kerberos" { config = {} }\n}', /^agent\.hcl:2: auto_auth\.method\.type: the method must be/],
    ['auto_auth {\n  method "jwt" { config = { role = "x" } }\n}', /^agent\.hcl:2: auto_auth\.method\.config\.token_file: is required$/],
    ["revoke_on_exit = \"yes\"", /^agent\.hcl:1: revoke_on_exit: /],
    ['log_level = "info"\nlog_level = "debug"', /^agent\.hcl:2: "log_level" is given again \(first at line 1\)/],
    ["aws {", /^agent\.hcl:1: .*\(column \d+\)$/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseAgentConfig(text, "agent.hcl"), (err: unknown) => err instanceof ConfigError && expected.test(err.message), text);
  }
});

test("bad flags are refused, naming the flag", () => {
  const refuse = (flags: Parameters<typeof resolveAgentSettings>[0], expected: RegExp) =>
    assert.throws(() => resolveAgentSettings(flags, ENV), (err: unknown) => err instanceof ConfigError && expected.test(err.message));
  refuse({ "listen-address": "8100" }, /^-listen-address: "8100" is not host:port/);
  refuse({ "listen-address": "unix:" }, /^-listen-address: give the socket's path/);
  // Plain HTTP only where the SDKs accept it.
  refuse({ "listen-address": "0.0.0.0:8100" }, /^-listen-address: the credentials endpoint is plain HTTP, .* not 0\.0\.0\.0$/);
  assert.deepEqual(resolveAgentSettings({ "listen-address": "169.254.170.2:80" }, ENV).listen, { host: "169.254.170.2", port: 80 });
  refuse({ role: ["deploy", "no spaces"] }, /^-role: "no spaces" is not a role name/);
  refuse({ "credential-ttl": "30s" }, /^-credential-ttl must be at least 1m/);
  refuse({ "verify-timeout": "soon" }, /^-verify-timeout "soon" is not a duration/);
  refuse({ "log-level": "loud" }, /^-log-level must be one of/);
  refuse({ "auth-method": "kerberos" }, /^-auth-method must be one of jwt, approle, cert, aws$/);
  refuse({ "auth-method": "jwt", "auth-config": ["role=x"] }, /^-auth-config token_file: is required$/);
  refuse({ "auth-method": "jwt", "auth-config": ["role=x", "token_file=/t", "jwt=abc"] }, /^-auth-config jwt: is not a setting of the jwt method$/);
  refuse({ "auth-method": "jwt", "auth-config": ["role"] }, /^-auth-config takes key=value, not "role"$/);
  refuse({ "auth-method": "cert", "token-file": "/t" }, /^give -token-file or -auth-method, not both$/);
});
