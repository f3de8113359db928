// aws/creds/:name and aws/sts/:name: reading (or writing, with options) makes
// a credential for the role. creds/ issues any of the role's credential
// types; sts/ only the STS ones, as in Vault. This picks the type and checks
// the options; creds-iam-user.ts and creds-sts.ts issue.
import { LessorError } from "../../errors.js";
import { definePath, type PathSpec, type Response } from "../framework/types.js";
import { issueIamUser } from "./creds-iam-user.js";
import { issueSts } from "./creds-sts.js";
import type { AwsBackend } from "./backend.js";
import { CREDS_FIELDS, type CredsRequest } from "./issuance.js";
import { type CredentialType, loadRole, type RoleEntry, roleNotFound, STS_TYPES } from "./roles.js";
import { checkName } from "./usernames.js";

export { ACCESS_KEYS_SECRET } from "./creds-iam-user.js";

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

async function issue(backend: AwsBackend, req: CredsRequest, via: Via): Promise<Response> {
  const roleName = req.params.name;
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
  const issuance = { backend, req, role, roleName, mfa, template, clients: await backend.aws() };
  return type === "iam_user" ? issueIamUser({ ...issuance, type }) : issueSts({ ...issuance, type });
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
