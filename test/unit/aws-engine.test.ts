import { test } from "node:test";
import assert from "node:assert/strict";
import { checkPolicyDocument } from "../../src/engines/aws/policy-document.js";
import { defaultUsername } from "../../src/engines/aws/usernames.js";

const doc = (o: unknown) => JSON.stringify(o);
const statement = { Effect: "Allow", Action: ["ec2:*"], Resource: ["*"] };

test("accepts IAM policy documents AWS would accept", () => {
  assert.equal(checkPolicyDocument(doc({ Version: "2012-10-17", Statement: [statement] })), undefined);
  assert.equal(checkPolicyDocument(doc({ Version: "2008-10-17", Statement: statement })), undefined);
});

test("refuses documents AWS would reject, saying what to change", () => {
  assert.match(checkPolicyDocument("{not json") ?? "", /not valid JSON/);
  assert.match(checkPolicyDocument(doc({ Version: "2023-11-12", Statement: [statement] })) ?? "", /"2023-11-12".*use "2012-10-17"/);
  assert.match(checkPolicyDocument(doc({ Statement: [statement] })) ?? "", /no "Version"/);
  assert.match(checkPolicyDocument(doc({ Version: "2012-10-17", Statement: [] })) ?? "", /no "Statement"/);
  assert.match(checkPolicyDocument(doc({ Version: "2012-10-17", Statement: [{ Effect: "Maybe", Action: "*" }] })) ?? "", /Effect/);
  assert.match(checkPolicyDocument(doc({ Version: "2012-10-17", Statement: [{ Effect: "Allow" }] })) ?? "", /Action/);
  assert.match(checkPolicyDocument("[1]") ?? "", /JSON object/);
});

test("user names fit IAM's limits and keep their unique suffix", () => {
  const now = 1_795_000_000_000;
  const a = defaultUsername("root", "my-role", now);
  assert.match(a, /^lessor-root-my-role-1795000000-[a-z0-9]{10}$/);
  const long = defaultUsername("d".repeat(200), "r".repeat(200), now);
  assert.ok(long.length <= 64, `${long.length} > 64`);
  assert.match(long, /-1795000000-[a-z0-9]{10}$/);
  assert.match(defaultUsername("weird name/with:chars", "role", now), /^[\w+=,.@-]+$/);
  assert.notEqual(defaultUsername("root", "x", now), defaultUsername("root", "x", now));
});
