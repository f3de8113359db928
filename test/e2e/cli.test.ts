// The CLI as a user runs it: the token from ~/.lessor-token, kv reads and
// writes, -format=json, -field, stdin, single-dash flags, errors and exit codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, runCli, startServer, tempDir } from "../helpers/processes.js";

test("the CLI against a dev server", async (t) => {
  const home = tempDir("home");
  const server = await startServer({ dev: true, home });
  t.after(() => server.stop());
  const env = { HOME: home, LESSOR_ADDR: server.address, LESSOR_TOKEN: "" };
  const cli = (args: string[], stdin?: string) => runCli(args, { env, stdin });

  assert.equal(readFileSync(join(home, ".lessor-token"), "utf8").trim(), server.rootToken, "dev mode saves the root token for the CLI");

  let r = await cli(["secrets", "list"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Path\s+Type\s+Accessor\s+Description\n----\s+----\s+--------\s+-----------\nsecret\/\s+kv\s+kv_[0-9a-f]{8}\s+key\/value secret storage\n$/);

  r = await cli(["write", "secret/app/db", "user=admin", "password=hunter2", "ttl=30m"]);
  assert.deepEqual([r.code, r.stdout], [0, "Success! Data written to: secret/app/db\n"]);

  r = await cli(["read", "secret/app/db"]);
  assert.equal(r.stdout, "Key                 Value\n---                 -----\nrefresh_interval    30m\npassword            hunter2\nttl                 30m\nuser                admin\n");

  // As Vault's: the value alone, no newline, when piped.
  r = await cli(["read", "-field=password", "secret/app/db"]);
  assert.equal(r.stdout, "hunter2");

  r = await cli(["read", "-format=json", "secret/app/db"]);
  const json = JSON.parse(r.stdout) as { data: Record<string, string>; lease_duration: number };
  assert.deepEqual(json.data, { user: "admin", password: "hunter2", ttl: "30m" });
  assert.equal(json.lease_duration, 1800);

  r = await cli(["write", "secret/app/api", "-"], JSON.stringify({ key: "abc", n: 3 }));
  assert.equal(r.code, 0, r.stderr);
  r = await cli(["read", "-format=json", "secret/app/api"]);
  assert.deepEqual((JSON.parse(r.stdout) as { data: unknown }).data, { key: "abc", n: 3 });

  const file = join(home, "cert.pem");
  writeFileSync(file, "-----BEGIN X-----\nabc\n-----END X-----\n");
  r = await cli(["write", "secret/app/tls", `cert=@${file}`, "note=-"], "from stdin\n");
  assert.equal(r.code, 0, r.stderr);
  r = await cli(["read", "-format=json", "secret/app/tls"]);
  assert.deepEqual((JSON.parse(r.stdout) as { data: unknown }).data, { cert: "-----BEGIN X-----\nabc\n-----END X-----", note: "from stdin" });

  r = await cli(["list", "secret/app"]);
  assert.equal(r.stdout, "Keys\n----\napi\ndb\ntls\n");
  r = await cli(["list", "secret/"]);
  assert.equal(r.stdout, "Keys\n----\napp/\n");

  r = await cli(["delete", "secret/app/api"]);
  assert.equal(r.stdout, "Success! Data deleted (if it existed) at: secret/app/api\n");
  r = await cli(["read", "secret/app/api"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    `Error reading secret/app/api: Error making API request.\n\nRPC: lessor.v1.SecretsService/Read at ${server.address}\nCode: NOT_FOUND. Errors:\n\n* no value found at secret/app/api\n`,
  );

  r = await cli(["secrets", "enable", "-path=team/kv", "-description=team secrets", "kv"]);
  assert.equal(r.stdout, "Success! Enabled the kv secrets engine at: team/kv/\n");
  r = await cli(["secrets", "enable", "--path", "team/kv", "kv"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Code: ALREADY_EXISTS\. Errors:\n\n\* path is already in use at team\/kv\//);
  r = await cli(["secrets", "disable", "team/kv"]);
  assert.equal(r.stdout, "Success! Disabled the secrets engine (if it existed) at: team/kv/\n");

  r = await cli(["path-help", "secret/anything"]);
  assert.match(r.stdout, /^Request: {8}secret\/anything\nMatching Route: secret\/\*path\?\n/);

  r = await cli(["write", "secret/x", "novalue"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /"novalue" is not key=value/);

  r = await cli(["frobnicate"]);
  assert.deepEqual([r.code, r.stderr], [1, 'Error: unknown command "frobnicate"\nRun "lessor --help" for the commands.\n']);

  // Vault's `write -f`: a write with no data goes to the server (kv refuses it there); without -f the CLI refuses.
  r = await cli(["write", "secret/empty"]);
  assert.deepEqual([r.code, r.stderr], [1, "Error writing to secret/empty: must supply data (key=value fields) or use -force\n"]);
  for (const flag of ["-f", "-force"]) {
    r = await cli(["write", flag, "secret/empty"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Code: INVALID_ARGUMENT\. Errors:\n\n\* data: is empty/);
  }

  r = await runCli(["secrets", "list"], { env: { ...env, LESSOR_TOKEN: "lsr.wrong" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Code: UNAUTHENTICATED\. Errors:\n\n\* invalid token/);
});

test("the CLI's own help: usage, version, unknown commands, missing arguments, no server", async () => {
  const home = tempDir("home");
  // Nothing listens on port 1: every call fails to connect.
  const cli = (args: string[]) => runCli(args, { env: { HOME: home, LESSOR_ADDR: "127.0.0.1:1", LESSOR_TOKEN: "" } });
  const version = `Lessor v${(JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version}\n`;

  let r = await cli([]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Usage: lessor <command> \[args\]\n[\s\S]*Commands:\n[\s\S]*lessor read <path>/);
  for (const args of [["--version"], ["-version"], ["version"]]) {
    r = await cli(args);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, version, ""], args.join(" "));
  }

  r = await cli(["raed", "secret/x"]);
  assert.deepEqual([r.code, r.stderr], [1, 'Error: unknown command "raed"; did you mean read?\nRun "lessor --help" for the commands.\n']);
  r = await cli(["lease", "reneww", "x"]);
  assert.deepEqual([r.code, r.stderr], [1, 'Error: unknown command "reneww"; did you mean renew?\nRun "lessor lease --help" for the commands.\n']);
  r = await cli(["lease"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^lessor lease\n\nLook up, renew, revoke, list and tidy leases\n\nCommands:\n/);

  r = await cli(["read"]);
  assert.deepEqual([r.code, r.stderr], [1, 'Error: missing <path>\nUsage: lessor read <path> [data..]\nRun "lessor read --help" for its options.\n']);
  r = await cli(["policy", "write", "deployer"]);
  assert.deepEqual([r.code, r.stderr], [1, 'Error: missing <file>\nUsage: lessor policy write <name> <file>\nRun "lessor policy write --help" for its options.\n']);

  r = await cli(["read", "secret/x"]);
  assert.deepEqual(
    [r.code, r.stderr],
    [2, "Error reading secret/x: no server answered at 127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1); start one with `lessor server -dev` or set LESSOR_ADDR\n"],
  );
});
