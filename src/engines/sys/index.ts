// The built-in sys/ backend: mounts, auth methods, policies, audit devices,
// quotas, encryption keys and leases, declared with the same framework as
// every engine, so routing, validation, `lessor path-help sys/...`, and which
// paths need sudo all come from these declarations. The typed gRPC methods
// (MountService, PolicyService, SysService, LeaseService) map onto these paths.
import type { Engine, PathsSpecial } from "../framework/types.js";
import { configPaths } from "./config.js";
import { leasePaths } from "./leases.js";
import type { SystemParts } from "./parts.js";

export type { SystemParts } from "./parts.js";

/** Where the backend is mounted. */
export const SYS_PATH = "sys/";

/**
 * Root-protected paths: the operation's capability and sudo. Reading a policy
 * and listing policies need no sudo; changing one does.
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
    { path: "leases/lookup/*", operations: ["list"] },
    "leases/revoke-force/*",
    "leases/revoke-prefix/*",
  ],
};

export function systemBackend(parts: SystemParts): Engine {
  return { paths: [...configPaths(parts), ...leasePaths(parts)], secrets: {} };
}
