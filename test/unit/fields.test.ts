import { test } from "node:test";
import assert from "node:assert/strict";
import { validateFields } from "../../src/engines/framework/fields.js";
import type { FieldSpecs } from "../../src/engines/framework/types.js";

const specs: FieldSpecs = {
  name: { type: "string", description: "", required: true },
  count: { type: "int", description: "" },
  on: { type: "bool", description: "" },
  ttl: { type: "duration", description: "", default: 60 },
  tags: { type: "map", description: "" },
  groups: { type: "list", description: "", allowed: ["a", "b"] },
  doc: { type: "json", description: "" },
  old: { type: "string", description: "", deprecated: "use name" },
};

function ok(input: Record<string, unknown>) {
  const r = validateFields(specs, input, true);
  if ("violations" in r) assert.fail(JSON.stringify(r.violations));
  return r.ok;
}

function violations(input: Record<string, unknown>, requireRequired = true) {
  const r = validateFields(specs, input, requireRequired);
  assert.ok("violations" in r, "expected violations");
  return r.violations;
}

test("coerces CLI strings and JSON values to the declared types", () => {
  const r = ok({ name: "x", count: "12", on: "true", ttl: "1h", tags: "team=a,env=prod", groups: "a, b", doc: '{"k":[1]}' });
  assert.deepEqual(r.values, {
    name: "x",
    count: 12,
    on: true,
    ttl: 3600,
    tags: { team: "a", env: "prod" },
    groups: ["a", "b"],
    doc: { k: [1] },
    old: undefined,
  });
  assert.deepEqual([...r.provided].sort(), ["count", "doc", "groups", "name", "on", "tags", "ttl"]);
  const json = ok({ name: "x", count: 3, on: false, tags: { a: 1 }, groups: ["b"] });
  assert.equal(json.values.count, 3);
  assert.deepEqual(json.values.tags, { a: "1" });
});

test("applies defaults only to fields that were not sent", () => {
  assert.equal(ok({ name: "x" }).values.ttl, 60);
  assert.ok(!ok({ name: "x" }).provided.has("ttl"));
});

test("names every bad field and says what is wrong", () => {
  const v = violations({ name: "x", count: "twelve", on: "maybe", ttl: "soon", tags: "novalue", groups: "c", doc: "{", extra: 1 });
  const byField = Object.fromEntries(v.map((x) => [x.field, x.description]));
  assert.match(byField.count ?? "", /whole number/);
  assert.match(byField.on ?? "", /true or false/);
  assert.match(byField.ttl ?? "", /duration/);
  assert.match(byField.tags ?? "", /key=value/);
  assert.match(byField.groups ?? "", /not one of: a, b/);
  assert.match(byField.doc ?? "", /not valid JSON/);
  assert.match(byField.extra ?? "", /unknown field; this path takes: name, count/);
});

test("required fields are enforced on writes only", () => {
  assert.deepEqual(violations({}), [{ field: "name", description: "is required" }]);
  assert.ok("ok" in validateFields(specs, {}, false));
});

test("deprecated fields are accepted with a warning", () => {
  assert.deepEqual(ok({ name: "x", old: "y" }).warnings, ['field "old" is deprecated: use name']);
});

test("free-form paths accept any field", () => {
  assert.ok("ok" in validateFields({}, { anything: "x" }, true, true));
  assert.ok("violations" in validateFields({}, { anything: "x" }, true, false));
});

test("limits nesting and size", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 40; i++) deep = [deep];
  assert.match(violations({ name: "x", doc: deep })[0]?.description ?? "", /nested deeper/);
  assert.match(violations({ name: "x".repeat(70_000) })[0]?.description ?? "", /longer than/);
});
