// What issuing any AWS credential shares: the request, the role, the
// credential type picked, the username template in force, and the clients.
// The IAM-user issuer (creds-iam-user.ts) and the STS issuer (creds-sts.ts)
// each take an Issuance; creds.ts declares the paths that make one.
import { LessorError } from "../../errors.js";
import type { FieldSpecs, Request } from "../framework/types.js";
import type { AwsClients } from "./clients.js";
import { mapAwsError } from "./errors.js";
import type { AwsBackend } from "./backend.js";
import { CREDENTIAL_TYPES, type CredentialType, type RoleEntry } from "./roles.js";
import { makeName, NameError, type NameKind } from "./usernames.js";

export const CREDS_FIELDS = {
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

export type CredsRequest = Request<typeof CREDS_FIELDS, "creds/:name">;

/** A username template and where it was configured (for errors). */
export interface Template {
  source: string;
  from: string;
}

export interface Issuance {
  backend: AwsBackend;
  req: CredsRequest;
  role: RoleEntry;
  roleName: string;
  type: CredentialType;
  mfa: { serial: string; code: string } | undefined;
  template: Template | undefined;
  clients: AwsClients;
}

export /** Turns a failure to make a name into an error that says which template is at fault. */
function nameOrFail(kind: NameKind, issuance: Pick<Issuance, "template" | "req" | "roleName">): string {
  const { template, req, roleName } = issuance;
  try {
    return makeName(kind, template?.source, req.caller.displayName, roleName);
  } catch (err) {
    if (!(err instanceof NameError)) throw err;
    throw LessorError.failedPrecondition(`the username_template in ${template?.from ?? "?"} cannot make a name: ${err.message}`, "AWS_USERNAME_TEMPLATE", {
      path: template?.from ?? "",
    });
  }
}

export /** Resolves the credentials Lessor signs with before anything is recorded, so "none configured" fails cleanly. */
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

