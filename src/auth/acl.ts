// Access control: may these policies perform this capability on this path?
import { LessorError } from "../errors.js";

export type Capability = "create" | "read" | "update" | "delete" | "list" | "sudo";

export class Acl {
  /** Throws PERMISSION_DENIED naming the path and the capability that was missing. */
  check(policies: readonly string[], path: string, capability: Capability): void {
    if (policies.includes("root")) return;
    throw LessorError.permissionDenied(
      `permission denied: "${capability}" on path "${path}" is not granted by policies [${policies.join(", ")}]`,
      "PERMISSION_DENIED",
      { path, capability },
    );
  }
}
