// lessor.v1.MountService: enable, disable and list secrets engines. Disabling
// a mount revokes its leases first, as nothing may outlive its lease.
import type { Mount, MountServiceServer } from "@lessor/client/gen/lessor/v1/mounts.js";
import type { Acl } from "../../auth/acl.js";
import type { LeaseManager } from "../../leases/manager.js";
import { normalizeMountPath, type MountTable } from "../../router/mounts.js";
import type { MountRecord } from "../../store/types.js";
import { LessorError } from "../../errors.js";
import { unary, type CallDeps } from "../call.js";

function toMount(m: MountRecord): Mount {
  return {
    path: m.path,
    type: m.type,
    description: m.description,
    accessor: m.accessor,
    defaultLeaseTtlSeconds: m.defaultTtlSeconds,
    maxLeaseTtlSeconds: m.maxTtlSeconds,
  };
}

function checkTtl(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw LessorError.invalidField(field, "must be zero or a positive number of seconds");
  return value;
}

export function mountService(deps: CallDeps, mounts: MountTable, leases: LeaseManager, acl: Acl): MountServiceServer {
  return {
    enableMount: unary(deps, "MountService/EnableMount", async (req, ctx) => {
      if (req.type === "") throw LessorError.invalidField("type", `is required; available: ${mounts.engineTypes().join(", ")}`);
      const path = normalizeMountPath(req.path === "" ? req.type : req.path);
      acl.checkSudo(ctx.caller.policies, `sys/mounts/${path}`, "update");
      const mount = await mounts.enable(
        req.type,
        path,
        {
          description: req.description,
          defaultTtlSeconds: checkTtl("default_lease_ttl_seconds", req.defaultLeaseTtlSeconds),
          maxTtlSeconds: checkTtl("max_lease_ttl_seconds", req.maxLeaseTtlSeconds),
        },
        Date.now(),
      );
      return { mount: toMount(mount) };
    }),
    disableMount: unary(deps, "MountService/DisableMount", async (req, ctx) => {
      if (req.path === "") throw LessorError.invalidField("path", "is required");
      const path = normalizeMountPath(req.path);
      acl.checkSudo(ctx.caller.policies, `sys/mounts/${path}`, "delete");
      const mounted = mounts.get(path);
      if (!mounted) throw LessorError.notFound(`no secrets engine is mounted at ${path}`, "MOUNT_NOT_FOUND", { path });
      const revoked = await leases.revokeMount(mounted.mount.accessor, mounted.mount.path);
      await mounts.remove(path);
      return { revokedLeases: revoked };
    }),
    listMounts: unary(deps, "MountService/ListMounts", async (_req, ctx) => {
      acl.check(ctx.caller.policies, "sys/mounts", "read");
      return { mounts: mounts.list().map(toMount) };
    }),
  };
}
