// The hostile-input corpus: hundreds of bad requests through the API, the
// CLI and Vault's HTTP API. Every case must get a clear error naming what was wrong; after
// each one the server still answers and the store holds exactly what it held
// before (a dump of the tables compared); no response, log line or audit
// record contains a secret value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { request as httpRequest } from "node:http";
import { base64url, CompactSign } from "jose";
import { Client, Metadata, credentials } from "@grpc/grpc-js";
import { z } from "zod";
import { WriteRequest } from "@lessor/client/gen/lessor/v1/secrets.js";
import { LessorClient, LessorClientError } from "@lessor/client";
import { clientFor, runCli, startServer, tempDir } from "../helpers/processes.js";
import { awsEnv, EC2_POLICY, startAwsEmulator } from "../helpers/aws.js";
import { openRawDb } from "../helpers/raw-db.js";
import { issueServerCertificate, issueSvid, ignoreIpServernameWarning, makeCa } from "../helpers/certificates.js";

ignoreIpServernameWarning();

interface ApiCase {
  name: string;
  call: (c: Clients) => Promise<unknown>;
  code: string;
  message: RegExp;
}

interface CliCase {
  name: string;
  args: string[];
  stdin?: string;
  token?: "root" | "expired" | "usedUp" | "revoked" | "garbage";
  exit: number;
  stderr: RegExp;
}

interface Clients {
  root: LessorClient;
  expired: LessorClient;
  usedUp: LessorClient;
  revoked: LessorClient;
  garbage: LessorClient;
  none: LessorClient;
  reader: LessorClient;
  rawWrite(bytes: Buffer): Promise<unknown>;
}

const KV_SECRET = "kv-secret-value-7f3a";
const PLANTED = "planted-secret-91bd"; // sent inside bad requests; must never come back
const CONTROL = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).concat("\u007f");

function pathCases(): ApiCase[] {
  const variants: Array<[string, string, RegExp]> = [
    ["dot-dot segment", "secret/../secret/a", /path: contains a "\.\." segment/],
    ["leading dot-dot", "../secret/a", /path: contains a "\.\." segment/],
    ["dot segment", "secret/./a", /path: contains a "\." segment/],
    ["double slash", "secret//a", /path: contains an empty segment \("\/\/"\)/],
    ["only slashes", "///", /path: is empty/],
    ["empty", "", /path: is empty/],
    ["NUL", "secret/a\u0000b", /path: contains control characters/],
    ["escape sequence", "secret/\u001b[31mred", /path: contains control characters/],
    ["DEL", "secret/a\u007f", /path: contains control characters/],
    ["lone surrogate (not UTF-8)", "secret/\ud800x", /path: is not valid UTF-8/],
    ["replacement char", "secret/\ufffd", /path: is not valid UTF-8/],
    ["segment of 300", `secret/${"a".repeat(300)}`, /path: has a segment longer than 256 characters/],
    ["path of 2000", `secret/${"ab/".repeat(666)}`, /path: is longer than 1024 characters/],
    ["newline", "secret/a\nb", /path: contains control characters/],
  ];
  const ops: Array<[string, (c: LessorClient, p: string) => Promise<unknown>]> = [
    ["read", (c, p) => c.read(p)],
    ["write", (c, p) => c.write(p, { v: PLANTED })],
    ["delete", (c, p) => c.delete(p)],
    ["list", (c, p) => c.list(p)],
  ];
  const cases: ApiCase[] = [];
  for (const [op, run] of ops) {
    for (const [name, path, message] of variants) {
      cases.push({ name: `${op} path: ${name}`, call: (c) => run(c.root, path), code: "INVALID_ARGUMENT", message });
    }
  }
  for (const ch of CONTROL) {
    if (ch === "\u0000" || ch === "\n") continue;
    cases.push({
      name: `read path with U+${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
      call: (c) => c.root.read(`secret/a${ch}b`),
      code: "INVALID_ARGUMENT",
      message: /path: contains control characters/,
    });
  }
  const leaseOps: Array<[string, (c: LessorClient, id: string) => Promise<unknown>]> = [
    ["lookup", (c, id) => c.leases.lookup(id)],
    ["renew", (c, id) => c.leases.renew(id)],
    ["revoke", (c, id) => c.leases.revoke(id)],
  ];
  for (const [op, run] of leaseOps) {
    for (const [name, id, message] of [
      ["dot-dot", "aws/creds/../x", /lease_id: contains a "\.\." segment/],
      ["NUL", "aws/creds/x\u0000", /lease_id: contains control characters/],
      ["empty", "", /lease_id: is empty/],
      ["huge segment", `aws/${"x".repeat(5000)}`, /lease_id: is longer than 1024|lease_id: has a segment longer/],
    ] as const) {
      cases.push({ name: `lease ${op}: ${name}`, call: (c) => run(c.root, id), code: "INVALID_ARGUMENT", message });
    }
  }
  return cases;
}

function ttlCases(): ApiCase[] {
  const cases: ApiCase[] = [];
  const tokenTtls: Array<[string, Parameters<LessorClient["tokens"]["create"]>[0], RegExp]> = [
    ["negative ttl", { ttlSeconds: -1 }, /ttl_seconds: must be zero or a positive whole number of seconds/],
    ["very negative ttl", { ttlSeconds: -86_400_000 }, /ttl_seconds: must be zero or a positive/],
    ["ttl of 31 million years", { ttlSeconds: 1e15 }, /ttl_seconds: is longer than 100 years/],
    ["ttl at MAX_SAFE_INTEGER", { ttlSeconds: Number.MAX_SAFE_INTEGER }, /ttl_seconds: is longer than 100 years/],
    ["ttl beyond 2^53", { ttlSeconds: 2 ** 62 }, /request: could not be decoded: Value is larger than Number.MAX_SAFE_INTEGER/],
    ["ttl below -2^53", { ttlSeconds: -(2 ** 62) }, /request: could not be decoded: Value is smaller than Number.MIN_SAFE_INTEGER/],
    ["negative explicit max", { explicitMaxTtlSeconds: -5 }, /explicit_max_ttl_seconds: must be zero or a positive/],
    ["huge explicit max", { explicitMaxTtlSeconds: 1e12 }, /explicit_max_ttl_seconds: is longer than 100 years/],
    ["negative num_uses", { numUses: -1 }, /num_uses: must be zero \(unlimited\) or a positive/],
    ["display name with NUL", { displayName: "a\u0000b" }, /display_name: contains control characters/],
    ["display name of 1000", { displayName: "x".repeat(1000) }, /display_name: is longer than 256 characters/],
    ["meta value with control", { meta: { team: "a\u0007" } }, /meta\.team: contains control characters/],
    ["meta with 100 entries", { meta: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, "v"])) }, /meta: has more than 64 entries/],
    ["policy name with slash", { policies: ["../root"] }, /policies: "\.\.\/root" is not a policy name/],
    ["policy name with NUL", { policies: ["a\u0000"] }, /policies: "a\?" is not a policy name/],
    ["200 policies", { policies: Array.from({ length: 200 }, (_, i) => `p${i}`) }, /policies: has more than 64 policies/],
  ];
  for (const [name, request, message] of tokenTtls) {
    cases.push({ name: `token create: ${name}`, call: (c) => c.root.tokens.create(request), code: "INVALID_ARGUMENT", message });
  }
  for (const inc of [-1, -3600, 1e15]) {
    cases.push({
      name: `token renew increment ${inc}`,
      call: (c) => c.root.tokens.renew({ incrementSeconds: inc }),
      code: "INVALID_ARGUMENT",
      message: /increment_seconds: (must be zero or a positive|is longer than 100 years)/,
    });
    cases.push({
      name: `lease renew increment ${inc}`,
      call: (c) => c.root.leases.renew("aws/creds/deploy/x", inc),
      code: "INVALID_ARGUMENT",
      message: /increment_seconds: (must be zero|is longer than 100 years)/,
    });
  }
  for (const [name, options, message] of [
    ["negative default ttl", { defaultLeaseTtlSeconds: -1 }, /default_lease_ttl_seconds: must be zero or a positive/],
    ["negative max ttl", { maxLeaseTtlSeconds: -1 }, /max_lease_ttl_seconds: must be zero or a positive/],
    ["default longer than max", { defaultLeaseTtlSeconds: 7200, maxLeaseTtlSeconds: 60 }, /default_lease_ttl: must not be longer than max_lease_ttl/],
  ] as const) {
    cases.push({ name: `mount enable: ${name}`, call: (c) => c.root.mounts.enable("kv", { path: "ttl-test", ...options }), code: "INVALID_ARGUMENT", message });
  }
  for (const ttl of ["abc", "-5m", "1.5.3h", "5 minutes", "99999999999999999999h", "", "1h-", "h", "1y", "--1"]) {
    cases.push({
      name: `kv ttl "${ttl}"`,
      call: (c) => c.root.write("secret/ttl", { v: PLANTED, ttl }),
      code: "INVALID_ARGUMENT",
      message: /ttl: must be a duration such as 3600, 30m or 768h/,
    });
  }
  for (const ttl of [-1, 1.5, 1e20]) {
    cases.push({
      name: `kv numeric ttl ${ttl}`,
      call: (c) => c.root.write("secret/ttl", { v: PLANTED, ttl }),
      code: "INVALID_ARGUMENT",
      message: /ttl: must be a duration/,
    });
  }
  return cases;
}

function fieldCases(): ApiCase[] {
  const cases: ApiCase[] = [];
  const role = (data: Record<string, unknown>, message: RegExp, name: string): ApiCase => ({
    name: `aws role: ${name}`,
    call: (c) => c.root.write("aws/roles/hostile", data),
    code: "INVALID_ARGUMENT",
    message,
  });
  cases.push(
    role({ policy_document: EC2_POLICY, polcy: "typo" }, /polcy: unknown field; this path takes: credential_type, policy_document, policy/, "unknown field"),
    role({ policy_document: EC2_POLICY, "bad\u0000name": 1 }, /bad\?name: unknown field/, "unknown field with NUL"),
    role({ policy_document: EC2_POLICY, ["x".repeat(500)]: 1 }, /x{64}…: unknown field/, "unknown field of 500 chars"),
    role({ policy_document: 42 }, /policy_document: is not valid JSON|policy_document: must be/, "policy_document a number"),
    role({ policy_document: { Version: "2012-10-17" } }, /policy_document: must be a string/, "policy_document an object"),
    role({ policy_document: ["a"] }, /policy_document: must be a string/, "policy_document a list"),
    role({ policy_document: "{ not json" }, /policy_document: is not valid JSON/, "policy_document not JSON"),
    role({ policy_document: "x".repeat(70_000) }, /policy_document: is longer than 65536 characters/, "policy_document too long"),
    role({ policy_document: EC2_POLICY, credential_type: "root_user" }, /credential_type: "root_user" is not one of: iam_user/, "credential_type unknown"),
    role({ policy_document: EC2_POLICY, credential_type: { a: 1 } }, /credential_type: must be a list of strings/, "credential_type an object"),
    role({ policy_document: EC2_POLICY.replace("2012-10-17", "2023-11-12") }, /"2023-11-12"/, "policy version invalid"),
    role({ policy_document: true }, /policy_document: (is not valid JSON|must be)/, "policy_document a bool"),
  );
  const rootConfig = (data: Record<string, unknown>, message: RegExp, name: string): ApiCase => ({
    name: `aws config/root: ${name}`,
    call: (c) => c.root.write("aws/config/root", data),
    code: "INVALID_ARGUMENT",
    message,
  });
  cases.push(
    rootConfig({ secret_key: PLANTED, access_key: "AKIA", region: 42 }, /region: must be an AWS region name/, "region a number (secret alongside)"),
    rootConfig({ secret_key: PLANTED, access_key: "AKIA", bogus: "x" }, /bogus: unknown field/, "unknown field (secret alongside)"),
    rootConfig({ access_key: "", secret_key: PLANTED }, /access_key: access_key and secret_key go together/, "secret without access key"),
    rootConfig({ region: "mars-1" }, /region: must be an AWS region name/, "region invalid"),
    rootConfig({ iam_endpoint: "javascript:alert(1)" }, /iam_endpoint: must be an http:\/\/ or https:\/\/ URL/, "endpoint scheme"),
    rootConfig({ sts_endpoint: "http://" }, /sts_endpoint: must be an http/, "endpoint empty host"),
    rootConfig({ secret_key: { nested: PLANTED } }, /secret_key: must be a string/, "secret_key an object"),
    rootConfig({ secret_key: "x".repeat(70_000), access_key: "A" }, /secret_key: is longer than 65536/, "secret_key too long"),
  );
  cases.push(
    { name: "creds read with an unknown field", call: (c) => c.root.read("aws/creds/deploy", { lease_ttl: "1h" }), code: "INVALID_ARGUMENT", message: /lease_ttl: unknown field; this path takes: ttl, / },
    { name: "kv write with no data", call: (c) => c.root.write("secret/empty", {}), code: "INVALID_ARGUMENT", message: /data: is empty/ },
    { name: "kv write to a folder", call: (c) => c.root.write("secret/folder/", { v: PLANTED }), code: "INVALID_ARGUMENT", message: /path: names a folder/ },
    { name: "mount unknown type", call: (c) => c.root.mounts.enable("nosuch"), code: "INVALID_ARGUMENT", message: /type: unknown secrets engine type "nosuch"/ },
    { name: "mount reserved path", call: (c) => c.root.mounts.enable("kv", { path: "sys" }), code: "INVALID_ARGUMENT", message: /path: "sys\/" is reserved/ },
    { name: "mount path with dot-dot", call: (c) => c.root.mounts.enable("kv", { path: "../x" }), code: "INVALID_ARGUMENT", message: /path: contains a "\.\." segment/ },
    { name: "mount path with NUL", call: (c) => c.root.mounts.enable("kv", { path: "a\u0000" }), code: "INVALID_ARGUMENT", message: /path: contains control characters/ },
    { name: "mount path of 300", call: (c) => c.root.mounts.enable("kv", { path: "a".repeat(300) }), code: "INVALID_ARGUMENT", message: /path: has a segment longer than 256 characters/ },
    { name: "mount over an existing one", call: (c) => c.root.mounts.enable("kv", { path: "secret/inner" }), code: "ALREADY_EXISTS", message: /overlaps the existing mount at secret\// },
    { name: "disable mount, empty path", call: (c) => c.root.mounts.disable(""), code: "INVALID_ARGUMENT", message: /path: is required/ },
    { name: "unmounted path", call: (c) => c.root.read("nowhere/x"), code: "NOT_FOUND", message: /no secrets engine is mounted at nowhere\// },
    { name: "unknown engine path", call: (c) => c.root.read("aws/nope"), code: "NOT_FOUND", message: /unknown path aws\/nope/ },
    { name: "deeply nested Struct (40 levels)", call: (c) => c.root.write("secret/deep", { v: nested(40) }), code: "INVALID_ARGUMENT", message: /request: could not be decoded: protobuf decode recursion limit exceeded/ },
    { name: "deeply nested Struct (5000 levels, raw bytes)", call: (c) => c.rawWrite(deepStructRequest(5000)), code: "INVALID_ARGUMENT", message: /request: could not be decoded/ },
    { name: "garbage bytes as a request", call: (c) => c.rawWrite(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])), code: "INVALID_ARGUMENT", message: /request: could not be decoded/ },
    // Sent by a raw client without a send limit: @lessor/client itself refuses to send more than 4 MiB.
    {
      name: "value over the 4 MiB message limit",
      call: (c) => c.rawWrite(Buffer.from(WriteRequest.encode({ path: "secret/huge", data: { v: "x".repeat(5 * 1024 * 1024) } }).finish())),
      code: "RESOURCE_EXHAUSTED",
      message: /larger than max \(\d+ vs 4194304\)/,
    },
  );
  // Quotas and audit devices.
  for (const [name, quota, message] of [
    ["rate zero", { name: "q", rate: 0 }, /rate: must be a number of requests greater than 0/],
    ["rate negative", { name: "q", rate: -3 }, /rate: must be/],
    ["rate NaN", { name: "q", rate: Number.NaN }, /rate: must be/],
    ["rate infinite", { name: "q", rate: Number.POSITIVE_INFINITY }, /rate: must be/],
    ["rate too big", { name: "q", rate: 1e9 }, /rate: must be/],
    ["interval negative", { name: "q", rate: 1, intervalSeconds: -1 }, /interval: must be a whole number of seconds from 1 to 86400/],
    ["interval a year", { name: "q", rate: 1, intervalSeconds: 86400 * 365 }, /interval: must be a whole number/],
    ["name empty", { name: "", rate: 1 }, /name: is required/],
    ["name with slash", { name: "a/b", rate: 1 }, /name: must be 1-128 letters/],
    ["name with NUL", { name: "a\u0000", rate: 1 }, /name: must be 1-128 letters/],
    ["path with dot-dot", { name: "q", rate: 1, path: "secret/../x" }, /path: contains a "\.\." segment/],
    ["path with control", { name: "q", rate: 1, path: "secret/\u0001" }, /path: contains control characters/],
  ] as const) {
    cases.push({ name: `quota: ${name}`, call: (c) => c.root.sys.writeQuota(quota), code: "INVALID_ARGUMENT", message });
  }
  cases.push(
    { name: "quota read missing", call: (c) => c.root.sys.readQuota("missing"), code: "NOT_FOUND", message: /no rate limit quota named "missing"/ },
    { name: "audit unknown type", call: (c) => c.root.sys.enableAudit("syslog"), code: "INVALID_ARGUMENT", message: /type: unknown audit device type "syslog"; use file or stdout/ },
    { name: "audit file without path", call: (c) => c.root.sys.enableAudit("file", { path: "f2" }), code: "INVALID_ARGUMENT", message: /options\.file_path: is required/ },
    { name: "audit relative path", call: (c) => c.root.sys.enableAudit("file", { path: "f2", options: { file_path: "../../etc/x" } }), code: "INVALID_ARGUMENT", message: /options\.file_path: must be an absolute path/ },
    { name: "audit path with NUL", call: (c) => c.root.sys.enableAudit("file", { path: "f2", options: { file_path: "/tmp/a\u0000b" } }), code: "INVALID_ARGUMENT", message: /options\.file_path: must be an absolute path/ },
    { name: "audit unknown option", call: (c) => c.root.sys.enableAudit("file", { path: "f2", options: { file_path: "/tmp/x", hmac_accessor: "false" } }), code: "INVALID_ARGUMENT", message: /options\.hmac_accessor: unknown option for a file device; it takes file_path, mode/ },
    { name: "audit bad mode", call: (c) => c.root.sys.enableAudit("file", { path: "f2", options: { file_path: "/tmp/x", mode: "rwx" } }), code: "INVALID_ARGUMENT", message: /options\.mode: must be an octal file mode/ },
    { name: "audit unwritable file", call: (c) => c.root.sys.enableAudit("file", { path: "f2", options: { file_path: "/nonexistent-dir/a/b.log" } }), code: "FAILED_PRECONDITION", message: /the audit device cannot write: ENOENT/ },
    { name: "audit device path invalid", call: (c) => c.root.sys.enableAudit("stdout", { path: "a b" }), code: "INVALID_ARGUMENT", message: /path: must be letters, digits/ },
    { name: "audit device twice", call: (c) => c.root.sys.enableAudit("stdout", { path: "file" }), code: "ALREADY_EXISTS", message: /already enabled at file\// },
    { name: "audit stdout with options", call: (c) => c.root.sys.enableAudit("stdout", { path: "s2", options: { file_path: "/tmp/x" } }), code: "INVALID_ARGUMENT", message: /options\.file_path: unknown option for a stdout device/ },
    { name: "token lookup with both", call: (c) => c.root.tokens.lookup({ token: "a", accessor: "b" }), code: "INVALID_ARGUMENT", message: /accessor: give a token or an accessor, not both/ },
    { name: "token lookup unknown accessor", call: (c) => c.root.tokens.lookup({ accessor: "nope" }), code: "NOT_FOUND", message: /no token has this accessor/ },
    { name: "token lookup unknown token", call: (c) => c.root.tokens.lookup({ token: PLANTED }), code: "NOT_FOUND", message: /token not found/ },
    { name: "token lookup huge accessor", call: (c) => c.root.tokens.lookup({ accessor: "a".repeat(10_000) }), code: "INVALID_ARGUMENT", message: /accessor: is longer than 128 characters/ },
    { name: "renew a non-renewable root token is quiet? (orphan revoke without sudo)", call: (c) => c.reader.tokens.revoke({ orphan: true }), code: "PERMISSION_DENIED", message: /"update" on path "auth\/token\/revoke-orphan"/ },
  );
  return cases;
}

function policyCases(): ApiCase[] {
  const bad: Array<[string, string, RegExp]> = [
    ["unknown capability", `path "a/*" { capabilities = ["fly"] }`, /unknown capability "fly"/],
    ["capability typo", `path "a/*" { capabilities = ["raed"] }`, /unknown capability "raed"/],
    ["unclosed block", `path "a/*" { capabilities = ["read"]`, /block is not closed/],
    ["unclosed list", `path "a/*" { capabilities = ["read" }`, /expected "," or "\]" in a list/],
    ["unclosed string", `path "a/* { capabilities = ["read"] }`, /expected "=" or "\{"|string is not closed/],
    ["unclosed comment", `/* path "a" { capabilities = ["read"] }`, /comment is not closed/],
    ["stray brace", `}`, /unexpected "\}"/],
    ["stray characters", `path "a" { capabilities = ["read"] } @@@`, /unexpected character "@"/],
    ["missing equals", `path "a" { capabilities ["read"] }`, /expected "=" or "\{" after "capabilities"/],
    ["no capabilities", `path "a" { }`, /has no capabilities/],
    ["misspelled key", `path "a" { capabilites = ["read"] }`, /unknown key "capabilites"/],
    ["unknown top key", `paths "a" { capabilities = ["read"] }`, /unknown key "paths"/],
    ["glob in the middle", `path "a/*/b" { capabilities = ["read"] }`, /"\*" is a glob only at the end of a path/],
    ["capability a number", `path "a" { capabilities = [1] }`, /capabilities must be strings, not 1/],
    ["capability a bool", `path "a" { capabilities = [true] }`, /capabilities must be strings, not true/],
    ["capability a list", `path "a" { capabilities = [["read"]] }`, /capabilities must be strings, not a list or object/],
    ["legacy policy invalid", `path "a" { policy = "all" }`, /policy must be one of deny, read, write, sudo/],
    ["two labels", `path "a" "b" { capabilities = ["read"] }`, /path block takes one label/],
    ["path not a block", `path "a" = "read"`, /expected "=" or "\{"|must be a block/],
    ["bad escape", `path "a\\q" { capabilities = ["read"] }`, /unknown escape sequence \\q/],
    ["control char in path", `path "a\u0001" { capabilities = ["read"] }`, /unexpected character|control characters/],
    ["NUL in text", `path "a" { capabilities = ["read"] }\u0000`, /contains a NUL character/],
    ["lone surrogate", `path "\ud800" { capabilities = ["read"] }`, /is not valid UTF-8/],
    ["empty", "", /is empty/],
    ["only comments", "# nothing\n// here\n", /has no path rules/],
    ["deep nesting", `path "a" { capabilities = ${"[".repeat(5000)}${"]".repeat(5000)} }`, /nested deeper than 16 levels/],
    ["deep objects", `x = ${"{ a = ".repeat(100)}1${" }".repeat(100)}`, /nested deeper than 16 levels/],
    ["heredoc unclosed", `path "a" { capabilities = <<EOF\nread\n`, /heredoc is not closed/],
    ["huge policy (300 KiB)", `path "a/*" { capabilities = ["read"] }\n`.repeat(8000), /is larger than 256 KiB/],
    ["too many values", `path "a" { capabilities = [${Array(20_000).fill('"read"').join(",")}] }`, /more than 10000 values|more than 40000 tokens/],
    ["path of 2000", `path "${"a".repeat(2000)}" { capabilities = ["read"] }`, /string is longer than|path is longer than 1024/],
    ["JSON truncated", `{"path": {"a/*": {"capabilities": ["read"]}}`, /is not valid JSON/],
    ["JSON trailing comma", `{"path": {"a/*": {"capabilities": ["read"],}}}`, /is not valid JSON/],
    ["JSON null", `{"path": null}`, /contains null/],
    ["JSON array root", `[1, 2]`, /is not valid HCL|must be a JSON object/],
    ["JSON unknown capability", `{"path": {"a": {"capabilities": ["jump"]}}}`, /unknown capability "jump"/],
    ["JSON capabilities a string of junk", `{"path": {"a": {"capabilities": "all"}}}`, /unknown capability "all"/],
    ["JSON deeply nested", `{"path": ${'{"a":'.repeat(3000)}1${"}".repeat(3000)}}`, /nested deeper than 16 levels/],
    ["JSON path an array of junk", `{"path": [1, 2]}`, /"path" must map paths to rules/],
    ["JSON unknown key", `{"paths": {"a": {"capabilities": ["read"]}}}`, /unknown key "paths"/],
    ["JSON capability object", `{"path": {"a": {"capabilities": [{"x": 1}]}}}`, /capabilities must be strings/],
    ["JSON huge", `{"path": {${Array.from({ length: 9000 }, (_, i) => `"p${i}/*": {"capabilities": ["read"]}`).join(",")}}}`, /is larger than 256 KiB|more than 10000/],
  ];
  const cases: ApiCase[] = bad.map(([name, text, message]) => ({
    name: `policy: ${name}`,
    call: (c) => c.root.policies.write("hostile", text),
    code: "INVALID_ARGUMENT",
    message,
  }));
  for (const [name, policyName, message] of [
    ["name empty", "", /name: is required/],
    ["name with slash", "a/b", /name: must be 1-128 letters/],
    ["name with dot-dot", "..", /name: must be 1-128 letters/],
    ["name with NUL", "a\u0000", /name: must be 1-128 letters/],
    ["name of 300", "a".repeat(300), /name: must be 1-128 letters/],
    ["name root", "root", /the "root" policy is built in and cannot be changed/],
  ] as const) {
    cases.push({
      name: `policy write: ${name}`,
      call: (c) => c.root.policies.write(policyName, `path "a" { capabilities = ["read"] }`),
      code: "INVALID_ARGUMENT",
      message,
    });
  }
  cases.push(
    { name: "policy delete root", call: (c) => c.root.policies.delete("root"), code: "INVALID_ARGUMENT", message: /cannot be deleted/ },
    { name: "policy delete default", call: (c) => c.root.policies.delete("default"), code: "INVALID_ARGUMENT", message: /"default" policy cannot be deleted/ },
    { name: "policy read missing", call: (c) => c.root.policies.read("missing"), code: "NOT_FOUND", message: /no policy named "missing"/ },
    { name: "policy write without sudo", call: (c) => c.reader.policies.write("x", `path "a" { capabilities = ["read"] }`), code: "PERMISSION_DENIED", message: /"update" on path "sys\/policies\/acl\/x"/ },
  );
  return cases;
}

/** Logins and auth method roles: bad encodings, oversized and garbage fields, huge certificate bundles. */
function loginCases(caPem: string): ApiCase[] {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const signed = {
    role: "deploy",
    iam_http_request_method: "POST",
    iam_request_url: b64("https://sts.amazonaws.com/"),
    iam_request_body: b64("Action=GetCallerIdentity&Version=2011-06-15"),
    iam_request_headers: b64(JSON.stringify({ authorization: [`AWS4-HMAC-SHA256 ${PLANTED}`] })),
  };
  const awsLogin = (name: string, fields: Record<string, unknown>, code: string, message: RegExp): ApiCase => ({
    name: `aws login: ${name}`,
    call: (c) => c.none.login("aws", { ...signed, ...fields }),
    code,
    message,
  });
  const certRole = (name: string, certificate: string, message: RegExp): ApiCase => ({
    name: `cert role: ${name}`,
    call: (c) => c.root.write("auth/cert/certs/hostile", { certificate }),
    code: "INVALID_ARGUMENT",
    message,
  });
  let deep = "1";
  for (let i = 0; i < 200; i++) deep = `{"a":${deep}}`;
  return [
    awsLogin("url not base64", { iam_request_url: "%%%not-base64%%%" }, "INVALID_ARGUMENT", /iam_request_url: is not base64/),
    awsLogin("body of 20 KiB", { iam_request_body: "A".repeat(20_480) }, "INVALID_ARGUMENT", /iam_request_body: is longer than 16384 characters/),
    awsLogin("headers of 1 MiB", { iam_request_headers: "A".repeat(1 << 20) }, "INVALID_ARGUMENT", /iam_request_headers: is longer than 16384 characters/),
    awsLogin("headers garbage", { iam_request_headers: b64("\u0000\u00ff{{{") }, "INVALID_ARGUMENT", /iam_request_headers: is not a JSON object/),
    awsLogin("headers deep JSON", { iam_request_headers: b64(deep) }, "INVALID_ARGUMENT", /iam_request_headers: must be a JSON object whose values are strings/),
    awsLogin("header with CRLF", { iam_request_headers: b64(JSON.stringify({ "x-a": `b\r\nHost: evil.example ${PLANTED}` })) }, "INVALID_ARGUMENT", /iam_request_headers: the value of x-a holds a line break/),
    awsLogin("method GET", { iam_http_request_method: "GET" }, "INVALID_ARGUMENT", /iam_http_request_method: "GET" is not one of: POST/),
    awsLogin("garbage body", { iam_request_body: b64(`\u0000garbage=${PLANTED}&&&`) }, "PERMISSION_DENIED", /^permission denied: the login was refused$/),
    awsLogin("another host", { iam_request_url: b64(`https://${PLANTED}.example/`) }, "PERMISSION_DENIED", /^permission denied: the login was refused$/),
    awsLogin("unknown field", { pkcs7: PLANTED }, "INVALID_ARGUMENT", /pkcs7: unknown field/),
    {
      name: "aws role: any principal",
      call: (c) => c.root.write("auth/aws/role/hostile", { bound_iam_principal_arn: "*" }),
      code: "INVALID_ARGUMENT",
      message: /bound_iam_principal_arn: "\*" is not an IAM principal ARN/,
    },
    certRole("bundle of 40 certificates", caPem.repeat(40), /certificate: (holds 40 certificates; at most 16 are accepted|is longer than 65536 characters)/),
    certRole("bundle of 1 MiB", "A".repeat(1 << 20), /certificate: is longer than 65536 characters/),
    certRole("garbage PEM", `-----BEGIN CERTIFICATE-----\n${b64(PLANTED)}\n-----END CERTIFICATE-----`, /certificate: certificate 1 of 1 is not a valid X\.509 certificate/),
    certRole("no PEM", PLANTED, /certificate: holds no PEM certificate/),
    { name: "cert login without a certificate", call: (c) => c.none.login("cert", {}), code: "PERMISSION_DENIED", message: /^permission denied: the login was refused$/ },
  ];
}

function tokenCases(): ApiCase[] {
  const who: Array<[keyof Clients, string, RegExp]> = [
    ["none", "no token", /missing token: send `authorization: Bearer <token>`/],
    ["garbage", "garbage token", /invalid token: no such token/],
    ["expired", "expired token", /invalid token: (the token has expired|no such token)/],
    ["usedUp", "token used past its max uses", /invalid token: (the token has no uses left|no such token)/],
    ["revoked", "revoked token", /invalid token: no such token/],
  ];
  const calls: Array<[string, (c: LessorClient) => Promise<unknown>]> = [
    ["read", (c) => c.read("secret/a")],
    ["write", (c) => c.write("secret/a", { v: PLANTED })],
    ["delete", (c) => c.delete("secret/a")],
    ["list", (c) => c.list("secret/")],
    ["creds", (c) => c.aws.creds("deploy")],
    ["mount", (c) => c.mounts.enable("kv", { path: "intruder" })],
    ["token create", (c) => c.tokens.create({ policies: ["root"] })],
    ["policy write", (c) => c.policies.write("root2", `path "*" { capabilities = ["sudo"] }`)],
    ["audit disable", (c) => c.sys.disableAudit("file")],
    ["quota delete", (c) => c.sys.deleteQuota("any")],
  ];
  const cases: ApiCase[] = [];
  for (const [key, name, message] of who) {
    for (const [op, run] of calls) {
      cases.push({ name: `${op} with ${name}`, call: (c) => run(c[key] as LessorClient), code: "UNAUTHENTICATED", message });
    }
  }
  const denied: Array<[string, (c: LessorClient) => Promise<unknown>, RegExp]> = [
    ["write outside policy", (c) => c.write("secret/a", { v: PLANTED }), /"update" on path "secret\/a" is not granted/],
    ["read denied path", (c) => c.read("secret/hidden"), /"read" on path "secret\/hidden" is denied/],
    ["aws root config", (c) => c.write("aws/config/root", { secret_key: PLANTED, access_key: "A" }), /on path "aws\/config\/root"/],
    ["mount enable", (c) => c.mounts.enable("kv", { path: "x" }), /"update" on path "sys\/mounts\/x"/],
    ["token as root", (c) => c.tokens.create({ policies: ["root"] }), /"update" on path "auth\/token\/create"/],
    ["audit list", (c) => c.sys.listAudit(), /"read" on path "sys\/audit"/],
    ["key rotate", (c) => c.sys.rotateKey(), /"update" on path "sys\/rotate"/],
    ["lookup other token", (c) => c.tokens.lookup({ accessor: "x" }), /"update" on path "auth\/token\/lookup-accessor"/],
  ];
  for (const [name, run, message] of denied) {
    cases.push({ name: `reader: ${name}`, call: (c) => run(c.reader), code: "PERMISSION_DENIED", message });
  }
  return cases;
}

/** jwt and approle logins and settings: malformed, oversized and deep JWTs, garbage in every field. */
function jwtAppRoleCases(approleRoleId: string, deepSignedJwt: string): ApiCase[] {
  const b64 = (text: string) => base64url.encode(text);
  const header = b64(JSON.stringify({ alg: "ES256", typ: "JWT" }));
  const jwtLogin = (name: string, data: Record<string, unknown>, code: string, message: RegExp): ApiCase => ({
    name: `jwt login: ${name}`,
    call: (c) => c.none.login("jwt", data),
    code,
    message,
  });
  const refused = /^permission denied: the login was refused$/;
  const notJwt = /^jwt: is not a JWT/;
  const cases: ApiCase[] = [
    jwtLogin("oversized JWT", { role: "svc", jwt: "e".repeat(40_000) }, "INVALID_ARGUMENT", /^jwt: is longer than 32768 characters/),
    jwtLogin("two parts", { role: "svc", jwt: `${PLANTED}.x` }, "INVALID_ARGUMENT", notJwt),
    jwtLogin("header not base64url", { role: "svc", jwt: "!!!.e30.c2ln" }, "INVALID_ARGUMENT", notJwt),
    jwtLogin("header not an object", { role: "svc", jwt: `${b64("[1]")}.${b64("{}")}.c2ln` }, "INVALID_ARGUMENT", notJwt),
    jwtLogin("payload not JSON", { role: "svc", jwt: `${header}.${b64(PLANTED)}.c2ln` }, "INVALID_ARGUMENT", notJwt),
    jwtLogin("NUL inside", { role: "svc", jwt: `${header}\u0000.e30.c2ln` }, "INVALID_ARGUMENT", notJwt),
    jwtLogin("correctly signed, 3000 levels deep", { role: "svc", jwt: deepSignedJwt }, "PERMISSION_DENIED", refused),
    jwtLogin("alg none", { role: "svc", jwt: `${b64(JSON.stringify({ alg: "none" }))}.${b64(JSON.stringify({ sub: "x", aud: "lessor", exp: 4e9 }))}.` }, "PERMISSION_DENIED", refused),
    jwtLogin("unknown role", { role: "nobody", jwt: `${header}.${b64("{}")}.c2ln` }, "PERMISSION_DENIED", refused),
    jwtLogin("jwt an object", { role: "svc", jwt: { a: PLANTED } }, "INVALID_ARGUMENT", /^jwt: must be a string/),
    jwtLogin("jwt missing", { role: "svc" }, "INVALID_ARGUMENT", /^jwt: is required/),
    jwtLogin("role of 1000 characters", { role: "r".repeat(1000), jwt: "a.b.c" }, "INVALID_ARGUMENT", /^role: is longer than 128 characters/),
    jwtLogin("unknown field", { role: "svc", jwt: "a.b.c", token: PLANTED }, "INVALID_ARGUMENT", /^token: unknown field; this path takes: role, jwt/),
    jwtLogin("nested Struct", { role: "svc", jwt: nested(40) }, "INVALID_ARGUMENT", /request: could not be decoded: protobuf decode recursion limit exceeded/),
  ];
  const approleLogin = (name: string, data: Record<string, unknown>, code: string, message: RegExp): ApiCase => ({
    name: `approle login: ${name}`,
    call: (c) => c.none.login("approle", data),
    code,
    message,
  });
  cases.push(
    approleLogin("role_id missing", { secret_id: PLANTED }, "INVALID_ARGUMENT", /^role_id: is required/),
    approleLogin("role_id a list", { role_id: ["a"], secret_id: PLANTED }, "INVALID_ARGUMENT", /^role_id: must be a string/),
    approleLogin("secret_id of 1000 characters", { role_id: approleRoleId, secret_id: "s".repeat(1000) }, "INVALID_ARGUMENT", /^secret_id: is longer than 256 characters/),
    approleLogin("wrong role_id", { role_id: PLANTED, secret_id: PLANTED }, "PERMISSION_DENIED", refused),
    approleLogin("wrong secret_id", { role_id: approleRoleId, secret_id: PLANTED }, "PERMISSION_DENIED", refused),
    approleLogin("no secret_id", { role_id: approleRoleId }, "PERMISSION_DENIED", refused),
  );
  const write = (name: string, path: string, data: Record<string, unknown>, message: RegExp, code = "INVALID_ARGUMENT"): ApiCase => ({
    name: `${path}: ${name}`,
    call: (c) => c.root.write(path, data),
    code,
    message,
  });
  const jwtRole = { role_type: "jwt", bound_audiences: "lessor", user_claim: "sub" };
  cases.push(
    write("jwks_url not http", "auth/jwt/config", { jwks_url: "ftp://keys.example/jwks" }, /^jwks_url: must be an https:\/\/ \(or http:\/\/\) URL/),
    write("jwks_url with a password", "auth/jwt/config", { jwks_url: `https://u:${PLANTED}@keys.example/jwks` }, /^jwks_url: must not carry a user name or password/),
    write("pubkey garbage", "auth/jwt/config", { jwt_validation_pubkeys: PLANTED }, /^jwt_validation_pubkeys: item 1 is not a PEM public key or certificate/),
    write("alg none", "auth/jwt/config", { jwt_validation_pubkeys: "x", jwt_supported_algs: "none" }, /jwt_supported_algs: "none" is not allowed/),
    write("CA garbage", "auth/jwt/config", { jwks_url: "https://keys.example/jwks", jwks_ca_pem: PLANTED }, /^jwks_ca_pem: is not a PEM certificate/),
    write("bound_claims a list", "auth/jwt/role/svc", { ...jwtRole, bound_claims: "[1,2]" }, /^bound_claims: must be a JSON object/),
    write("bound_claims 40 deep", "auth/jwt/role/svc", { ...jwtRole, bound_claims: JSON.stringify(nested(40)) }, /^bound_claims: is nested deeper than 32 levels/),
    write("bound_claims not JSON", "auth/jwt/role/svc", { ...jwtRole, bound_claims: "{nope" }, /^bound_claims: is not valid JSON/),
    write("claim_mappings not pairs", "auth/jwt/role/svc", { ...jwtRole, claim_mappings: "novalue" }, /^claim_mappings: "novalue" is not a key=value pair/),
    write("negative leeway", "auth/jwt/role/svc", { ...jwtRole, clock_skew_leeway: "-5" }, /^clock_skew_leeway: must not be negative; or -1 for no leeway/),
    write("CIDR out of range", "auth/jwt/role/svc", { ...jwtRole, token_bound_cidrs: "300.0.0.0/8" }, /^token_bound_cidrs: "300\.0\.0\.0\/8" is not a CIDR block/),
    write("role name with spaces", "auth/jwt/role/a b", jwtRole, /^name: role names are/),
    write("negative secret_id_num_uses", "auth/approle/role/cron", { secret_id_num_uses: -1 }, /^secret_id_num_uses: must be zero or more/),
    write("secret_id_ttl garbage", "auth/approle/role/cron", { secret_id_ttl: "forever" }, /^secret_id_ttl: duration "forever" is not a duration/),
    write("token_ttl over token_max_ttl", "auth/approle/role/cron", { token_ttl: "2h", token_max_ttl: "1h" }, /^token_ttl: must not be longer than token_max_ttl/),
    write("secret-id for no role", "auth/approle/role/nobody/secret-id", {}, /^role "nobody" not found/, "NOT_FOUND"),
    write("destroy an unknown accessor", "auth/approle/role/cron/secret-id-accessor/destroy", { secret_id_accessor: PLANTED }, /^no secret_id of this role has that accessor/, "NOT_FOUND"),
    write("secret-id metadata not pairs", "auth/approle/role/cron/secret-id", { metadata: "{broken" }, /^metadata: must be a JSON object of strings, or key=value pairs/),
  );
  return cases;
}

/** A JWT with a valid signature whose payload nests `depth` objects (no claim the role needs). */
async function deepSignedJwt(depth: number): Promise<{ publicPem: string; jwt: string }> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const payload = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
  const jwt = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: "ES256", typ: "JWT" }).sign(privateKey);
  return { publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(), jwt };
}

function cliCases(): CliCase[] {
  return [
    { name: "read with ..", args: ["read", "secret/../a"], exit: 2, stderr: /Code: INVALID_ARGUMENT\. Errors:\n\n\* path: contains a "\.\." segment/ },
    { name: "write with //", args: ["write", "secret//a", "v=1"], exit: 2, stderr: /path: contains an empty segment/ },
    { name: "read with ESC", args: ["read", "secret/\u001b[2J"], exit: 2, stderr: /path: contains control characters/ },
    { name: "read long segment", args: ["read", `secret/${"z".repeat(400)}`], exit: 2, stderr: /path: has a segment longer than 256/ },
    { name: "write not key=value", args: ["write", "secret/a", "novalue"], exit: 1, stderr: /"novalue" is not key=value/ },
    { name: "write unreadable @file", args: ["write", "secret/a", "v=@/nonexistent/file"], exit: 1, stderr: /could not read the file \/nonexistent\/file given for v/ },
    { name: "write - with bad JSON", args: ["write", "secret/a", "-"], stdin: "{ nope", exit: 1, stderr: /that was not valid JSON/ },
    { name: "write - with array", args: ["write", "secret/a", "-"], stdin: "[1,2]", exit: 1, stderr: /that was not an object/ },
    { name: "write - deeply nested", args: ["write", "secret/a", "-"], stdin: `{"v":${"[".repeat(60)}${"]".repeat(60)}}`, exit: 2, stderr: /request: could not be decoded/ },
    { name: "kv ttl unit-less garbage", args: ["write", "secret/a", `v=${PLANTED}`, "ttl=ten"], exit: 2, stderr: /ttl: must be a duration/ },
    { name: "token create negative ttl", args: ["token", "create", "-ttl=-1h"], exit: 1, stderr: /-ttl: must not be negative/ },
    { name: "token create ttl garbage", args: ["token", "create", "-ttl=5x"], exit: 1, stderr: /-ttl: "5x" is not a duration/ },
    { name: "token create ttl overflow", args: ["token", "create", "-ttl=99999999999999999999h"], exit: 1, stderr: /-ttl: (is too large|is longer than 100 years)/ },
    { name: "token create explicit max garbage", args: ["token", "create", "-explicit-max-ttl=1d2"], exit: 1, stderr: /-explicit-max-ttl: "1d2" is not a duration/ },
    { name: "token create use-limit negative", args: ["token", "create", "-use-limit=-3"], exit: 1, stderr: /-use-limit must be zero or a positive whole number/ },
    { name: "token create bad metadata", args: ["token", "create", "-metadata=novalue"], exit: 1, stderr: /-metadata: "novalue" is not key=value/ },
    { name: "token create bad policy name", args: ["token", "create", "-policy=../x"], exit: 2, stderr: /policies: "\.\.\/x" is not a policy name/ },
    { name: "token revoke nothing", args: ["token", "revoke"], exit: 1, stderr: /give a token \(or -accessor and an accessor\), or -self/ },
    { name: "token lookup wrong token", args: ["token", "lookup"], token: "garbage", exit: 2, stderr: /Code: UNAUTHENTICATED\. Errors:\n\n\* invalid token: no such token/ },
    { name: "token lookup expired", args: ["token", "lookup"], token: "expired", exit: 2, stderr: /Code: UNAUTHENTICATED\. Errors:\n\n\* invalid token: (the token has expired|no such token)/ },
    { name: "token lookup used up", args: ["token", "lookup"], token: "usedUp", exit: 2, stderr: /Code: UNAUTHENTICATED\. Errors:\n\n\* invalid token: (the token has no uses left|no such token)/ },
    { name: "CLI read with revoked token", args: ["read", "secret/a"], token: "revoked", exit: 2, stderr: /invalid token: no such token/ },
    { name: "policy write bad HCL", args: ["policy", "write", "p", "-"], stdin: `path "a" {`, exit: 2, stderr: /policy: is not valid HCL: line 1, column 11: block is not closed/ },
    { name: "policy write bad JSON", args: ["policy", "write", "p", "-"], stdin: `{"path":`, exit: 2, stderr: /policy: is not valid JSON/ },
    { name: "policy write unknown capability", args: ["policy", "write", "p", "-"], stdin: `path "a" { capabilities = ["write"] }`, exit: 2, stderr: /unknown capability "write"/ },
    { name: "policy write huge", args: ["policy", "write", "p", "-"], stdin: `path "a" { capabilities = ["read"] }\n`.repeat(9000), exit: 2, stderr: /is larger than 256 KiB/ },
    { name: "policy write missing file", args: ["policy", "write", "p", "/nonexistent.hcl"], exit: 1, stderr: /could not read the policy file \/nonexistent\.hcl/ },
    { name: "policy write root", args: ["policy", "write", "root", "-"], stdin: `path "a" { capabilities = ["read"] }`, exit: 2, stderr: /the "root" policy is built in and cannot be changed/ },
    { name: "policy read bad name", args: ["policy", "read", "a/b"], exit: 2, stderr: /name: must be 1-128 letters/ },
    { name: "secrets enable bad ttl", args: ["secrets", "enable", "-default-lease-ttl=abc", "kv"], exit: 1, stderr: /-default-lease-ttl: "abc" is not a duration/ },
    { name: "secrets enable negative ttl", args: ["secrets", "enable", "-max-lease-ttl=-1s", "kv"], exit: 1, stderr: /-max-lease-ttl: must not be negative/ },
    { name: "audit enable relative path", args: ["audit", "enable", "-path=f3", "file", "file_path=relative.log"], exit: 2, stderr: /options\.file_path: must be an absolute path/ },
    { name: "audit enable unknown type", args: ["audit", "enable", "socket"], exit: 2, stderr: /unknown audit device type "socket"/ },
    { name: "audit enable bad option", args: ["audit", "enable", "file", "nofile"], exit: 1, stderr: /"nofile" is not key=value/ },
    { name: "quota write without rate", args: ["quota", "write", "q"], exit: 1, stderr: /rate=N is required/ },
    { name: "quota write rate text", args: ["quota", "write", "q", "rate=many"], exit: 1, stderr: /rate=N is required/ },
    { name: "quota write bad interval", args: ["quota", "write", "q", "rate=1", "interval=soon"], exit: 1, stderr: /interval: "soon" is not a duration/ },
    { name: "quota write unknown field", args: ["quota", "write", "q", "rate=1", "burst=5"], exit: 1, stderr: /unknown field "burst"; a quota takes rate, interval, path, per_token/ },
    { name: "quota write per_token junk", args: ["quota", "write", "q", "rate=1", "per_token=maybe"], exit: 1, stderr: /per_token must be true or false/ },
    { name: "quota write negative rate", args: ["quota", "write", "q", "rate=-1"], exit: 2, stderr: /rate: must be a number of requests greater than 0/ },
    { name: "generate-root no data dir", args: ["operator", "generate-root", "-data-dir=/nonexistent"], exit: 1, stderr: /no Lessor database at \/nonexistent\/lessor\.db/ },
    { name: "unknown command", args: ["frobnicate"], exit: 1, stderr: /^Error: unknown command "frobnicate"\n/ },
  ];
}

interface HttpCase {
  name: string;
  method: string;
  /** Sent exactly as written: no normalisation of "..", no re-encoding. */
  path: string;
  /** Which token: root's (default), none, a bad one, or given headers (values sent as separate header lines). */
  token?: "root" | "none" | "garbage" | "reader";
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  status: number;
  /** What the {"errors": [...]} must say. */
  message: RegExp;
}

/** Requests over Vault's HTTP API that must each get a Vault-shaped error naming what was wrong. */
function httpCases(): HttpCase[] {
  const write = (name: string, body: string | Buffer, message: RegExp, status = 400): HttpCase => ({ name, method: "POST", path: "/v1/secret/a", body, status, message });
  return [
    write("body over 4 MiB", JSON.stringify({ v: PLANTED + "x".repeat(5 * 1024 * 1024) }), /request body is larger than the 4 MiB the server accepts/, 413),
    write("body not JSON, with a secret in it", `{"password": ${PLANTED}}`, /body: is not valid JSON \(at byte \d+\)|body: is not valid JSON$/),
    write("body cut short", `{"v": "${PLANTED}`, /^body: is not valid JSON( \(at byte \d+\)|: it ends too early)$/),
    write("body a JSON array", `["${PLANTED}"]`, /body: must be a JSON object of fields/),
    write("body a JSON string", `"${PLANTED}"`, /body: must be a JSON object of fields/),
    write("body not UTF-8", Buffer.from([0x7b, 0x22, 0x76, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), /body: is not valid UTF-8/),
    write("body nested 100 levels", `${'{"a":'.repeat(100)}"${PLANTED}"${"}".repeat(100)}`, /body: is nested deeper than 32 levels/),
    write("body sets __proto__", `{"__proto__": {"v": "${PLANTED}"}}`, /body: is not valid JSON: it sets __proto__/),
    write("body sets constructor.prototype", `{"constructor": {"prototype": {"v": "${PLANTED}"}}}`, /body: is not valid JSON: it sets __proto__ or constructor.prototype/),
    { name: "path /v1/../sys/mounts", method: "GET", path: "/v1/../sys/mounts", status: 400, message: /path: contains a "\.\." segment/ },
    { name: "path with %2e%2e", method: "GET", path: "/v1/secret/%2e%2e/sys/mounts", status: 400, message: /path: contains a "\.\." segment/ },
    { name: "path with %2E%2E%2F", method: "POST", path: "/v1/secret/%2E%2E%2Fa", body: `{"v":"${PLANTED}"}`, status: 400, message: /path: contains a "\.\." segment/ },
    { name: "path with %00", method: "GET", path: "/v1/secret/a%00b", status: 400, message: /path: contains control characters/ },
    { name: "path with //", method: "DELETE", path: "/v1/secret//a", status: 400, message: /path: contains an empty segment/ },
    { name: "path with bad percent-encoding", method: "GET", path: "/v1/secret/%ff%fe", status: 400, message: /bad request|path: is not valid UTF-8/ },
    { name: "path of 2000", method: "GET", path: `/v1/secret/${"ab/".repeat(666)}`, status: 400, message: /path: is longer than 1024 characters/ },
    { name: "path empty", method: "GET", path: "/v1/", status: 400, message: /path: is empty/ },
    { name: "outside /v1/", method: "GET", path: "/v2/secret/a", status: 404, message: /Lessor serves Vault's HTTP API under \/v1\// },
    { name: "method PATCH", method: "PATCH", path: "/v1/secret/a", body: `{"v":"${PLANTED}"}`, status: 405, message: /unsupported HTTP method PATCH/ },
    { name: "method OPTIONS", method: "OPTIONS", path: "/v1/secret/a", status: 405, message: /unsupported HTTP method OPTIONS/ },
    { name: "method TRACE", method: "TRACE", path: "/v1/secret/a", status: 405, message: /unsupported HTTP method TRACE/ },
    { name: "method unknown to Node's parser", method: "FROBNICATE", path: "/v1/secret/a", status: 405, message: /unsupported HTTP method/ },
    { name: "list=maybe", method: "GET", path: "/v1/secret/?list=maybe", status: 400, message: /list: must be true or false/ },
    { name: "DELETE sys/health", method: "DELETE", path: "/v1/sys/health", status: 405, message: /^unsupported operation$/ },
    { name: "POST sys/seal-status", method: "POST", path: "/v1/sys/seal-status", status: 405, message: /^unsupported operation$/ },
    { name: "DELETE aws/creds/deploy", method: "DELETE", path: "/v1/aws/creds/deploy", status: 405, message: /^unsupported operation$/ },
    { name: "LIST a path with no list", method: "LIST", path: "/v1/aws/config/root", status: 404, message: /unknown path aws\/config\/root\/; the aws engine answers/ },
    { name: "health with activecode 42", method: "GET", path: "/v1/sys/health?activecode=42", status: 400, message: /activecode: must be an HTTP status code/ },
    { name: "no token", method: "GET", path: "/v1/secret/a", token: "none", status: 403, message: /permission denied; missing client token/ },
    { name: "garbage token", method: "GET", path: "/v1/secret/a", token: "garbage", status: 403, message: /permission denied; invalid token: no such token/ },
    { name: "two different tokens", method: "GET", path: "/v1/secret/a", headers: { authorization: `Bearer lsr.${PLANTED}` }, status: 400, message: /X-Vault-Token: differs from the token in the Authorization: Bearer header/ },
    { name: "X-Vault-Token twice", method: "GET", path: "/v1/secret/a", token: "none", headers: { "x-vault-token": ["lsr.a", `lsr.${PLANTED}`] }, status: 400, message: /X-Vault-Token: header sent more than once/ },
    { name: "response wrapping", method: "GET", path: "/v1/secret/a", headers: { "x-vault-wrap-ttl": "60s" }, status: 400, message: /response wrapping \(X-Vault-Wrap-TTL\) is not supported/ },
    { name: "a namespace", method: "GET", path: "/v1/secret/a", headers: { "x-vault-namespace": "team-a" }, status: 400, message: /namespaces \(X-Vault-Namespace\) are not supported/ },
    { name: "headers over 16 KiB", method: "GET", path: "/v1/sys/health", headers: { "x-padding": "p".repeat(20_000) }, status: 431, message: /request headers are larger than the server accepts/ },
    { name: "sys/raw", method: "GET", path: "/v1/sys/raw/core/mounts", status: 404, message: /unknown path sys\/raw\/core\/mounts/ },
    { name: "an engine not mounted", method: "GET", path: "/v1/database/creds/app", status: 404, message: /no secrets engine is mounted at database\// },
    { name: "enable an engine Lessor lacks", method: "POST", path: "/v1/sys/mounts/db", body: '{"type": "database"}', status: 400, message: /unknown secrets engine type "database"/ },
    { name: "enable kv version 2", method: "POST", path: "/v1/sys/mounts/kv2", body: '{"type": "kv", "options": {"version": "2"}}', status: 400, message: /options\.version: kv version 2 is not supported/ },
    { name: "mount_point not the URL's", method: "POST", path: "/v1/sys/mounts/kv3", body: '{"type": "kv", "mount_point": "elsewhere"}', status: 400, message: /mount_point: differs from the path in the URL/ },
    { name: "a batch token", method: "POST", path: "/v1/auth/token/create", body: '{"type": "batch"}', status: 400, message: /type: Lessor makes service tokens only/ },
    { name: "an orphan through create", method: "POST", path: "/v1/auth/token/create", body: '{"no_parent": true}', status: 400, message: /no_parent: make an orphan on auth\/token\/create-orphan/ },
    { name: "a chosen token id", method: "POST", path: "/v1/auth/token/create", body: `{"id": "${PLANTED}"}`, status: 400, message: /id: Lessor makes every token itself/ },
    { name: "renew a lease in body and path", method: "PUT", path: "/v1/sys/leases/renew/aws/creds/deploy/x", body: '{"lease_id": "aws/creds/deploy/y"}', status: 400, message: /lease_id: unknown field/ },
    { name: "renew without lease_id", method: "PUT", path: "/v1/sys/leases/renew", body: "{}", status: 400, message: /lease_id: is required/ },
    { name: "revoke a lease id with ..", method: "PUT", path: "/v1/sys/leases/revoke", body: '{"lease_id": "aws/../sys"}', status: 400, message: /lease_id: contains a "\.\." segment/ },
    { name: "reader writes", method: "POST", path: "/v1/secret/a", token: "reader", body: `{"password": "${PLANTED}"}`, status: 403, message: /permission denied: "update" on path "secret\/a"/ },
    { name: "reader reads a denied path", method: "GET", path: "/v1/secret/hidden", token: "reader", status: 403, message: /permission denied: "read" on path "secret\/hidden" is denied/ },
  ];
}

/** One request exactly as written (Node's client sends the path and method unchanged). */
function rawHttp(url: string, c: HttpCase, tokens: Record<"root" | "garbage" | "reader", string>): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const headers: Record<string, string | string[]> = { ...(c.token === "none" || c.token === undefined ? {} : { "x-vault-token": tokens[c.token] }), ...c.headers };
  if (c.token === undefined && !("x-vault-token" in headers)) headers["x-vault-token"] = tokens.root;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method: c.method, path: c.path, headers, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.end(c.body);
  });
}

function nested(depth: number): unknown {
  let v: unknown = "x";
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** A WriteRequest whose data Struct nests `depth` levels, built as bytes (the encoder would overflow its stack). */
function deepStructRequest(depth: number): Buffer {
  const varint = (n: number): Buffer => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const field = (no: number, body: Buffer): Buffer => Buffer.concat([varint((no << 3) | 2), varint(body.length), body]);
  const key = field(1, Buffer.from("a"));
  let value = field(3, Buffer.from("x")); // Value.string_value
  const parts: Buffer[] = [];
  // Build from the inside out without recursion; sizes are known at each step.
  for (let i = 0; i < depth; i++) {
    const struct = field(1, Buffer.concat([key, field(2, value)])); // Struct.fields map entry
    value = field(5, struct); // Value.struct_value
    if (value.length > 3_000_000) break;
  }
  parts.push(field(1, Buffer.from("secret/deep")));
  parts.push(field(2, field(1, Buffer.concat([key, field(2, value)]))));
  return Buffer.concat(parts);
}

test("hostile input: clear errors, the server stays up, the store is unchanged, no secret leaks", { timeout: 600_000 }, async (t) => {
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({ env: awsEnv(emulator), args: ["-log-level=debug"], http: true });
  const root = clientFor(server);
  const opened: LessorClient[] = [root];
  const as = (token: string | undefined) => {
    const c = clientFor(server, token);
    opened.push(c);
    return c;
  };
  t.after(async () => {
    for (const c of opened) c.close();
    await server.stop();
    await emulator.close();
  });

  // What the store holds: a few mounts, secrets, policies, tokens, a lease, an audit device.
  await root.mounts.enable("aws");
  await root.mounts.enable("kv", { path: "secret" });
  await root.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey });
  await root.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  await root.write("secret/a", { password: KV_SECRET });
  await root.write("secret/hidden", { v: "1" });
  const issued = await root.aws.creds("deploy");
  await root.policies.write("reader", `path "secret/*" { capabilities = ["read", "list"] }\npath "secret/hidden" { capabilities = ["deny"] }`);
  // Auth methods to throw bad logins at: jwt with a PEM key, approle with one role.
  const deep = await deepSignedJwt(3000);
  await root.write("sys/auth/jwt", { type: "jwt" });
  await root.write("auth/jwt/config", { jwt_validation_pubkeys: [deep.publicPem] });
  await root.write("auth/jwt/role/svc", { role_type: "jwt", bound_audiences: "lessor", user_claim: "sub" });
  await root.write("sys/auth/approle", { type: "approle" });
  await root.write("auth/approle/role/cron", { token_policies: "reader" });
  const approleRoleId = String((await root.read("auth/approle/role/cron/role-id")).data.role_id);
  const auditFile = join(tempDir("audit"), "audit.log");
  await root.sys.enableAudit("file", { options: { file_path: auditFile } });
  await root.write("sys/auth/aws", { type: "aws" });
  await root.write("sys/auth/cert", { type: "cert" });
  const ca = makeCa(tempDir("hostile-ca"), "ca");
  const reader = await root.tokens.create({ policies: ["reader"], ttlSeconds: 3600 });
  const expired = await root.tokens.create({ ttlSeconds: 1 });
  const usedUp = await root.tokens.create({ numUses: 1 });
  await as(usedUp.token).tokens.lookupSelf();
  const revoked = await root.tokens.create({});
  await root.tokens.revoke({ token: revoked.token });
  await new Promise((r) => setTimeout(r, 1200)); // let the 1 s token expire

  const secrets = [KV_SECRET, PLANTED, emulator.rootSecretAccessKey, issued.secretAccessKey, server.rootToken!, reader.token, expired.token, usedUp.token, revoked.token];
  // A plain grpc-js client with no limit on what it sends, for requests @lessor/client would not make.
  const raw = new Client(server.address, credentials.createInsecure(), { "grpc.max_send_message_length": -1 });
  t.after(() => raw.close());
  const clients: Clients = {
    root,
    reader: as(reader.token),
    expired: as(expired.token),
    usedUp: as(usedUp.token),
    revoked: as(revoked.token),
    garbage: as(`lsr.${PLANTED}`),
    none: as(""),
    rawWrite: (bytes) =>
      new Promise((resolve, reject) => {
        const md = new Metadata();
        md.set("authorization", `Bearer ${server.rootToken}`);
        raw.makeUnaryRequest(
          "/lessor.v1.SecretsService/Write",
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          md,
          { deadline: Date.now() + 10_000 },
          (err, res) => (err ? reject(LessorClientError.from(err, "SecretsService/Write")) : resolve(res)),
        );
      }),
  };

  const db = await openRawDb(server.dataDir, { readonly: true });
  t.after(() => db.close());
  const hex = (rows: Array<Record<string, unknown>>, column: string) => rows.map((r) => ({ ...r, [column]: (r[column] as Buffer).toString("hex") }));
  const dump = async (): Promise<string> =>
    JSON.stringify({
      mounts: await db.all("SELECT path, accessor, type, default_ttl, max_ttl FROM mounts ORDER BY path"),
      entries: hex(await db.all("SELECT mount_accessor, key, value FROM engine_entries ORDER BY mount_accessor, key"), "value"),
      policies: await db.all("SELECT name, text FROM policies ORDER BY name"),
      quotas: await db.all("SELECT name, config FROM quotas ORDER BY name"),
      audit: hex(await db.all("SELECT path, config FROM audit_devices ORDER BY path"), "config"),
      // Tokens that are dead (expired, used up) may be swept away at any time; the live ones must not change.
      tokens: await db.all(
        "SELECT accessor, policies, parent_accessor, expire_time, uses_left FROM tokens WHERE (expire_time IS NULL OR expire_time > ?) AND NOT (num_uses > 0 AND uses_left = 0) ORDER BY accessor",
        Date.now() + 60_000 > 0 ? Date.now() : 0,
      ),
      leases: await db.all("SELECT id, state, expire_time FROM leases ORDER BY id"),
      intents: await db.all("SELECT COUNT(*) AS n FROM intents"),
    });

  const apiCases = [
    ...pathCases(),
    ...ttlCases(),
    ...fieldCases(),
    ...policyCases(),
    ...tokenCases(),
    ...loginCases(ca.pem),
    ...jwtAppRoleCases(approleRoleId, deep.jwt),
  ];
  const cli = cliCases();
  const http = httpCases();
  t.diagnostic(`${apiCases.length} API cases, ${cli.length} CLI cases, ${http.length} HTTP cases`);
  assert.ok(apiCases.length + cli.length >= 200, "the corpus has at least 200 cases");

  const all = [...apiCases.map((c) => c.name), ...cli.map((c) => c.name), ...http.map((c) => `HTTP ${c.name}`)];
  assert.deepEqual(all.filter((n, i) => all.indexOf(n) !== i), [], "case names are unique");

  const failures: string[] = [];
  for (const c of apiCases) {
    const before = await dump();
    let outcome: string;
    try {
      await c.call(clients);
      outcome = "succeeded";
    } catch (err) {
      if (!(err instanceof LessorClientError)) outcome = `threw ${String(err)}`;
      else if (err.codeName !== c.code) outcome = `${err.codeName}: ${err.message}`;
      else if (!c.message.test(err.message)) outcome = `message "${err.message.slice(0, 300)}"`;
      else if (secrets.some((s) => err.message.includes(s) || JSON.stringify(err.metadata).includes(s))) outcome = "error carries a secret";
      else outcome = "ok";
    }
    if (outcome !== "ok") failures.push(`${c.name}: expected ${c.code} ${c.message}, got ${outcome}`);
    // The server still answers, and nothing stored changed.
    await root.mounts.list();
    if ((await dump()) !== before) failures.push(`${c.name}: the store changed`);
  }

  const tokens = { root: server.rootToken, expired: expired.token, usedUp: usedUp.token, revoked: revoked.token, garbage: "lsr.garbage" };
  for (const c of cli) {
    const before = await dump();
    const r = await runCli(c.args, { env: { LESSOR_ADDR: server.address, LESSOR_TOKEN: tokens[c.token ?? "root"] }, stdin: c.stdin });
    if (r.code !== c.exit || !c.stderr.test(r.stderr)) failures.push(`CLI ${c.name}: exit ${r.code}, stderr ${JSON.stringify(r.stderr.slice(0, 300))}`);
    if (secrets.some((s) => r.stdout.includes(s) || r.stderr.includes(s))) failures.push(`CLI ${c.name}: output carries a secret`);
    await root.mounts.list();
    if ((await dump()) !== before) failures.push(`CLI ${c.name}: the store changed`);
  }
  const httpUrl = server.httpUrl as string;
  const httpTokens = { root: server.rootToken as string, garbage: `lsr.${PLANTED}`, reader: reader.token };
  for (const c of http) {
    const before = await dump();
    let outcome: string;
    try {
      const res = await rawHttp(httpUrl, c, httpTokens);
      const errors = z.object({ errors: z.array(z.string()) }).safeParse(JSON.parse(res.body));
      if (res.status !== c.status) outcome = `status ${res.status}: ${res.body.slice(0, 300)}`;
      else if (!errors.success) outcome = `not Vault's error shape: ${res.body.slice(0, 300)}`;
      else if (!c.message.test(errors.data.errors.join("; "))) outcome = `errors ${JSON.stringify(errors.data.errors).slice(0, 300)}`;
      else if (secrets.some((secret) => res.body.includes(secret))) outcome = "the answer carries a secret";
      else outcome = "ok";
    } catch (err) {
      outcome = `threw ${String(err)}`;
    }
    if (outcome !== "ok") failures.push(`HTTP ${c.name}: expected ${c.status} ${c.message}, got ${outcome}`);
    // The server still answers on both ports, and nothing stored changed.
    await root.mounts.list();
    const health = await fetch(`${httpUrl}/v1/sys/health`);
    if (health.status !== 200) failures.push(`HTTP ${c.name}: health then answered ${health.status}`);
    await health.text();
    if ((await dump()) !== before) failures.push(`HTTP ${c.name}: the store changed`);
  }
  assert.deepEqual(failures, [], `${failures.length} cases failed:\n${failures.join("\n")}`);

  // What was stored still reads back, and no log line or audit record holds a secret.
  assert.deepEqual((await root.read("secret/a")).data, { password: KV_SECRET });
  assert.equal((await root.leases.lookup(issued.lease.id)).state, 1);
  const audit = readFileSync(auditFile, "utf8");
  assert.ok(audit.split("\n").length > apiCases.length, "the audit device recorded the cases");
  const logs = server
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .join("\n");
  for (const s of secrets) {
    assert.ok(!audit.includes(s), "an audit record carries a secret value");
    assert.ok(!logs.includes(s), "a log line carries a secret value");
  }
  await root.leases.revoke(issued.lease.id);
});

test("a client certificate chain of 400 certificates: the handshake or the login fails, the server stays up", async (t) => {
  const dir = tempDir("hostile-chain");
  const ca = makeCa(dir, "ca");
  const server = issueServerCertificate(dir, ca);
  const svid = issueSvid(dir, ca, "svc", "spiffe://example.org/ns/a/sa/b");
  const chain = join(dir, "chain.pem");
  writeFileSync(chain, svid.pem + ca.pem.repeat(400));
  const lessor = await startServer({ args: [`-tls-cert-file=${server.cert}`, `-tls-key-file=${server.key}`, `-tls-client-ca-file=${ca.cert}`, "-tls-request-client-cert"] });
  const connect = (token: string, cert?: string) =>
    new LessorClient({ address: `https://${lessor.address}`, token, caCert: readFileSync(ca.cert), clientCert: cert === undefined ? undefined : readFileSync(cert), clientKey: cert === undefined ? undefined : readFileSync(svid.key), retry: { maxAttempts: 1 }, deadlineMs: 10_000 });
  const root = connect(lessor.rootToken ?? "");
  t.after(async () => {
    root.close();
    await lessor.stop();
  });
  await root.write("sys/auth/cert", { type: "cert" });
  await root.write("auth/cert/certs/svc", { certificate: ca.pem });
  const hostile = connect("", chain);
  const outcome = await hostile.login("cert", {}).then(
    () => "logged in",
    (err: unknown) => (err instanceof LessorClientError ? err.codeName : String(err)),
  );
  hostile.close();
  assert.ok(outcome === "UNAVAILABLE" || outcome === "logged in", outcome);
  // The server still serves, and a workload with a plain certificate still logs in.
  assert.deepEqual((await root.tokens.lookupSelf()).policies, ["root"]);
  const plain = connect("", svid.cert);
  assert.equal((await plain.login("cert", {})).info.meta.cert_name, "svc");
  plain.close();
});
