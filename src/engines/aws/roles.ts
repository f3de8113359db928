// aws/roles/:name: what a credential for a role may do. A role maps a name
// callers ask for to the kind of AWS credential (an IAM user, or STS
// credentials from AssumeRole, GetFederationToken or GetSessionToken) and the
// policies, groups, tags and limits it is made with. Field names and meanings
// are Vault's; every field is checked when the role is written, alone and in
// combination with the credential types, so a mistake is reported by field
// then, not as an AWS error at the first creds read.
import { z } from "zod";
import { LessorError, type FieldViolation } from "../../errors.js";
import { formatDuration } from "../../util/duration.js";
import { definePath, type FieldSpecs, type FieldValue, type JsonObject, type PathSpec } from "../framework/types.js";
import {
  checkMfaSerial,
  checkPolicyArn,
  checkRoleArn,
  checkTags,
  EXTERNAL_ID,
  GROUP_NAME,
  IAM_PATH,
  POLICY_ARN,
  ROLE_ARN,
} from "./arns.js";
import type { AwsBackend } from "./backend.js";
import { LESSOR_TAGS } from "./iam-user.js";
import { checkPolicyDocument, compactPolicy } from "./policy-document.js";
import { checkTemplate, type NameKind } from "./usernames.js";

export const CREDENTIAL_TYPES = ["iam_user", "assumed_role", "federation_token", "session_token"] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];
export const STS_TYPES: readonly CredentialType[] = ["assumed_role", "federation_token", "session_token"];

/** AWS's bounds on STS credential lifetimes. */
export const STS_MIN_SECONDS = 900;
export const STS_MAX_SECONDS: Record<Exclude<CredentialType, "iam_user">, number> = {
  assumed_role: 43_200,
  federation_token: 129_600,
  session_token: 129_600,
};
/** Upper bound on consistency_wait: well inside the time after which an unfinished issuance is rolled back. */
export const MAX_CONSISTENCY_WAIT_SECONDS = 60;
/** IAM allows 50 tags per user; Lessor sets two of its own. */
const MAX_IAM_TAGS = 50 - LESSOR_TAGS.length;
const MAX_SESSION_TAGS = 50;

/** A role as stored. Roles written by earlier versions lack the newer fields: they read as their defaults. */
const roleEntrySchema = z.object({
  credential_type: z.array(z.enum(CREDENTIAL_TYPES)).default([]),
  /** Compact JSON, or "" for none. */
  policy_document: z.string().default(""),
  policy_arns: z.array(z.string()).default([]),
  role_arns: z.array(z.string()).default([]),
  iam_groups: z.array(z.string()).default([]),
  iam_tags: z.record(z.string(), z.string()).default({}),
  user_path: z.string().default("/"),
  permissions_boundary_arn: z.string().default(""),
  /** Seconds; 0: not set. */
  default_sts_ttl: z.number().default(0),
  max_sts_ttl: z.number().default(0),
  session_tags: z.record(z.string(), z.string()).default({}),
  external_id: z.string().default(""),
  mfa_serial_number: z.string().default(""),
  username_template: z.string().default(""),
  /** Seconds to wait for a new IAM key to work; 0: return at once. */
  consistency_wait: z.number().default(0),
});

export type RoleEntry = z.infer<typeof roleEntrySchema>;

const EMPTY_ROLE: RoleEntry = roleEntrySchema.parse({});

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

export async function loadRole(backend: AwsBackend, name: string): Promise<RoleEntry | undefined> {
  const stored = await backend.storage.get(`role/${name}`);
  return stored === undefined ? undefined : roleEntrySchema.parse(stored);
}

function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name)) {
    throw LessorError.invalidField("name", "role names are 1 to 64 characters from letters, digits and +=,.@_-");
  }
}

const each =
  (check: (item: string) => string | undefined) =>
  (v: FieldValue): string | undefined => {
    for (const item of v as string[]) {
      const problem = check(item);
      if (problem) return problem;
    }
    return undefined;
  };

const policyCheck = (v: FieldValue) => (v === "" ? undefined : checkPolicyDocument(v as string));

const stsTtlCheck = (v: FieldValue) => {
  const s = v as number;
  if (s === 0) return undefined;
  if (s < STS_MIN_SECONDS) return `must be at least 15m (${STS_MIN_SECONDS} seconds), the shortest STS credentials AWS issues; 0 unsets it`;
  if (s > STS_MAX_SECONDS.federation_token) return `must be at most 36h (${STS_MAX_SECONDS.federation_token} seconds), the longest STS credentials AWS issues`;
  return undefined;
};

export const ROLE_FIELDS = {
  credential_type: {
    type: "list",
    allowed: CREDENTIAL_TYPES,
    description:
      "Kinds of credential the role issues: iam_user (an IAM user with an access key), assumed_role (sts:AssumeRole), federation_token (sts:GetFederationToken), session_token (sts:GetSessionToken). Several may be given; a creds read then picks one with credential_type. Default for a new role: iam_user.",
  },
  policy_document: {
    type: "string",
    description:
      'IAM policy document (JSON; "Version" 2012-10-17). iam_user: put inline on each user. assumed_role, federation_token: passed as the session policy, limiting what the credentials can do.',
    check: policyCheck,
  },
  policy_arns: {
    type: "list",
    description:
      "ARNs of managed IAM policies. iam_user: attached to each user. assumed_role, federation_token: passed as session policy ARNs.",
    check: each(checkPolicyArn),
  },
  role_arns: {
    type: "list",
    description: "ARNs of the IAM roles assumed_role credentials may assume; a creds request picks one with role_arn when there are several.",
    check: each(checkRoleArn),
  },
  iam_groups: {
    type: "list",
    description:
      "IAM groups. iam_user: each user is added to them. assumed_role, federation_token: their inline and managed policies join the session policies.",
    check: each((g) => (GROUP_NAME.test(g) ? undefined : `"${g.slice(0, 130)}" is not an IAM group name (1 to 128 of letters, digits and +=,.@_-)`)),
  },
  iam_tags: {
    type: "map",
    description: `Tags for each IAM user (key=value pairs; at most ${MAX_IAM_TAGS}). iam_user only.`,
    check: (v) => checkTags(v as Record<string, string>, MAX_IAM_TAGS, LESSOR_TAGS),
  },
  user_path: {
    type: "string",
    description: 'IAM path for each user, such as "/lessor/"; default "/". iam_user only.',
    check: (v) =>
      v === "" || (IAM_PATH.test(v as string) && (v as string).length <= 512)
        ? undefined
        : 'must be an IAM path: "/" or "/" + printable characters + "/", at most 512 characters (e.g. /lessor/)',
  },
  permissions_boundary_arn: {
    type: "string",
    description: "ARN of a managed policy set as each user's permissions boundary. iam_user only.",
    check: (v) => (v === "" ? undefined : checkPolicyArn(v as string)),
  },
  default_sts_ttl: {
    type: "duration",
    description: "Lifetime of STS credentials when the request gives no ttl; default 1h. STS types only.",
    check: stsTtlCheck,
  },
  max_sts_ttl: {
    type: "duration",
    description: "Longest lifetime of STS credentials; longer requests are shortened to it. Default: the mount's max lease TTL. STS types only.",
    check: stsTtlCheck,
  },
  session_tags: {
    type: "map",
    description: `Session tags passed to AssumeRole (key=value pairs; at most ${MAX_SESSION_TAGS}). assumed_role only.`,
    check: (v) => checkTags(v as Record<string, string>, MAX_SESSION_TAGS, []),
  },
  external_id: {
    type: "string",
    description: "ExternalId passed to AssumeRole. assumed_role only.",
    check: (v) => (v === "" || EXTERNAL_ID.test(v as string) ? undefined : "must be 2 to 1224 of letters, digits and +=,.@:/_-"),
  },
  mfa_serial_number: {
    type: "string",
    description:
      "Serial number or ARN of the MFA device of the configured AWS user; creds requests must then give mfa_code. session_token and assumed_role only.",
    check: (v) => (v === "" ? undefined : checkMfaSerial(v as string)),
  },
  username_template: {
    type: "string",
    description:
      'Template for the names of IAM users, role sessions and federated users, in Vault\'s syntax, e.g. {{ printf "app-%s-%s" (.PolicyName) (random 20) | truncate 64 }}. Overrides username_template in config/root. Fields: .DisplayName, .PolicyName (the role), .Type ("IAM" or "STS").',
  },
  consistency_wait: {
    type: "duration",
    description: `Lessor-only: after making an IAM user's key, wait up to this long (at most ${MAX_CONSISTENCY_WAIT_SECONDS}s) until AWS accepts it (sts:GetCallerIdentity), so the key works at once. 0 (the default): return at once. iam_user only.`,
    check: (v) => ((v as number) > MAX_CONSISTENCY_WAIT_SECONDS ? `must be at most ${MAX_CONSISTENCY_WAIT_SECONDS}s` : undefined),
  },
  policy: {
    type: "string",
    description: "Old name of policy_document.",
    deprecated: "use policy_document; the value was stored as policy_document",
    check: policyCheck,
  },
  arn: {
    type: "string",
    description: "Old way to name a role to assume or a managed policy to attach: use role_arns or policy_arns.",
    deprecated: "use role_arns (credential_type=assumed_role) or policy_arns (credential_type=iam_user); the value was stored as one of them",
    check: (v) =>
      ROLE_ARN.test(v as string) || POLICY_ARN.test(v as string)
        ? undefined
        : `"${(v as string).slice(0, 120)}" is neither an IAM role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME) nor a policy ARN (arn:aws:iam::ACCOUNT_ID:policy/NAME)`,
  },
} satisfies FieldSpecs;

type RoleFieldName = keyof typeof ROLE_FIELDS;
/** The fields stored as given (everything but the legacy ones). */
const STORED_FIELDS = Object.keys(roleEntrySchema.shape).filter((k): k is keyof RoleEntry & RoleFieldName => k in ROLE_FIELDS);

/** The kinds of name a role's username_template will make. */
export function nameKinds(types: readonly CredentialType[]): NameKind[] {
  const kinds: NameKind[] = [];
  if (types.includes("iam_user")) kinds.push("iam_user");
  if (types.includes("assumed_role")) kinds.push("session");
  if (types.includes("federation_token")) kinds.push("federation");
  return kinds;
}

/** Everything wrong with a role as a whole: fields that do not fit its credential types. */
export function validateRole(role: RoleEntry, roleName: string): FieldViolation[] {
  const v: FieldViolation[] = [];
  const types = role.credential_type;
  const has = (t: CredentialType) => types.includes(t);
  const hasSts = types.some((t) => STS_TYPES.includes(t));
  const typeList = types.join(",");
  const onlyFor = (field: RoleFieldName, set: boolean, allowed: readonly CredentialType[], clear: string) => {
    if (set && !allowed.some(has)) {
      v.push({
        field,
        description: `only applies to credential_type ${allowed.join(" or ")}, and this role's credential_type is ${typeList}; remove it (${field}=${clear})`,
      });
    }
  };

  if (types.length === 0) v.push({ field: "credential_type", description: `is required: one or more of ${CREDENTIAL_TYPES.join(", ")}` });
  onlyFor("role_arns", role.role_arns.length > 0, ["assumed_role"], '""');
  onlyFor("iam_tags", Object.keys(role.iam_tags).length > 0, ["iam_user"], '""');
  onlyFor("user_path", role.user_path !== "/", ["iam_user"], "/");
  onlyFor("permissions_boundary_arn", role.permissions_boundary_arn !== "", ["iam_user"], '""');
  onlyFor("consistency_wait", role.consistency_wait > 0, ["iam_user"], "0");
  onlyFor("default_sts_ttl", role.default_sts_ttl > 0, STS_TYPES, "0");
  onlyFor("max_sts_ttl", role.max_sts_ttl > 0, STS_TYPES, "0");
  onlyFor("session_tags", Object.keys(role.session_tags).length > 0, ["assumed_role"], '""');
  onlyFor("external_id", role.external_id !== "", ["assumed_role"], '""');
  onlyFor("mfa_serial_number", role.mfa_serial_number !== "", ["session_token", "assumed_role"], '""');
  onlyFor("iam_groups", role.iam_groups.length > 0, ["iam_user", "assumed_role", "federation_token"], '""');

  if (has("session_token")) {
    // GetSessionToken takes no policies: the credentials have the configured user's own permissions.
    for (const field of ["policy_document", "policy_arns"] as const) {
      if (role[field].length > 0) {
        v.push({ field, description: "cannot be used with credential_type session_token (GetSessionToken takes no policy); remove it or session_token" });
      }
    }
  }
  if (has("assumed_role") && role.role_arns.length === 0) {
    v.push({ field: "role_arns", description: "is required for credential_type assumed_role: the ARNs of the IAM roles it may assume" });
  }
  const hasPolicy = role.policy_document !== "" || role.policy_arns.length > 0 || role.iam_groups.length > 0;
  for (const t of ["iam_user", "federation_token"] as const) {
    if (has(t) && !hasPolicy) {
      v.push({
        field: "policy_document",
        description:
          t === "iam_user"
            ? "is required for credential_type iam_user (or policy_arns, or iam_groups): the permissions its users get"
            : "is required for credential_type federation_token (or policy_arns, or iam_groups): without one, GetFederationToken would return credentials with all of Lessor's own permissions",
      });
      break;
    }
  }
  if (hasSts && role.default_sts_ttl > 0 && role.max_sts_ttl > 0 && role.default_sts_ttl > role.max_sts_ttl) {
    v.push({
      field: "default_sts_ttl",
      description: `(${formatDuration(role.default_sts_ttl)}) must not be longer than max_sts_ttl (${formatDuration(role.max_sts_ttl)})`,
    });
  }
  if (role.username_template !== "") {
    const kinds = nameKinds(types);
    if (kinds.length === 0) {
      v.push({ field: "username_template", description: "is not used by credential_type session_token, which names nothing; remove it" });
    } else {
      const problem = checkTemplate(role.username_template, kinds, roleName);
      if (problem) v.push({ field: "username_template", description: problem });
    }
  }
  return v;
}

/** The role as read: every field, durations in seconds, as Vault returns them. */
function roleData(role: RoleEntry): JsonObject {
  return { ...role, credential_type: [...role.credential_type] };
}

export function rolePath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "roles/:name",
    synopsis: "Manage the roles credentials can be issued for.",
    description:
      "A role says what kind of AWS credential to issue and with which policies, groups, tags and limits. Read creds/<name> (any type) or sts/<name> (STS types) to get credentials for it. Writing updates only the fields given; give an empty value to clear one.",
    fields: ROLE_FIELDS,
    async exists(params) {
      return (await loadRole(backend, params.name)) !== undefined;
    },
    operations: {
      async read(req) {
        const role = await loadRole(backend, req.params.name);
        if (!role) throw roleNotFound(backend, req.params.name);
        return { data: roleData(role) };
      },
      async write(req) {
        const name = req.params.name;
        checkRoleName(name);
        const f = req.fields;
        const given = (field: RoleFieldName) => req.provided.has(field);
        if (given("policy_document") && given("policy")) {
          throw LessorError.invalidField("policy", "give policy_document or the deprecated policy, not both");
        }
        if (given("arn")) {
          const clash = (["credential_type", "role_arns", "policy_arns", "policy_document", "policy"] as const).filter(given);
          if (clash.length > 0) {
            throw LessorError.invalidField("arn", `the deprecated arn cannot be combined with ${clash.join(", ")}; use role_arns or policy_arns instead`);
          }
        }
        const existing = await loadRole(backend, name);
        const updates: Record<string, unknown> = {};
        for (const field of STORED_FIELDS) if (given(field)) updates[field] = f[field];
        const role: RoleEntry = roleEntrySchema.parse({ ...EMPTY_ROLE, ...existing, ...updates });
        if (given("policy")) role.policy_document = f.policy ?? "";
        if (given("arn") && f.arn !== undefined) {
          if (ROLE_ARN.test(f.arn)) {
            role.credential_type = ["assumed_role"];
            role.role_arns = [f.arn];
          } else {
            role.credential_type = ["iam_user"];
            role.policy_arns = [f.arn];
          }
        }
        if (role.user_path === "") role.user_path = "/";
        if (role.policy_document !== "") role.policy_document = compactPolicy(role.policy_document);
        // A new role issues IAM users unless it says otherwise (Vault requires the field; the walkthroughs omit it).
        if (!existing && !given("credential_type") && !given("arn")) role.credential_type = ["iam_user"];
        role.credential_type = [...new Set(role.credential_type)];

        const violations = validateRole(role, name);
        if (violations.length > 0) throw LessorError.invalidFields(violations);
        await backend.storage.put(`role/${name}`, roleData(role));
        return {};
      },
      async delete(req) {
        await backend.storage.delete(`role/${req.params.name}`);
        return {};
      },
    },
  });
}

export function roleListPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "roles/",
    synopsis: "List the roles.",
    fields: {},
    operations: {
      async list() {
        return { data: { keys: await backend.storage.list("role/") } };
      },
    },
  });
}

export function roleNotFound(backend: AwsBackend, name: string): LessorError {
  return LessorError.notFound(`role "${name}" not found; write it to ${backend.mountPath}roles/${name} first`, "ROLE_NOT_FOUND", {
    role: name,
  });
}
