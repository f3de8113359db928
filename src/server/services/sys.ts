// lessor.v1.SysService: audit devices, audit hashes, rate limit quotas and
// encryption key rotation. All root-protected (capability and sudo), as
// Vault's sys/audit and sys/quotas; hashing needs only update.
import type { RateLimitQuota, SysServiceServer } from "@lessor/client/gen/lessor/v1/sys.js";
import type { Acl } from "../../auth/acl.js";
import { auditDevicePath, type AuditBroker } from "../../audit/audit.js";
import { LessorError } from "../../errors.js";
import type { RateLimiter } from "../../quotas/rate-limits.js";
import type { KeyRotator } from "../../store/rotation.js";
import type { QuotaRecord } from "../../store/types.js";
import { unary, type CallDeps } from "../call.js";
import { sysPaths } from "../request-paths.js";

function toQuota(q: QuotaRecord): RateLimitQuota {
  return { name: q.name, path: q.path, rate: q.rate, intervalSeconds: q.intervalSeconds, perToken: q.perToken };
}

export function sysService(deps: CallDeps, acl: Acl, audit: AuditBroker, quotas: RateLimiter, keys: KeyRotator): SysServiceServer {
  return {
    enableAuditDevice: unary(deps, "SysService/EnableAuditDevice", async (req, ctx) => {
      const device = req.device;
      if (!device) throw LessorError.invalidField("device", "is required");
      if (device.type === "") throw LessorError.invalidField("device.type", "is required: file or stdout");
      const path = auditDevicePath(device.path === "" ? device.type : device.path);
      acl.checkSudo(ctx.caller.policies, sysPaths.auditDevice(path), "update");
      await audit.enable({ path, type: device.type, description: device.description, options: device.options });
      return {};
    }),
    disableAuditDevice: unary(deps, "SysService/DisableAuditDevice", async (req, ctx) => {
      if (req.path === "") throw LessorError.invalidField("path", "is required");
      const path = auditDevicePath(req.path);
      acl.checkSudo(ctx.caller.policies, sysPaths.auditDevice(path), "delete");
      await audit.disable(path);
      return {};
    }),
    listAuditDevices: unary(deps, "SysService/ListAuditDevices", async (_req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.audit, "read");
      return { devices: audit.list().map((d) => ({ path: d.path, type: d.type, options: d.options, description: d.description })) };
    }),
    hashAuditValue: unary(deps, "SysService/HashAuditValue", async (req, ctx) => {
      acl.check(ctx.caller.policies, sysPaths.auditHash, "update");
      return { hash: audit.hash(req.input) };
    }),
    writeRateLimitQuota: unary(deps, "SysService/WriteRateLimitQuota", async (req, ctx) => {
      const q = req.quota;
      if (!q) throw LessorError.invalidField("quota", "is required");
      acl.checkSudo(ctx.caller.policies, sysPaths.quota(q.name), "update");
      await quotas.write({ name: q.name, path: q.path, rate: q.rate, intervalSeconds: q.intervalSeconds, perToken: q.perToken });
      return {};
    }),
    readRateLimitQuota: unary(deps, "SysService/ReadRateLimitQuota", async (req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.quota(req.name), "read");
      return { quota: toQuota(quotas.read(req.name)) };
    }),
    listRateLimitQuotas: unary(deps, "SysService/ListRateLimitQuotas", async (_req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.quotas, "list");
      return { quotas: quotas.list().map(toQuota) };
    }),
    deleteRateLimitQuota: unary(deps, "SysService/DeleteRateLimitQuota", async (req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.quota(req.name), "delete");
      await quotas.delete(req.name);
      return {};
    }),
    rotateEncryptionKey: unary(deps, "SysService/RotateEncryptionKey", async (_req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.rotate, "update");
      return { activeKeyId: await keys.rotate() };
    }),
    getEncryptionKeyStatus: unary(deps, "SysService/GetEncryptionKeyStatus", async (_req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.keyStatus, "read");
      const status = await keys.status();
      return { keys: status.keys, reencrypting: status.reencrypting, keySource: status.keySource };
    }),
    pruneEncryptionKeys: unary(deps, "SysService/PruneEncryptionKeys", async (_req, ctx) => {
      acl.checkSudo(ctx.caller.policies, sysPaths.rotate, "update");
      return { droppedKeyIds: await keys.prune() };
    }),
  };
}
