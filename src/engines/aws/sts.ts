// The STS credential types: assumed_role (AssumeRole), federation_token
// (GetFederationToken) and session_token (GetSessionToken). AWS ends these
// credentials itself at their Expiration, and STS has no call that revokes
// them early, so their lease only records them: its duration is the
// credentials' lifetime, it is not renewable, and revoking it does nothing.
import type { IAMClient } from "@aws-sdk/client-iam";
import type { Credentials, STSClient } from "@aws-sdk/client-sts";
import { LessorError } from "../../errors.js";
import type { JsonObject } from "../framework/types.js";
import { mapAwsError } from "./errors.js";
import { POLICY_VERSIONS } from "./policy-document.js";
import { iamSdk, stsSdk } from "./sdk.js";

/** Secret type of STS leases. */
export const STS_SECRET = "sts";

export interface StsIssued {
  data: JsonObject;
  internal: JsonObject;
  /** Seconds until the credentials expire, as AWS reports it. */
  ttlSeconds: number;
}

/** Session policies from the role and its groups (Vault merges group policies into STS requests the same way). */
export interface SessionPolicies {
  policyDocument: string | undefined;
  policyArns: string[];
}

async function call<T>(action: string, mountPath: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw mapAwsError(err, action, mountPath);
  }
}

/** The role's policy document plus the inline and managed policies of its iam_groups. */
export async function sessionPolicies(
  iam: IAMClient,
  policyDocument: string,
  policyArns: readonly string[],
  groups: readonly string[],
  mountPath: string,
): Promise<SessionPolicies> {
  const { GetGroupPolicyCommand, ListAttachedGroupPoliciesCommand, ListGroupPoliciesCommand } = await iamSdk();
  const statements: unknown[] = [];
  const arns = [...policyArns];
  const addStatements = (text: string) => {
    const doc = JSON.parse(text) as { Statement?: unknown };
    const st = doc.Statement;
    if (Array.isArray(st)) statements.push(...(st as unknown[]));
    else if (st !== undefined) statements.push(st);
  };
  for (const group of groups) {
    let marker: string | undefined;
    do {
      const page = await call("iam:ListGroupPolicies", mountPath, () =>
        iam.send(new ListGroupPoliciesCommand({ GroupName: group, Marker: marker })),
      );
      for (const name of page.PolicyNames ?? []) {
        const got = await call("iam:GetGroupPolicy", mountPath, () =>
          iam.send(new GetGroupPolicyCommand({ GroupName: group, PolicyName: name })),
        );
        // IAM returns policy documents URL-encoded.
        if (got.PolicyDocument) addStatements(decodeURIComponent(got.PolicyDocument));
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    do {
      const page = await call("iam:ListAttachedGroupPolicies", mountPath, () =>
        iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: group, Marker: marker })),
      );
      for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn && !arns.includes(p.PolicyArn)) arns.push(p.PolicyArn);
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
  }
  if (statements.length === 0) return { policyDocument: policyDocument || undefined, policyArns: arns };
  if (policyDocument) addStatements(policyDocument);
  return { policyDocument: JSON.stringify({ Version: POLICY_VERSIONS[0], Statement: statements }), policyArns: arns };
}

function credentialsData(c: Credentials | undefined, action: string, mountPath: string): { data: JsonObject; expiration: Date } {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
    throw mapAwsError(new Error(`${action} returned no credentials`), action, mountPath);
  }
  return {
    data: { access_key: c.AccessKeyId, secret_key: c.SecretAccessKey, security_token: c.SessionToken },
    expiration: c.Expiration,
  };
}

/** Slack for clock skew and the time the call took, when comparing AWS's Expiration with the duration asked. */
const EXPIRATION_SLACK_SECONDS = 30;

/**
 * Lease duration: the lifetime asked for, unless AWS made the credentials
 * clearly shorter-lived (it caps the root user's sessions at one hour).
 */
function leaseSeconds(requested: number, expiration: Date): number {
  const left = Math.floor((expiration.getTime() - Date.now()) / 1000);
  return left > 0 && left < requested - EXPIRATION_SLACK_SECONDS ? left : requested;
}

const policyArnsParam = (arns: readonly string[]) => (arns.length > 0 ? { PolicyArns: arns.map((arn) => ({ arn })) } : {});

export async function assumeRole(
  sts: STSClient,
  input: {
    roleArn: string;
    sessionName: string;
    seconds: number;
    policies: SessionPolicies;
    sessionTags: Record<string, string>;
    externalId: string;
    mfa: { serial: string; code: string } | undefined;
  },
  mountPath: string,
): Promise<StsIssued> {
  const { AssumeRoleCommand } = await stsSdk();
  const tags = Object.entries(input.sessionTags).map(([Key, Value]) => ({ Key, Value }));
  const out = await call("sts:AssumeRole", mountPath, () =>
    sts.send(
      new AssumeRoleCommand({
        RoleArn: input.roleArn,
        RoleSessionName: input.sessionName,
        DurationSeconds: input.seconds,
        ...(input.policies.policyDocument ? { Policy: input.policies.policyDocument } : {}),
        ...policyArnsParam(input.policies.policyArns),
        ...(tags.length > 0 ? { Tags: tags } : {}),
        ...(input.externalId ? { ExternalId: input.externalId } : {}),
        ...(input.mfa ? { SerialNumber: input.mfa.serial, TokenCode: input.mfa.code } : {}),
      }),
    ),
  );
  const { data, expiration } = credentialsData(out.Credentials, "sts:AssumeRole", mountPath);
  const arn = out.AssumedRoleUser?.Arn ?? "";
  return {
    data: { ...data, arn },
    internal: { credential_type: "assumed_role", access_key_id: data.access_key as string, arn, role_arn: input.roleArn },
    ttlSeconds: leaseSeconds(input.seconds, expiration),
  };
}

export async function getFederationToken(
  sts: STSClient,
  input: { name: string; seconds: number; policies: SessionPolicies },
  mountPath: string,
): Promise<StsIssued> {
  const { GetFederationTokenCommand } = await stsSdk();
  if (!input.policies.policyDocument && input.policies.policyArns.length === 0) {
    // Without a session policy, the token would carry all of Lessor's own permissions.
    throw LessorError.failedPrecondition(
      "federation_token needs a policy: the role's policy_document, policy_arns and iam_groups give none",
      "AWS_FEDERATION_NEEDS_POLICY",
    );
  }
  const out = await call("sts:GetFederationToken", mountPath, () =>
    sts.send(
      new GetFederationTokenCommand({
        Name: input.name,
        DurationSeconds: input.seconds,
        ...(input.policies.policyDocument ? { Policy: input.policies.policyDocument } : {}),
        ...policyArnsParam(input.policies.policyArns),
      }),
    ),
  );
  const { data, expiration } = credentialsData(out.Credentials, "sts:GetFederationToken", mountPath);
  const arn = out.FederatedUser?.Arn ?? "";
  return {
    data: { ...data, arn },
    internal: { credential_type: "federation_token", access_key_id: data.access_key as string, arn },
    ttlSeconds: leaseSeconds(input.seconds, expiration),
  };
}

export async function getSessionToken(
  sts: STSClient,
  input: { seconds: number; mfa: { serial: string; code: string } | undefined },
  mountPath: string,
): Promise<StsIssued> {
  const { GetSessionTokenCommand } = await stsSdk();
  const out = await call("sts:GetSessionToken", mountPath, () =>
    sts.send(
      new GetSessionTokenCommand({
        DurationSeconds: input.seconds,
        ...(input.mfa ? { SerialNumber: input.mfa.serial, TokenCode: input.mfa.code } : {}),
      }),
    ),
  );
  const { data, expiration } = credentialsData(out.Credentials, "sts:GetSessionToken", mountPath);
  return {
    data,
    internal: { credential_type: "session_token", access_key_id: data.access_key as string },
    ttlSeconds: leaseSeconds(input.seconds, expiration),
  };
}
