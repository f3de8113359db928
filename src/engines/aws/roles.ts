// aws/roles/:name: what a credential for a role may do. A role maps a name
// callers ask for to the IAM policy and settings its users are made with.
import { LessorError } from "../../errors.js";
import { definePath, type JsonObject, type PathSpec } from "../framework/types.js";
import type { AwsBackend } from "./index.js";
import { checkPolicyDocument, compactPolicy } from "./policy-document.js";

export const CREDENTIAL_TYPES = ["iam_user"] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

export interface RoleEntry {
  credential_type: CredentialType[];
  policy_document: string;
  [key: string]: string | string[];
}

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

const policyCheck = (v: unknown) => (typeof v === "string" ? checkPolicyDocument(v) : "must be a JSON policy document");

export async function loadRole(backend: AwsBackend, name: string): Promise<RoleEntry | undefined> {
  return (await backend.storage.get(`role/${name}`)) as RoleEntry | undefined;
}

function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name)) {
    throw LessorError.invalidField("name", "role names are 1 to 64 characters from letters, digits and +=,.@_-");
  }
}

export function rolePath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "roles/:name",
    synopsis: "Manage the roles credentials can be issued for.",
    description:
      "A role says what kind of AWS credential to issue and with which IAM policy. Read creds/<name> to get credentials for it.",
    fields: {
      credential_type: {
        type: "list",
        allowed: CREDENTIAL_TYPES,
        description: "Kind of credential to issue: iam_user (an IAM user with an access key).",
      },
      policy_document: {
        type: "string",
        description: 'IAM policy document (JSON) attached inline to each user; "Version" must be "2012-10-17".',
        check: policyCheck,
      },
      policy: {
        type: "string",
        description: "Old name of policy_document.",
        deprecated: "use policy_document; the value was stored as policy_document",
        check: policyCheck,
      },
    },
    async exists(params) {
      return (await loadRole(backend, params.name ?? "")) !== undefined;
    },
    operations: {
      async read(req) {
        const role = await loadRole(backend, req.params.name ?? "");
        if (!role) throw roleNotFound(backend, req.params.name ?? "");
        return { data: role as JsonObject };
      },
      async write(req) {
        const name = req.params.name ?? "";
        checkRoleName(name);
        const { credential_type, policy_document, policy } = req.fields;
        if (policy_document !== undefined && policy !== undefined) {
          throw LessorError.invalidField("policy", "give policy_document or the deprecated policy, not both");
        }
        const existing = await loadRole(backend, name);
        const document = policy_document ?? policy ?? existing?.policy_document;
        if (document === undefined) {
          throw LessorError.invalidField("policy_document", "is required: an iam_user role needs the IAM policy its users get");
        }
        const role: RoleEntry = {
          credential_type: (credential_type as CredentialType[] | undefined) ?? existing?.credential_type ?? ["iam_user"],
          policy_document: compactPolicy(document),
        };
        await backend.storage.put(`role/${name}`, role);
        return {};
      },
      async delete(req) {
        await backend.storage.delete(`role/${req.params.name ?? ""}`);
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
