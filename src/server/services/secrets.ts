// lessor.v1.SecretsService: read, write, delete, list and path-help on any
// mounted path, all through the router.
import type { SecretsServiceServer } from "@lessor/client/gen/lessor/v1/secrets.js";
import type { JsonObject, Operation } from "../../engines/framework/types.js";
import type { Router, RouterResponse } from "../../router/router.js";
import { describePath } from "../../router/help.js";
import { unary, type CallContext, type CallDeps } from "../call.js";
import type { Lease } from "@lessor/client/gen/lessor/v1/secrets.js";

function leaseOf(res: RouterResponse): Lease | undefined {
  if (res.lease) return { id: res.lease.id, durationSeconds: res.lease.durationSeconds, renewable: res.lease.renewable };
  if (res.refreshSeconds !== undefined) return { id: "", durationSeconds: res.refreshSeconds, renewable: false };
  return undefined;
}

export function secretsService(deps: CallDeps, router: Router): SecretsServiceServer {
  const run = (operation: Operation, path: string, data: JsonObject | undefined, ctx: CallContext) =>
    router.handle({ operation, path, data: data ?? {}, caller: ctx.caller });
  return {
    read: unary(deps, "SecretsService/Read", async (req, ctx) => {
      const res = await run("read", req.path, req.data, ctx);
      return { lease: leaseOf(res), data: res.data, warnings: res.warnings };
    }),
    write: unary(deps, "SecretsService/Write", async (req, ctx) => {
      const res = await run("write", req.path, req.data, ctx);
      return { lease: leaseOf(res), data: res.data, warnings: res.warnings };
    }),
    delete: unary(deps, "SecretsService/Delete", async (req, ctx) => {
      const res = await run("delete", req.path, undefined, ctx);
      return { warnings: res.warnings };
    }),
    list: unary(deps, "SecretsService/List", async (req, ctx) => {
      const res = await run("list", req.path, undefined, ctx);
      const keys = res.data.keys;
      return { keys: Array.isArray(keys) ? keys.map(String) : [] };
    }),
    pathHelp: unary(deps, "SecretsService/PathHelp", async (req) => describePath(router, req.path)),
  };
}
