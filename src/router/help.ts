// The built-in help system: everything `lessor path-help` prints comes from
// the engine's declarations (pattern, synopsis, fields, operations).
import type { PathHelpResponse } from "@lessor/client/gen/lessor/v1/secrets.js";
import { OPERATIONS, type FieldSpec } from "../engines/framework/types.js";
import type { Router } from "./router.js";

function renderDefault(spec: FieldSpec): string {
  if (spec.default === undefined) return "";
  if (spec.type === "duration" && typeof spec.default === "number") return `${spec.default}s`;
  return typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
}

export function describePath(router: Router, path: string): PathHelpResponse {
  const { mounted, spec } = router.resolve(path);
  return {
    pattern: mounted.mount.path + spec.pattern,
    engineType: mounted.mount.type,
    synopsis: spec.synopsis,
    description: spec.description ?? "",
    operations: OPERATIONS.filter((op) => spec.operations[op] !== undefined).map((op) => (op === "write" ? "create/update" : op)),
    fields: Object.entries(spec.fields).map(([name, f]) => ({
      name,
      type: f.type,
      required: f.required ?? false,
      description: f.description,
      defaultValue: renderDefault(f),
      writeOnly: f.writeOnly ?? false,
      deprecation: f.deprecated ?? "",
    })),
    enginePaths: mounted.engine.paths.map((p) => mounted.mount.path + p.pattern),
  };
}
