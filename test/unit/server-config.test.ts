// `lessor server -config`: the HCL file checked with errors that name the
// file, line and key; and flags over environment over file over defaults.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/cli/server/config-file.js";
import { resolveSettings, SettingsError } from "../../src/cli/server/settings.js";

const FILE = `# lessor.hcl
listener "tcp" {
  address       = "0.0.0.0:8200"
  tls_cert_file = "/etc/lessor/tls.crt"
  tls_key_file  = "/etc/lessor/tls.key"
}

storage "postgresql" {
  connection_url = "postgres://lessor@db:5432/lessor?sslmode=verify-full"
  ca_file        = "/etc/lessor/db-ca.pem"
  path           = "/var/lib/lessor"
}

key_file   = "/etc/lessor/lessor.key"
log_level  = "warn"
log_format = "json"
telemetry { metrics_address = "127.0.0.1:9102" }

expiry {
  paused            = true
  concurrency       = 4
  revoke_retry_base = "2s"
  revoke_retry_max  = 600
  lease_retention   = "24h"
}
`;

test("a configuration file sets what the flags set", () => {
  const settings = resolveSettings({}, {}, parseConfig(FILE, "lessor.hcl"));
  assert.equal(settings.dataDir, "/var/lib/lessor");
  assert.deepEqual(settings.log, { level: "warn", format: "json" });
  const o = settings.options;
  assert.deepEqual(
    [o.listenAddress, o.tlsCertFile, o.tlsKeyFile, o.tlsClientCaFile, o.storageUrl, o.storageCaFile, o.keyFile, o.metricsListenAddress, o.noExpire],
    ["0.0.0.0:8200", "/etc/lessor/tls.crt", "/etc/lessor/tls.key", undefined, "postgres://lessor@db:5432/lessor?sslmode=verify-full", "/etc/lessor/db-ca.pem", "/etc/lessor/lessor.key", "127.0.0.1:9102", true],
  );
  assert.deepEqual(o.retry, { baseMs: 2_000, capMs: 600_000, maxAttempts: 15 });
  assert.deepEqual(o.expiry, { concurrency: 4 });
  assert.equal(o.leaseRetentionMs, 24 * 3600_000);
});

test("flags override the environment, which overrides the file", () => {
  const file = parseConfig(FILE, "lessor.hcl");
  const env = { LESSOR_LISTEN_ADDRESS: "127.0.0.1:9000", LESSOR_LOG_LEVEL: "debug", LESSOR_STORAGE_URL: "" };
  let s = resolveSettings({}, env, file);
  assert.equal(s.options.listenAddress, "127.0.0.1:9000");
  assert.equal(s.log.level, "debug");
  assert.equal(s.options.storageUrl, "postgres://lessor@db:5432/lessor?sslmode=verify-full", "an empty variable is unset");
  s = resolveSettings({ "listen-address": "127.0.0.1:9001", "log-format": "text", "data-dir": "/srv/lessor", "expiry-concurrency": 2 }, env, file);
  assert.deepEqual([s.options.listenAddress, s.log.format, s.dataDir, s.options.expiry?.concurrency], ["127.0.0.1:9001", "text", "/srv/lessor", 2]);
});

test("without a file: the defaults, and a data directory unless -dev", () => {
  assert.throws(() => resolveSettings({}, {}), /-data-dir is required/);
  const s = resolveSettings({ dev: true, "dev-listen-address": "127.0.0.1:0" }, {});
  assert.deepEqual([s.dev, s.dataDir, s.options.listenAddress, s.options.mountDefaultKv, s.log.level, s.log.format], [true, undefined, "127.0.0.1:0", true, "info", undefined]);
  assert.equal(resolveSettings({ "data-dir": "/d" }, {}).options.listenAddress, "127.0.0.1:8200");
});

test("a bad value is refused naming where it was written", () => {
  const file = parseConfig('storage "sqlite" { path = "/d" }\nexpiry {\n  revoke_retry_base = "soon"\n}\n', "lessor.hcl");
  assert.throws(() => resolveSettings({}, {}, file), (err: Error) => err instanceof SettingsError && /^lessor\.hcl:3 \(expiry\.revoke_retry_base\) "soon" is not a duration/.test(err.message));
  assert.throws(() => resolveSettings({ "revoke-retry-base": "soon" }, {}, file), { message: /^-revoke-retry-base "soon" is not a duration/ });
  assert.throws(() => resolveSettings({ "data-dir": "/d" }, { LESSOR_LOG_FORMAT: "xml" }), { message: /^LESSOR_LOG_FORMAT must be one of text, json, not "xml"/ });
  assert.throws(() => resolveSettings({ "data-dir": "/d", "revoke-retry-base": "10s", "revoke-retry-max": "1s" }, {}), { message: /^-revoke-retry-max must not be shorter than -revoke-retry-base$/ });
});

test("errors in the file name the file, the line and the key", () => {
  const cases: Array<[string, RegExp]> = [
    ['listener "tcp" {\n  address = "0.0.0.0:8200"\n  tls_certfile = "/c"\n}', /^lessor\.hcl:3: unknown setting "listener\.tls_certfile"$/],
    ["disable_mlock = true", /^lessor\.hcl:1: unknown setting "disable_mlock"$/],
    ['listener "tcp" {\n  address = 8200\n}', /^lessor\.hcl:2: listener\.address: .*expected string/],
    ['storage "raft" {\n  path = "/x"\n}', /^lessor\.hcl:1: storage\.type: the storage type must be "sqlite" or "postgresql"$/],
    ['storage "postgresql" {\n  path = "/x"\n}', /^lessor\.hcl:1: storage\.connection_url: is required$/],
    ['log_level = "loud"', /^lessor\.hcl:1: log_level: .*"trace"\|"debug"\|"info"\|"warn"\|"error"/],
    ['listener "tcp" { address = "a:1" }\nlistener "tcp" { address = "b:2" }', /^lessor\.hcl:2: "listener" is given again \(first at line 1\)/],
    ['log_level = "info', /^lessor\.hcl:1: string is not closed/],
    ["expiry {\n  concurrency = \"four\"\n}", /^lessor\.hcl:2: expiry\.concurrency: .*expected number/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseConfig(text, "lessor.hcl"), (err: Error) => err instanceof ConfigError && expected.test(err.message), text);
  }
});

test("the listener can ask for client certificates without requiring them (file or flag)", () => {
  const file = parseConfig(`listener "tcp" {\n  tls_cert_file = "/t.crt"\n  tls_key_file = "/t.key"\n  tls_client_ca_file = "/ca.pem"\n  tls_request_client_cert = true\n}\nstorage "sqlite" { path = "/d" }\n`, "lessor.hcl");
  const fromFile = resolveSettings({}, {}, file).options;
  assert.deepEqual([fromFile.tlsClientCaFile, fromFile.tlsRequestClientCert], ["/ca.pem", true]);
  const fromFlag = resolveSettings({ "data-dir": "/d", "tls-client-ca-file": "/ca.pem", "tls-request-client-cert": true }, {}).options;
  assert.equal(fromFlag.tlsRequestClientCert, true);
  assert.equal(resolveSettings({ "data-dir": "/d" }, {}).options.tlsRequestClientCert, false);
});
