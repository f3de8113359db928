// aws/creds/:name and aws/sts/:name: reading (or writing, with options) makes
// a credential for the role. creds/ issues any of the role's credential
// types; sts/ only the STS ones, as in Vault. For an IAM user an intent is
// recorded before the first IAM call, the user and key are made, and the
// router records the lease and ends the intent in one transaction; any
// failure on the way rolls the intent back, deleting what was made.
import { LessorError } from "../../errors.js";
import { SYSTEM_MAX_LEASE_TTL_SECONDS } from "../../leases/policy.js";
import { formatDuration } from "../../util/duration.js";
import { definePath, type FieldSpecs, type PathSpec, type Request, type Response } from "../framework/types.js";
import type { AwsClients } from "./clients.js";
import { mapAwsError } from "./errors.js";
import { createIamUser, waitForKey } from "./iam-user.js";
import type { AwsBackend } from "./index.js";
import { CREDENTIAL_TYPES, type CredentialType, loadRole, type RoleEntry, roleNotFound, STS_MAX_SECONDS, STS_MIN_SECONDS, STS_TYPES } from "./roles.js";
import { assumeRole, getFederationToken, getSessionToken, sessionPolicies, STS_SECRET, type StsIssued } from "./sts.js";
import { checkName, makeName, NameError, type NameKind } from "./usernames.js";

/** Secret type of IAM-user leases (Vault's name for it). */
export const ACCESS_KEYS_SECRET = "access_keys";
/** STS credentials live an hour unless the request or the role says otherwise (Vault's default). */
const DEFAULT_STS_TTL_SECONDS = 3600;

const CREDS_FIELDS = {
  ttl: {
    type: "duration",
    description:
      "Lifetime of the credentials. STS types: default the role's default_sts_ttl, else 1h; at most max_sts_ttl and AWS's limits (15m to 12h for assumed_role, 36h otherwise). iam_user: the lease duration (default config/lease, else the mount's).",
  },
  credential_type: {
    type: "string",
    allowed: CREDENTIAL_TYPES,
    description: "Which of the role's credential types to issue, when it has several.",
  },
  role_arn: {
    type: "string",
    description: "assumed_role: which of the role's role_arns to assume; needed when it has several.",
  },
  role_session_name: {
    type: "string",
    description: "assumed_role: the session name (2 to 64 of letters, digits and +=,.@_-); default from the username template.",
  },
  mfa_code: {
    type: "string",
    description: "The current code of the role's mfa_serial_number device (6 digits), when the role has one.",
  },
} satisfies FieldSpecs;

type CredsRequest = Request<typeof CREDS_FIELDS>;
type Via = "creds" | "sts";

function pickType(role: RoleEntry, roleName: string, requested: string | undefined, via: Via, mountPath: string): CredentialType {
  const allowed = role.credential_type;
  if (requested !== undefined) {
    const t = requested as CredentialType;
    if (!allowed.includes(t)) {
      throw LessorError.invalidField("credential_type", `role "${roleName}" does not issue ${t}; its credential_type is ${allowed.join(",")}`);
    }
    if (via === "sts" && t === "iam_user") {
      throw LessorError.invalidField("credential_type", `${mountPath}sts/ issues STS credentials only; read ${mountPath}creds/${roleName} for an IAM user`);
    }
    return t;
  }
  const candidates = via === "sts" ? allowed.filter((t) => STS_TYPES.includes(t)) : allowed;
  if (candidates.length === 1) return candidates[0] as CredentialType;
  if (candidates.length === 0) {
    throw LessorError.failedPrecondition(
      `role "${roleName}" issues IAM users only (credential_type ${allowed.join(",")}); ${mountPath}sts/ issues STS credentials: read ${mountPath}creds/${roleName}`,
      "AWS_ROLE_NOT_STS",
      { role: roleName },
    );
  }
  // Vault's rule for roles upgraded from legacy data: creds/ means the IAM user.
  if (via === "creds" && candidates.includes("iam_user")) return "iam_user";
  throw LessorError.invalidField(
    "credential_type",
    `is required: role "${roleName}" issues several kinds of credential (${candidates.join(", ")}); say which`,
  );
}

/** Checks that request options fit the credential type, naming the field that does not. */
function checkOptions(req: CredsRequest, role: RoleEntry, roleName: string, type: CredentialType): { serial: string; code: string } | undefined {
  const f = req.fields;
  for (const field of ["role_arn", "role_session_name"] as const) {
    if (req.provided.has(field) && type !== "assumed_role") {
      throw LessorError.invalidField(field, `only applies to assumed_role credentials; this request issues ${type}`);
    }
  }
  if (f.role_session_name !== undefined) {
    const problem = checkName("session", f.role_session_name);
    if (problem) throw LessorError.invalidField("role_session_name", problem);
  }
  const wantsMfa = role.mfa_serial_number !== "" && (type === "session_token" || type === "assumed_role");
  if (!wantsMfa) {
    if (req.provided.has("mfa_code")) {
      throw LessorError.invalidField("mfa_code", `role "${roleName}" has no mfa_serial_number for ${type} credentials, so it takes no MFA code`);
    }
    return undefined;
  }
  if (f.mfa_code === undefined) {
    throw LessorError.invalidField("mfa_code", `is required: role "${roleName}" needs the current code of MFA device ${role.mfa_serial_number}`);
  }
  if (!/^\d{6}$/.test(f.mfa_code)) throw LessorError.invalidField("mfa_code", "must be the 6 digits the MFA device shows");
  return { serial: role.mfa_serial_number, code: f.mfa_code };
}

/** Turns a failure to make a name into an error that says which template is at fault. */
function nameOrFail(kind: NameKind, template: { source: string; from: string } | undefined, req: CredsRequest, roleName: string): string {
  try {
    return makeName(kind, template?.source, req.caller.displayName, roleName);
  } catch (err) {
    if (!(err instanceof NameError)) throw err;
    throw LessorError.failedPrecondition(`the username_template in ${template?.from ?? "?"} cannot make a name: ${err.message}`, "AWS_USERNAME_TEMPLATE", {
      path: template?.from ?? "",
    });
  }
}

/** Resolves the credentials Lessor signs with before anything is recorded, so "none configured" fails cleanly. */
async function ensureCredentials(backend: AwsBackend, clients: AwsClients, action: string): Promise<void> {
  try {
    await clients.credentials();
  } catch (err) {
    if ((await backend.rootConfig()) === undefined) {
      throw LessorError.failedPrecondition(
        `the aws engine at ${backend.mountPath} is not configured and the AWS SDK's default credential chain found no credentials: write access_key, secret_key and region to ${backend.mountPath}config/root`,
        "AWS_NOT_CONFIGURED",
        { path: `${backend.mountPath}config/root` },
      );
    }
    throw mapAwsError(err, action, backend.mountPath);
  }
}

async function issue(backend: AwsBackend, req: CredsRequest, via: Via): Promise<Response> {
  const roleName = req.params.name ?? "";
  const role = await loadRole(backend, roleName);
  if (!role) throw roleNotFound(backend, roleName);
  const mountPath = backend.mountPath;
  const type = pickType(role, roleName, req.fields.credential_type, via, mountPath);
  const mfa = checkOptions(req, role, roleName, type);
  const root = (await backend.rootConfig()) ?? {};
  const template =
    role.username_template !== ""
      ? { source: role.username_template, from: `${mountPath}roles/${roleName}` }
      : root.username_template
        ? { source: root.username_template, from: `${mountPath}config/root` }
        : undefined;
  const clients = await backend.aws();

  if (type === "iam_user") {
    await ensureCredentials(backend, clients, "iam:CreateUser");
    const username = nameOrFail("iam_user", template, req, roleName);
    await req.recordIntent(ACCESS_KEYS_SECRET, { username });
    const { key, internal } = await createIamUser(
      clients.iam,
      {
        username,
        path: role.user_path,
        leaseId: req.leaseId,
        mountAccessor: backend.mountAccessor,
        policyDocument: role.policy_document || undefined,
        policyArns: role.policy_arns,
        groups: role.iam_groups,
        tags: role.iam_tags,
        permissionsBoundaryArn: role.permissions_boundary_arn || undefined,
      },
      mountPath,
    );
    const warnings: string[] = [];
    if (role.consistency_wait > 0 && !(await waitForKey(clients, key, role.consistency_wait))) {
      warnings.push(
        `AWS did not yet accept the new access key after ${formatDuration(role.consistency_wait)} (consistency_wait); it may be refused for a little longer`,
      );
    }
    const lease = await backend.leaseConfig();
    return {
      data: { access_key: key.accessKeyId, secret_key: key.secretAccessKey, security_token: null },
      warnings,
      secret: {
        type: ACCESS_KEYS_SECRET,
        internal,
        renewable: true,
        ttlSeconds: req.fields.ttl ?? lease?.lease,
        maxTtlSeconds: lease?.lease_max,
      },
    };
  }

  // STS credentials: lifetime from the request or the role, within the role's, the mount's and AWS's limits.
  const warnings: string[] = [];
  const mountMax = req.mount.maxTtlSeconds > 0 ? req.mount.maxTtlSeconds : SYSTEM_MAX_LEASE_TTL_SECONDS;
  const limits: Array<[number, string]> = [
    [role.max_sts_ttl > 0 ? role.max_sts_ttl : mountMax, role.max_sts_ttl > 0 ? "the role's max_sts_ttl" : "the mount's max lease TTL"],
    [STS_MAX_SECONDS[type], `AWS's longest ${type} credentials`],
  ];
  let seconds = req.fields.ttl ?? (role.default_sts_ttl > 0 ? role.default_sts_ttl : DEFAULT_STS_TTL_SECONDS);
  for (const [max, what] of limits) {
    if (seconds > max) {
      if (req.fields.ttl !== undefined) warnings.push(`ttl shortened to ${formatDuration(max)}, ${what}`);
      seconds = max;
    }
  }
  if (seconds < STS_MIN_SECONDS) {
    const field = req.fields.ttl !== undefined && req.fields.ttl < STS_MIN_SECONDS ? "ttl" : "max_sts_ttl";
    throw LessorError.invalidField(field, `STS credentials last at least 15m (${STS_MIN_SECONDS} seconds); ${formatDuration(seconds)} is too short`);
  }

  let issued: StsIssued;
  if (type === "session_token") {
    await ensureCredentials(backend, clients, "sts:GetSessionToken");
    issued = await getSessionToken(clients.sts, { seconds, mfa }, mountPath);
  } else if (type === "federation_token") {
    await ensureCredentials(backend, clients, "sts:GetFederationToken");
    const name = nameOrFail("federation", template, req, roleName);
    const policies = await sessionPolicies(clients.iam, role.policy_document, role.policy_arns, role.iam_groups, mountPath);
    issued = await getFederationToken(clients.sts, { name, seconds, policies }, mountPath);
  } else {
    let roleArn = req.fields.role_arn;
    if (roleArn === undefined) {
      if (role.role_arns.length !== 1) {
        throw LessorError.invalidField("role_arn", `is required: role "${roleName}" may assume several roles: ${role.role_arns.join(", ")}`);
      }
      roleArn = role.role_arns[0] as string;
    } else if (!role.role_arns.includes(roleArn)) {
      throw LessorError.invalidField("role_arn", `"${roleArn.slice(0, 120)}" is not one of role "${roleName}"'s role_arns: ${role.role_arns.join(", ")}`);
    }
    await ensureCredentials(backend, clients, "sts:AssumeRole");
    const sessionName = req.fields.role_session_name ?? nameOrFail("session", template, req, roleName);
    const policies = await sessionPolicies(clients.iam, role.policy_document, role.policy_arns, role.iam_groups, mountPath);
    issued = await assumeRole(
      clients.sts,
      { roleArn, sessionName, seconds, policies, sessionTags: role.session_tags, externalId: role.external_id, mfa },
      mountPath,
    );
  }
  return {
    data: issued.data,
    warnings,
    // AWS expires these credentials itself; the lease lasts exactly as long and cannot be renewed.
    secret: { type: STS_SECRET, internal: issued.internal, ttlSeconds: issued.ttlSeconds, maxTtlSeconds: issued.ttlSeconds, renewable: false },
  };
}

export function credsPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "creds/:name",
    synopsis: "Generate AWS credentials for a role.",
    description:
      "Each read makes new credentials of the role's credential type, on a lease. iam_user: a new IAM user with the role's policies, groups and tags and an access key; revoking the lease (or its expiry) deletes the user and everything it holds. STS types: temporary credentials with a security_token, whose lease lasts as long as they do. Options can be given on read or write.",
    fields: CREDS_FIELDS,
    operations: {
      read: (req) => issue(backend, req, "creds"),
      write: (req) => issue(backend, req, "creds"),
    },
  });
}

export function stsPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "sts/:name",
    synopsis: "Generate STS credentials for a role.",
    description:
      "Like creds/<name>, for the STS credential types only (assumed_role, federation_token, session_token). The credentials carry a security_token; AWS expires them at the end of their lifetime, which is also the lease's; they cannot be renewed or revoked early.",
    fields: CREDS_FIELDS,
    operations: {
      read: (req) => issue(backend, req, "sts"),
      write: (req) => issue(backend, req, "sts"),
    },
  });
}
