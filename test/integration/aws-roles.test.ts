// aws/roles/<name> through the generated client: every field stored and read
// back, the legacy fields upgraded, and every field's validation error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@lessor/client";
import { EC2_POLICY } from "../helpers/aws.js";
import { awsSetup, rejects } from "../helpers/aws-engine.js";

const ROLE_ARN = "arn:aws:iam::123456789012:role/deployer";
const POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const OWN_POLICY_ARN = "arn:aws:iam::123456789012:policy/team/boundary";
const MFA_ARN = "arn:aws:iam::123456789012:mfa/lessor-admin";

test("every field is stored and read back; updates change only what they give", async (t) => {
  const { client } = await awsSetup(t);
  await client.write("aws/roles/full", {
    credential_type: "iam_user",
    policy_document: EC2_POLICY,
    policy_arns: [POLICY_ARN],
    iam_groups: "developers,auditors",
    iam_tags: ["team=payments", "cost center=42"],
    user_path: "/lessor/",
    permissions_boundary_arn: OWN_POLICY_ARN,
    username_template: '{{ printf "app-%s-%s" (.PolicyName) (random 12) }}',
    consistency_wait: "10s",
  });
  const read = (await client.read("aws/roles/full")).data;
  assert.deepEqual(read, {
    credential_type: ["iam_user"],
    policy_document: JSON.stringify(JSON.parse(EC2_POLICY)),
    policy_arns: [POLICY_ARN],
    role_arns: [],
    iam_groups: ["developers", "auditors"],
    iam_tags: { team: "payments", "cost center": "42" },
    user_path: "/lessor/",
    permissions_boundary_arn: OWN_POLICY_ARN,
    default_sts_ttl: 0,
    max_sts_ttl: 0,
    session_tags: {},
    external_id: "",
    mfa_serial_number: "",
    username_template: '{{ printf "app-%s-%s" (.PolicyName) (random 12) }}',
    consistency_wait: 10,
  });

  await client.write("aws/roles/sts", {
    credential_type: "assumed_role,federation_token",
    role_arns: ROLE_ARN,
    policy_arns: POLICY_ARN,
    default_sts_ttl: "30m",
    max_sts_ttl: "2h",
    session_tags: { project: "lessor" },
    external_id: "partner-7",
    mfa_serial_number: MFA_ARN,
  });
  const sts = (await client.read("aws/roles/sts")).data;
  assert.deepEqual(sts.credential_type, ["assumed_role", "federation_token"]);
  assert.deepEqual(sts.role_arns, [ROLE_ARN]);
  assert.equal(sts.default_sts_ttl, 1800);
  assert.equal(sts.max_sts_ttl, 7200);
  assert.deepEqual(sts.session_tags, { project: "lessor" });
  assert.equal(sts.external_id, "partner-7");
  assert.equal(sts.mfa_serial_number, MFA_ARN);
  assert.equal(sts.user_path, "/");

  // A partial update keeps the rest; an empty value clears a field.
  await client.write("aws/roles/sts", { external_id: "" , default_sts_ttl: "1h" });
  const updated = (await client.read("aws/roles/sts")).data;
  assert.equal(updated.external_id, "");
  assert.equal(updated.default_sts_ttl, 3600);
  assert.deepEqual(updated.role_arns, [ROLE_ARN]);

  await client.write("aws/roles/session", { credential_type: "session_token", mfa_serial_number: "GAHT12345678" });
  assert.deepEqual((await client.read("aws/roles/session")).data.credential_type, ["session_token"]);
  assert.deepEqual(await client.list("aws/roles"), ["full", "session", "sts"]);
});

test("the legacy arn and policy fields are upgraded, with a warning", async (t) => {
  const { client } = await awsSetup(t);
  const byRole = await client.write("aws/roles/legacy-role", { arn: ROLE_ARN });
  assert.match(byRole.warnings.join("\n"), /field "arn" is deprecated: use role_arns/);
  const a = (await client.read("aws/roles/legacy-role")).data;
  assert.deepEqual([a.credential_type, a.role_arns], [["assumed_role"], [ROLE_ARN]]);

  await client.write("aws/roles/legacy-policy", { arn: POLICY_ARN });
  const b = (await client.read("aws/roles/legacy-policy")).data;
  assert.deepEqual([b.credential_type, b.policy_arns], [["iam_user"], [POLICY_ARN]]);

  const byDoc = await client.write("aws/roles/legacy-doc", { policy: EC2_POLICY });
  assert.match(byDoc.warnings.join("\n"), /field "policy" is deprecated: use policy_document/);
  assert.equal((await client.read("aws/roles/legacy-doc")).data.policy_document, JSON.stringify(JSON.parse(EC2_POLICY)));
});

interface BadCase {
  what: string;
  fields: Record<string, unknown>;
  field: string;
  message: RegExp;
}

const SESSION_ONLY = { credential_type: "session_token" };
const ASSUMED = { credential_type: "assumed_role", role_arns: ROLE_ARN };
const IAM_USER = { credential_type: "iam_user", policy_document: EC2_POLICY };

/** One or more cases for every field: shape, then combinations that make no sense for the credential type. */
const BAD: BadCase[] = [
  { what: "unknown type", fields: { credential_type: "root_user", policy_document: EC2_POLICY }, field: "credential_type", message: /"root_user" is not one of: iam_user, assumed_role, federation_token, session_token/ },
  { what: "empty type", fields: { credential_type: "", policy_document: EC2_POLICY }, field: "credential_type", message: /is required: one or more of/ },
  { what: "policy not JSON", fields: { policy_document: "{ not json" }, field: "policy_document", message: /is not valid JSON/ },
  { what: "policy version", fields: { policy_document: EC2_POLICY.replace("2012-10-17", "2023-11-12") }, field: "policy_document", message: /"2023-11-12".*use "2012-10-17"/ },
  { what: "legacy policy not JSON", fields: { policy: "nope" }, field: "policy", message: /is not valid JSON/ },
  { what: "both policies", fields: { policy: EC2_POLICY, policy_document: EC2_POLICY }, field: "policy", message: /not both/ },
  { what: "legacy arn of another kind", fields: { arn: "arn:aws:s3:::bucket" }, field: "arn", message: /neither an IAM role ARN .* nor a policy ARN/ },
  { what: "legacy arn with new fields", fields: { arn: ROLE_ARN, role_arns: ROLE_ARN }, field: "arn", message: /cannot be combined with role_arns/ },
  { what: "policy ARN account", fields: { ...IAM_USER, policy_arns: "arn:aws:iam::123:policy/x" }, field: "policy_arns", message: /is not an IAM policy ARN/ },
  { what: "policy ARN of a role", fields: { ...IAM_USER, policy_arns: [POLICY_ARN, ROLE_ARN] }, field: "policy_arns", message: /role\/deployer" is not an IAM policy ARN/ },
  { what: "policy ARNs with session_token", fields: { ...SESSION_ONLY, policy_arns: POLICY_ARN }, field: "policy_arns", message: /cannot be used with credential_type session_token/ },
  { what: "policy with session_token", fields: { ...SESSION_ONLY, policy_document: EC2_POLICY }, field: "policy_document", message: /cannot be used with credential_type session_token/ },
  { what: "role ARN of a user", fields: { credential_type: "assumed_role", role_arns: "arn:aws:iam::123456789012:user/bob" }, field: "role_arns", message: /is not an IAM role ARN/ },
  { what: "role_arns without assumed_role", fields: { ...IAM_USER, role_arns: ROLE_ARN }, field: "role_arns", message: /only applies to credential_type assumed_role, and this role's credential_type is iam_user/ },
  { what: "assumed_role without role_arns", fields: { credential_type: "assumed_role" }, field: "role_arns", message: /is required for credential_type assumed_role/ },
  { what: "group name", fields: { ...IAM_USER, iam_groups: "bad group!" }, field: "iam_groups", message: /is not an IAM group name/ },
  { what: "groups with session_token", fields: { ...SESSION_ONLY, iam_groups: "devs" }, field: "iam_groups", message: /only applies to credential_type iam_user or assumed_role or federation_token/ },
  { what: "tag reserved by AWS", fields: { ...IAM_USER, iam_tags: "aws:team=x" }, field: "iam_tags", message: /starts with "aws:"/ },
  { what: "tag reserved by Lessor", fields: { ...IAM_USER, iam_tags: "Lessor-Lease-Id=x" }, field: "iam_tags", message: /is reserved: Lessor sets it/ },
  { what: "tag characters", fields: { ...IAM_USER, iam_tags: { team: "a{b}" } }, field: "iam_tags", message: /characters AWS does not allow/ },
  { what: "tag not a pair", fields: { ...IAM_USER, iam_tags: "team" }, field: "iam_tags", message: /is not a key=value pair/ },
  { what: "tags without iam_user", fields: { ...ASSUMED, iam_tags: "team=x" }, field: "iam_tags", message: /only applies to credential_type iam_user/ },
  { what: "path shape", fields: { ...IAM_USER, user_path: "lessor" }, field: "user_path", message: /must be an IAM path/ },
  { what: "path without iam_user", fields: { ...ASSUMED, user_path: "/x/" }, field: "user_path", message: /only applies to credential_type iam_user/ },
  { what: "boundary of a role", fields: { ...IAM_USER, permissions_boundary_arn: ROLE_ARN }, field: "permissions_boundary_arn", message: /is not an IAM policy ARN/ },
  { what: "boundary without iam_user", fields: { credential_type: "federation_token", policy_document: EC2_POLICY, permissions_boundary_arn: POLICY_ARN }, field: "permissions_boundary_arn", message: /only applies to credential_type iam_user/ },
  { what: "default STS TTL too short", fields: { ...ASSUMED, default_sts_ttl: "10m" }, field: "default_sts_ttl", message: /at least 15m/ },
  { what: "default STS TTL for iam_user", fields: { ...IAM_USER, default_sts_ttl: "1h" }, field: "default_sts_ttl", message: /only applies to credential_type assumed_role or federation_token or session_token/ },
  { what: "default above max", fields: { ...ASSUMED, default_sts_ttl: "2h", max_sts_ttl: "1h" }, field: "default_sts_ttl", message: /\(2h\) must not be longer than max_sts_ttl \(1h\)/ },
  { what: "max STS TTL too long", fields: { ...ASSUMED, max_sts_ttl: "40h" }, field: "max_sts_ttl", message: /at most 36h/ },
  { what: "max STS TTL not a duration", fields: { ...ASSUMED, max_sts_ttl: "soon" }, field: "max_sts_ttl", message: /"soon" is not a duration/ },
  { what: "max STS TTL for iam_user", fields: { ...IAM_USER, max_sts_ttl: "1h" }, field: "max_sts_ttl", message: /only applies to credential_type assumed_role/ },
  { what: "session tag characters", fields: { ...ASSUMED, session_tags: { "a<b": "x" } }, field: "session_tags", message: /characters AWS does not allow/ },
  { what: "session tags without assumed_role", fields: { ...IAM_USER, session_tags: "a=b" }, field: "session_tags", message: /only applies to credential_type assumed_role/ },
  { what: "external id shape", fields: { ...ASSUMED, external_id: "x" }, field: "external_id", message: /must be 2 to 1224/ },
  { what: "external id without assumed_role", fields: { ...IAM_USER, external_id: "partner" }, field: "external_id", message: /only applies to credential_type assumed_role/ },
  { what: "MFA serial shape", fields: { ...SESSION_ONLY, mfa_serial_number: "short" }, field: "mfa_serial_number", message: /neither an MFA device ARN/ },
  { what: "MFA ARN shape", fields: { ...SESSION_ONLY, mfa_serial_number: "arn:aws:iam::123456789012:user/x" }, field: "mfa_serial_number", message: /neither an MFA device ARN/ },
  { what: "MFA for iam_user", fields: { ...IAM_USER, mfa_serial_number: MFA_ARN }, field: "mfa_serial_number", message: /only applies to credential_type session_token or assumed_role/ },
  { what: "template syntax", fields: { ...IAM_USER, username_template: "{{ nosuch }}" }, field: "username_template", message: /is not a valid template: function "nosuch" not defined/ },
  { what: "template without randomness", fields: { ...IAM_USER, username_template: "{{ .DisplayName }}" }, field: "username_template", message: /renders the same name twice/ },
  { what: "template too long", fields: { ...IAM_USER, username_template: "{{ random 70 }}" }, field: "username_template", message: /AWS allows 1 to 64/ },
  { what: "template for federation too long", fields: { credential_type: "federation_token", policy_document: EC2_POLICY, username_template: "{{ random 40 }}" }, field: "username_template", message: /AWS allows 2 to 32/ },
  { what: "template for session_token", fields: { ...SESSION_ONLY, username_template: "{{ random 20 }}" }, field: "username_template", message: /is not used by credential_type session_token/ },
  { what: "consistency wait too long", fields: { ...IAM_USER, consistency_wait: "2m" }, field: "consistency_wait", message: /at most 60s/ },
  { what: "consistency wait without iam_user", fields: { ...ASSUMED, consistency_wait: "5s" }, field: "consistency_wait", message: /only applies to credential_type iam_user/ },
  { what: "iam_user without any policy", fields: { credential_type: "iam_user" }, field: "policy_document", message: /is required for credential_type iam_user/ },
  { what: "federation without any policy", fields: { credential_type: "federation_token" }, field: "policy_document", message: /is required for credential_type federation_token .*all of Lessor's own permissions/ },
];

test("every field's validation error names the field and says what is wrong", async (t) => {
  const { client } = await awsSetup(t);
  for (const [i, c] of BAD.entries()) {
    const name = `bad-${i}`;
    const err = await rejects(client.write(`aws/roles/${name}`, c.fields), Code.INVALID_ARGUMENT, c.message).catch((e: unknown) => {
      throw new Error(`case "${c.what}": ${(e as Error).message}`);
    });
    assert.ok(
      err.fieldViolations.some((v) => v.field === c.field && c.message.test(v.description)),
      `case "${c.what}": expected a violation of ${c.field}, got ${JSON.stringify(err.fieldViolations)}`,
    );
    await rejects(client.read(`aws/roles/${name}`), Code.NOT_FOUND, /not found/);
  }
  // A bad update leaves the stored role as it was.
  await client.write("aws/roles/kept", { ...ASSUMED });
  await rejects(client.write("aws/roles/kept", { credential_type: "iam_user" }), Code.INVALID_ARGUMENT, /role_arns: only applies/);
  assert.deepEqual((await client.read("aws/roles/kept")).data.credential_type, ["assumed_role"]);
});
