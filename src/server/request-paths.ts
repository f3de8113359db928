// The ACL path and operation of every RPC, as Vault names them: the services
// check permissions on these paths, and audit records and quotas use them.
export interface RequestTarget {
  path: string;
  operation: "create" | "read" | "update" | "delete" | "list" | "help";
}

export const tokenPaths = {
  create: "auth/token/create",
  lookup: "auth/token/lookup",
  lookupAccessor: "auth/token/lookup-accessor",
  lookupSelf: "auth/token/lookup-self",
  renew: "auth/token/renew",
  renewAccessor: "auth/token/renew-accessor",
  renewSelf: "auth/token/renew-self",
  revoke: "auth/token/revoke",
  revokeAccessor: "auth/token/revoke-accessor",
  revokeSelf: "auth/token/revoke-self",
  revokeOrphan: "auth/token/revoke-orphan",
} as const;

export const sysPaths = {
  policies: "sys/policies/acl",
  policy: (name: string) => `sys/policies/acl/${name}`,
  audit: "sys/audit",
  auditDevice: (path: string) => `sys/audit/${path}`,
  auditHash: "sys/audit-hash",
  quotas: "sys/quotas/rate-limit",
  quota: (name: string) => `sys/quotas/rate-limit/${name}`,
  rotate: "sys/rotate",
  keyStatus: "sys/key-status",
} as const;

function field(request: unknown, name: string): string {
  const value = (request as Record<string, unknown> | null)?.[name];
  return typeof value === "string" ? value : "";
}

/** One of token/accessor/neither picks the plain, -accessor or -self path. */
function tokenTarget(request: unknown, plain: string, byAccessor: string, self: string): string {
  if (field(request, "token") !== "") return plain;
  if (field(request, "accessor") !== "") return byAccessor;
  return self;
}

export function requestTarget(method: string, request: unknown): RequestTarget {
  switch (method) {
    case "SecretsService/Read":
      return { path: field(request, "path"), operation: "read" };
    case "SecretsService/Write":
      return { path: field(request, "path"), operation: "update" };
    case "SecretsService/Delete":
      return { path: field(request, "path"), operation: "delete" };
    case "SecretsService/List":
      return { path: field(request, "path"), operation: "list" };
    case "SecretsService/PathHelp":
      return { path: field(request, "path"), operation: "help" };
    case "LeaseService/LookupLease":
      return { path: `sys/leases/lookup/${field(request, "leaseId")}`, operation: "update" };
    case "LeaseService/RevokeLease":
      return { path: `sys/leases/revoke/${field(request, "leaseId")}`, operation: "update" };
    case "LeaseService/RenewLease":
      return { path: `sys/leases/renew/${field(request, "leaseId")}`, operation: "update" };
    case "LeaseService/ListLeases":
      return { path: `sys/leases/lookup/${field(request, "prefix")}`, operation: "list" };
    case "LeaseService/RevokeLeasePrefix":
      return { path: `sys/leases/revoke-prefix/${field(request, "prefix")}`, operation: "update" };
    case "MountService/EnableMount":
      return { path: `sys/mounts/${field(request, "path") || field(request, "type")}`, operation: "update" };
    case "MountService/DisableMount":
      return { path: `sys/mounts/${field(request, "path")}`, operation: "delete" };
    case "MountService/ListMounts":
      return { path: "sys/mounts", operation: "read" };
    case "TokenService/CreateToken":
      return { path: tokenPaths.create, operation: "update" };
    case "TokenService/LookupToken":
      return { path: tokenTarget(request, tokenPaths.lookup, tokenPaths.lookupAccessor, tokenPaths.lookupSelf), operation: "update" };
    case "TokenService/LookupSelfToken":
      return { path: tokenPaths.lookupSelf, operation: "read" };
    case "TokenService/RenewToken":
      return { path: tokenTarget(request, tokenPaths.renew, tokenPaths.renewAccessor, tokenPaths.renewSelf), operation: "update" };
    case "TokenService/RevokeToken":
      return { path: tokenTarget(request, tokenPaths.revoke, tokenPaths.revokeAccessor, tokenPaths.revokeSelf), operation: "update" };
    case "PolicyService/WritePolicy":
      return { path: sysPaths.policy(field(request, "name")), operation: "update" };
    case "PolicyService/ReadPolicy":
      return { path: sysPaths.policy(field(request, "name")), operation: "read" };
    case "PolicyService/DeletePolicy":
      return { path: sysPaths.policy(field(request, "name")), operation: "delete" };
    case "PolicyService/ListPolicies":
      return { path: sysPaths.policies, operation: "list" };
    case "SysService/EnableAuditDevice": {
      const device = (request as { device?: { path?: string; type?: string } } | null)?.device;
      return { path: sysPaths.auditDevice(device?.path || device?.type || ""), operation: "update" };
    }
    case "SysService/DisableAuditDevice":
      return { path: sysPaths.auditDevice(field(request, "path")), operation: "delete" };
    case "SysService/ListAuditDevices":
      return { path: sysPaths.audit, operation: "read" };
    case "SysService/HashAuditValue":
      return { path: sysPaths.auditHash, operation: "update" };
    case "SysService/WriteRateLimitQuota":
      return { path: sysPaths.quota((request as { quota?: { name?: string } } | null)?.quota?.name ?? ""), operation: "update" };
    case "SysService/ReadRateLimitQuota":
      return { path: sysPaths.quota(field(request, "name")), operation: "read" };
    case "SysService/DeleteRateLimitQuota":
      return { path: sysPaths.quota(field(request, "name")), operation: "delete" };
    case "SysService/ListRateLimitQuotas":
      return { path: sysPaths.quotas, operation: "list" };
    case "SysService/RotateEncryptionKey":
    case "SysService/PruneEncryptionKeys":
      return { path: sysPaths.rotate, operation: "update" };
    case "SysService/GetEncryptionKeyStatus":
      return { path: sysPaths.keyStatus, operation: "read" };
    default:
      return { path: method, operation: "read" };
  }
}
