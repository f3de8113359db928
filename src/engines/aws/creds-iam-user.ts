// Issuing an iam_user credential: an intent naming the user is recorded
// before the first IAM call, then the user and its access key are made; the
// router records the lease and ends the intent in one transaction, and any
// failure on the way rolls the intent back, deleting what was made.
import { formatDuration } from "../../util/duration.js";
import type { Response } from "../framework/types.js";
import { createIamUser, waitForKey } from "./iam-user.js";
import { ensureCredentials, nameOrFail, type Issuance } from "./issuance.js";

/** Secret type of IAM-user leases (Vault's name for it). */
export const ACCESS_KEYS_SECRET = "access_keys";

export async function issueIamUser(issuance: Issuance): Promise<Response> {
  const { backend, req, role, clients } = issuance;
  const mountPath = backend.mountPath;
  await ensureCredentials(backend, clients, "iam:CreateUser");
  const username = nameOrFail("iam_user", issuance);
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
