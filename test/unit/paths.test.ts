import { test } from "node:test";
import assert from "node:assert/strict";
import { compilePaths, matchPath } from "../../src/engines/framework/paths.js";
import type { PathSpec } from "../../src/engines/framework/types.js";
import { normalizeRequestPath } from "../../src/router/paths.js";
import { LessorError } from "../../src/errors.js";

const spec = (pattern: string): PathSpec => ({ pattern, fields: {}, operations: {}, synopsis: pattern });
const compiled = compilePaths([spec("config/root"), spec("roles/"), spec("roles/:name"), spec("files/*rest"), spec("*all?")]);

test("matches patterns and extracts parameters", () => {
  assert.equal(matchPath(compiled, "config/root")?.spec.pattern, "config/root");
  assert.equal(matchPath(compiled, "roles")?.spec.pattern, "roles/");
  assert.equal(matchPath(compiled, "roles/")?.spec.pattern, "roles/");
  assert.deepEqual(matchPath(compiled, "roles/deploy")?.params, { name: "deploy" });
  assert.deepEqual(matchPath(compiled, "files/a/b/c")?.params, { rest: "a/b/c" });
  assert.equal(matchPath(compiled, "roles/a/b")?.spec.pattern, "*all?");
  assert.deepEqual(matchPath(compiled, "")?.params, { all: "" });
});

test("regex characters in patterns are literal", () => {
  const c = compilePaths([spec("a.b/:x")]);
  assert.equal(matchPath(c, "aXb/1"), undefined);
  assert.ok(matchPath(c, "a.b/1"));
});

test("request paths are cleaned or refused with the reason", () => {
  assert.equal(normalizeRequestPath("/aws/creds/x"), "aws/creds/x");
  const reason = (p: string) => {
    try {
      normalizeRequestPath(p);
      return "accepted";
    } catch (err) {
      assert.ok(err instanceof LessorError);
      assert.equal(err.fieldViolations[0]?.field, "path");
      return err.fieldViolations[0]?.description ?? "";
    }
  };
  assert.match(reason(""), /empty/);
  assert.match(reason("aws//x"), /empty segment/);
  assert.match(reason("aws/../x"), /"\.\." segment/);
  assert.match(reason("aws/\u0000"), /control/);
  assert.match(reason("aws/\uFFFD"), /UTF-8/);
  assert.match(reason(`aws/${"a".repeat(300)}`), /segment longer/);
  assert.match(reason("a/".repeat(600)), /longer than 1024/);
});
