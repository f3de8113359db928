// aws/creds/:name: reading it makes the credential. For iam_user: an intent
// is recorded, the user and key are made, and the router records the lease.
import { definePath, type PathSpec } from "../framework/types.js";
import { createIamUser } from "./iam-user.js";
import type { AwsBackend } from "./index.js";
import { loadRole, roleNotFound } from "./roles.js";
import { defaultUsername } from "./usernames.js";

export function credsPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "creds/:name",
    synopsis: "Generate AWS credentials for a role.",
    description:
      "Each read creates a new IAM user with the role's policy and an access key, on a lease. Revoking the lease (or its expiry) deletes the user.",
    fields: {},
    operations: {
      async read(req) {
        const name = req.params.name ?? "";
        const role = await loadRole(backend, name);
        if (!role) throw roleNotFound(backend, name);
        const { iam } = await backend.aws();
        const username = defaultUsername(req.caller.displayName, name, Date.now());
        await req.recordIntent("access_keys", { username });
        const { key, internal } = await createIamUser(
          iam,
          { username, path: "/", leaseId: req.leaseId, policyDocument: role.policy_document, policyArns: [], groups: [], tags: {} },
          backend.mountPath,
        );
        return {
          data: { access_key: key.accessKeyId, secret_key: key.secretAccessKey, security_token: null },
          secret: { type: "access_keys", internal, renewable: true },
        };
      },
    },
  });
}
