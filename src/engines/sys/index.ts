// The built-in sys/ backend: mounts, auth methods, policies, audit devices,
// quotas, encryption keys, leases, and health, seal status and capabilities, declared with the same framework as
// every engine, so routing, validation, `lessor path-help sys/...`, and which
// paths need sudo all come from these declarations. The typed gRPC methods
// (MountService, PolicyService, SysService, LeaseService) map onto these paths.
import type { Engine, PathsSpecial } from "../framework/types.js";
import { configPaths } from "./config.js";
import { leasePaths } from "./leases.js";
import { statusPaths } from "./status.js";
import type { SystemParts } from "./parts.js";

export type { ServerInfo, SystemParts } from "./parts.js";

/** Where the backend is mounted. */
export const SYS_PATH = "sys/";

/**
 * Root-protected paths: the operation's capability and sudo. Reading a policy
 * and listing policies need no sudo; changing one does. Health and seal
 * status answer without a token, as in Vault.
 */
export const SYS_SPECIAL: PathsSpecial = {
  root: [
    "mounts/*",
    "auth/*",
    { path: "policies/acl/*", operations: ["write", "delete"] },
    "audit",
    "audit/*",
    "quotas/*",
    "rotate",
    "rotate/*",
    "key-status",
    { path: "policy/*", operations: ["write", "delete"] },
    { path: "leases/lookup/*", operations: ["list"] },
    "leases/revoke-force/*",
    "leases/revoke-prefix/*",
    "revoke-force/*",
    "revoke-prefix/*",
  ],
  unauthenticated: ["health", "seal-status"],
};

export function systemBackend(parts: SystemParts): Engine {
  return { paths: [...configPaths(parts), ...leasePaths(parts), ...statusPaths(parts)], secrets: {} };
}
