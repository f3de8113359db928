// lessor.v1.PolicyService: ACL policies on sys/policies/acl/<name>. Changing
// policies is root-protected: the operation's capability and sudo.
import type { PolicyServiceServer } from "@lessor/client/gen/lessor/v1/policies.js";
import type { Acl } from "../../auth/acl.js";
import type { PolicyBook } from "../../auth/policies.js";
import { unary, type CallDeps } from "../call.js";
import { sysPaths } from "../request-paths.js";

export function policyService(deps: CallDeps, book: PolicyBook, acl: Acl): PolicyServiceServer {
  return {
    writePolicy: unary(deps, "PolicyService/WritePolicy", async (req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.policy(req.name.trim().toLowerCase()), "update");
      await book.write(req.name, req.policy, Date.now());
      return {};
    }),
    readPolicy: unary(deps, "PolicyService/ReadPolicy", async (req, ctx) => {
      acl.check(ctx.caller.policies, sysPaths.policy(req.name.trim().toLowerCase()), "read");
      const policy = await book.read(req.name);
      return { name: policy.name, policy: policy.text };
    }),
    listPolicies: unary(deps, "PolicyService/ListPolicies", async (_req, ctx) => {
      acl.check(ctx.caller.policies, sysPaths.policies, "list");
      return { names: await book.list() };
    }),
    deletePolicy: unary(deps, "PolicyService/DeletePolicy", async (req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.policy(req.name.trim().toLowerCase()), "delete");
      await book.delete(req.name);
      return {};
    }),
  };
}
