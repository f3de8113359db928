// Issuing STS credentials (assumed_role, federation_token, session_token):
// a lifetime from the request or the role, within the role's, the mount's and
// AWS's limits; no intent, since nothing is made that outlives its lifetime.
import { LessorError } from "../../errors.js";
import { formatDuration } from "../../util/duration.js";
import type { Response } from "../framework/types.js";
import { ensureCredentials, nameOrFail, type Issuance } from "./issuance.js";
import { type CredentialType, STS_MAX_SECONDS, STS_MIN_SECONDS } from "./roles.js";
import { assumeRole, getFederationToken, getSessionToken, sessionPolicies, STS_SECRET, type StsIssued } from "./sts.js";

type StsType = Exclude<CredentialType, "iam_user">;

/** STS credentials live an hour unless the request or the role says otherwise (Vault's default). */
const DEFAULT_STS_TTL_SECONDS = 3600;

export async function issueSts(issuance: Issuance & { type: StsType }): Promise<Response> {
  const { backend, req, role, roleName, type, mfa, clients } = issuance;
  const mountPath = backend.mountPath;
  const warnings: string[] = [];
  const mountMax = backend.system.maxLeaseTtlSeconds();
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
    const name = nameOrFail("federation", issuance);
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
    const sessionName = req.fields.role_session_name ?? nameOrFail("session", issuance);
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
