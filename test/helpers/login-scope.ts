// What every auth method's token must do, checked the same way for each: with
// the aws engine mounted (helpers/aws-engine.ts), a token whose policy allows
// aws/creds/deploy gets credentials there, is refused aws/creds/other, and
// revoking the token revokes the lease it made (its IAM user is deleted).
import assert from "node:assert/strict";
import { Code, type LessorClient } from "@lessor/client";
import { EC2_POLICY } from "./aws.js";
import { lessorUsers, rejects, type AwsSetup } from "./aws-engine.js";
import { waitFor } from "./wait.js";

/** The policy a login role gives: read aws/creds/deploy, nothing else. */
export const DEPLOY_POLICY = "deploy-creds";

/** Roles aws/roles/deploy and aws/roles/other, and the policy allowing only the first. */
export async function prepareCredsRoles(root: LessorClient): Promise<void> {
  await root.write("aws/roles/deploy", { credential_type: "iam_user", policy_document: EC2_POLICY });
  await root.write("aws/roles/other", { credential_type: "iam_user", policy_document: EC2_POLICY });
  await root.policies.write(DEPLOY_POLICY, `path "aws/creds/deploy" { capabilities = ["read"] }`);
}

/** `service` holds a login's token: it reads within its policy only, and revoking it revokes its lease. */
export async function checkLoginTokenScope(setup: Pick<AwsSetup, "client" | "emulator" | "admin">, service: LessorClient): Promise<void> {
  const users = () => lessorUsers(setup.emulator, setup.admin).length;
  const before = users();
  const creds = await service.aws.creds("deploy");
  assert.match(creds.lease.id, /^aws\/creds\/deploy\//);
  await rejects(service.aws.creds("other"), Code.PERMISSION_DENIED, /aws\/creds\/other/);
  assert.equal(users(), before + 1, "one IAM user for the one lease");

  const self = await service.tokens.lookupSelf();
  await setup.client.tokens.revoke({ accessor: self.accessor });
  await waitFor("the login token's lease to be revoked (its IAM user deleted)", () => users() === before);
  await rejects(service.tokens.lookupSelf(), Code.UNAUTHENTICATED, /./);
}

/** Waits (bounded) until the server's log holds each refusal reason, then asserts each, naming any missing. */
export async function expectLogged(server: { output(): string }, reasons: RegExp[]): Promise<void> {
  await waitFor("the refusals' reasons in the server log", () => reasons.every((r) => r.test(server.output())), 5000).catch(() => undefined);
  const log = server.output();
  for (const reason of reasons) assert.match(log, reason);
}
