// Policies in Vault's language and Vault's matching rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Acl, type Capability } from "../../src/auth/acl.js";
import { parsePolicy } from "../../src/auth/policy.js";
import { LessorError } from "../../src/errors.js";

function aclWith(policies: Record<string, string>): Acl {
  const acl = new Acl();
  for (const [name, text] of Object.entries(policies)) acl.setPolicy(name, parsePolicy(text));
  return acl;
}

function allowed(acl: Acl, policies: string[], path: string, cap: Capability): boolean {
  try {
    acl.check({ policies }, path, cap);
    return true;
  } catch (err) {
    assert.ok(err instanceof LessorError && err.code === 7, String(err));
    return false;
  }
}

test("HCL and JSON policies parse to the same rules", () => {
  const hcl = parsePolicy(`
    # a comment
    // another
    /* and a block
       comment */
    path "aws/creds/*" {
      capabilities = ["read", "list"]
    }
    path "secret/+/db" { capabilities = ["read"], }
    path "sys/old" { policy = "write" }
  `);
  const json = parsePolicy(
    JSON.stringify({ path: { "aws/creds/*": { capabilities: ["read", "list"] }, "secret/+/db": { capabilities: ["read"] }, "sys/old": { policy: "write" } } }),
  );
  assert.deepEqual(hcl, json);
  assert.deepEqual(hcl.map((r) => r.path), ["aws/creds/*", "secret/+/db", "sys/old"]);
});

test("exact beats glob; the most specific glob wins; + matches one segment", () => {
  const acl = aclWith({
    p: `
      path "secret/*"          { capabilities = ["read"] }
      path "secret/foo*"       { capabilities = ["list"] }
      path "secret/foo/bar"    { capabilities = ["update"] }
      path "secret/+/baz"      { capabilities = ["delete"] }
      path "secret/team/+/db"  { capabilities = ["create"] }
    `,
  });
  assert.equal(allowed(acl, ["p"], "secret/foo/bar", "update"), true);
  assert.equal(allowed(acl, ["p"], "secret/foo/bar", "read"), false, "the exact rule is the only one that counts");
  assert.equal(allowed(acl, ["p"], "secret/foo/x", "list"), true);
  assert.equal(allowed(acl, ["p"], "secret/foo/x", "read"), false, "secret/foo* is more specific than secret/*");
  assert.equal(allowed(acl, ["p"], "secret/other", "read"), true);
  assert.equal(allowed(acl, ["p"], "secret/a/baz", "delete"), true);
  assert.equal(allowed(acl, ["p"], "secret/a/b/baz", "delete"), false, "+ is exactly one segment");
  assert.equal(allowed(acl, ["p"], "secret/team/x/db", "create"), true);
  assert.equal(allowed(acl, ["p"], "other/x", "read"), false);
});

test("Vault's priority order: later wildcard, then no trailing *, then fewer +, then longer", () => {
  const acl = aclWith({
    a: `path "kv/+/x/*" { capabilities = ["read"] }
        path "kv/a/+/*" { capabilities = ["list"] }`,
    b: `path "kv/a/x" { capabilities = ["update"] }
        path "kv/a/x*" { capabilities = ["delete"] }`,
  });
  // kv/a/+/* has its first wildcard later than kv/+/x/*.
  assert.equal(allowed(acl, ["a"], "kv/a/x/y", "list"), true);
  assert.equal(allowed(acl, ["a"], "kv/a/x/y", "read"), false);
  assert.equal(allowed(acl, ["b"], "kv/a/xyz", "delete"), true);
  assert.equal(allowed(acl, ["b"], "kv/a/x", "update"), true);
});

test("the same pattern in two policies merges; deny on it wins", () => {
  const acl = aclWith({
    readers: `path "secret/*" { capabilities = ["read"] }`,
    writers: `path "secret/*" { capabilities = ["update"] }`,
    blocker: `path "secret/*" { capabilities = ["deny"] }`,
  });
  assert.equal(allowed(acl, ["readers", "writers"], "secret/x", "read"), true);
  assert.equal(allowed(acl, ["readers", "writers"], "secret/x", "update"), true);
  assert.equal(allowed(acl, ["readers", "writers", "blocker"], "secret/x", "read"), false);
  assert.deepEqual(acl.capabilities({ policies: ["readers", "writers"] }, "secret/x"), ["read", "update"]);
  assert.deepEqual(acl.capabilities({ policies: ["readers", "blocker"] }, "secret/x"), ["deny"]);
});

test("a denial names the path and the missing capability; sudo is separate", () => {
  const acl = aclWith({ ops: `path "sys/mounts/*" { capabilities = ["update"] }` });
  acl.check({ policies: ["ops"] }, "sys/mounts/aws/", "update");
  assert.throws(
    () => acl.check({ policies: ["ops"] }, "sys/mounts/aws/", "sudo"),
    (err: unknown) =>
      err instanceof LessorError &&
      err.message === 'permission denied: "sudo" on path "sys/mounts/aws/" is not granted by policies [ops]' &&
      err.metadata.capability === "sudo" &&
      err.metadata.path === "sys/mounts/aws/",
  );
  acl.check({ policies: ["root"] }, "anything/at/all", "sudo");
});

test("changing a policy takes effect at once (the compiled cache is dropped)", () => {
  const acl = aclWith({ p: `path "a/*" { capabilities = ["read"] }` });
  assert.equal(allowed(acl, ["p"], "a/b", "read"), true);
  acl.setPolicy("p", parsePolicy(`path "a/*" { capabilities = ["deny"] }`));
  assert.equal(allowed(acl, ["p"], "a/b", "read"), false);
  acl.removePolicy("p");
  assert.equal(allowed(acl, ["p"], "a/b", "read"), false);
});

test("bad policies are refused with the line, the path and what is wrong", () => {
  const cases: Array<[string, RegExp]> = [
    [`path "a/*" { capabilities = ["read", "fly"] }`, /unknown capability "fly"; use create, read, update, delete, list, sudo, deny/],
    [`path "a/*" {\n  capabilities = ["read"\n`, /not valid HCL: line 3, column 1: expected "," or "]"/],
    [`path "a/*" { capabilites = ["read"] }`, /path "a\/\*" \(line 1\): unknown key "capabilites"/],
    [`path "a/*/b" { capabilities = ["read"] }`, /"\*" is a glob only at the end of a path/],
    [`path "a" { }`, /path "a" \(line 1\) has no capabilities/],
    [`pth "a" { capabilities = ["read"] }`, /unknown key "pth"/],
    [`{"path": {"a": {"capabilities": ["read"]}}`, /not valid JSON/],
    [`{"path": {"a": {"capabilities": [1]}}}`, /capabilities must be strings/],
    ["", /is empty/],
    [`path "a" { capabilities = ` + "[".repeat(100) + "]".repeat(100) + " }", /nested deeper than 16 levels/],
    [`path "a" { policy = "admin" }`, /policy must be one of deny, read, write, sudo/],
    [`path "a\u0001" { capabilities = ["read"] }`, /unexpected character|control characters/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(
      () => parsePolicy(text),
      (err: unknown) => err instanceof LessorError && err.code === 3 && expected.test(err.message) && err.metadata.field === "policy",
      `${JSON.stringify(text.slice(0, 60))} should fail with ${expected}`,
    );
  }
});

test("templated paths are filled from the token: one policy serves every service, and a missing or unsafe value matches nothing", () => {
  const acl = aclWith({ svc: `path "secret/{{token.metadata.namespace}}/*" { capabilities = ["read"] }\npath "secret/users/{{ token.display_name }}" { capabilities = ["read"] }` });
  const payments = { policies: ["svc"], metadata: { namespace: "payments" }, displayName: "jwt-payments" };
  assert.equal(acl.allows(payments, "secret/payments/db", "read"), true);
  assert.equal(acl.allows(payments, "secret/orders/db", "read"), false, "another service's path");
  assert.equal(acl.allows(payments, "secret/users/jwt-payments", "read"), true);
  const orders = { policies: ["svc"], metadata: { namespace: "orders" }, displayName: "jwt-orders" };
  assert.equal(acl.allows(orders, "secret/orders/db", "read"), true, "the same policy, compiled for this token");
  assert.equal(acl.allows(orders, "secret/payments/db", "read"), false);
  assert.equal(acl.allows({ policies: ["svc"] }, "secret/db", "read"), false, "no metadata: the rule matches nothing");
  for (const namespace of ["*", "a/b", "+", "..", ""]) {
    assert.equal(acl.allows({ policies: ["svc"], metadata: { namespace } }, `secret/${namespace}/x`, "read"), false, `value ${JSON.stringify(namespace)}`);
    assert.equal(acl.allows({ policies: ["svc"], metadata: { namespace } }, "secret/anything/x", "read"), false);
  }
  assert.throws(() => parsePolicy(`path "secret/{{identity.entity.id}}/*" { capabilities = ["read"] }`), /the only templates are \{\{token.metadata.<key>\}\} and \{\{token.display_name\}\}/);
});
