// The built-in help system: everything `lessor path-help` prints comes from
// the backend's declarations (pattern, synopsis, fields, operations), for
// secrets engines and the built-in sys/ and auth/token/ backends alike.
import { OPERATIONS, type FieldSpec, type JsonObject } from "../engines/framework/types.js";
import type { Route } from "./router.js";

function renderDefault(spec: FieldSpec): string {
  if (spec.default === undefined) return "";
  if (spec.type === "duration" && typeof spec.default === "number") return `${spec.default}s`;
  return typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
}

/** What a route's path accepts, as data. */
export function describeRoute(route: Route): JsonObject {
  const { mounted, spec } = route;
  return {
    pattern: mounted.mount.path + spec.pattern,
    engine_type: mounted.mount.type,
    synopsis: spec.synopsis,
    description: spec.description ?? "",
    operations: OPERATIONS.filter((op) => spec.operations[op] !== undefined).map((op) => (op === "write" ? "create/update" : op)),
    fields: Object.entries(spec.fields).map(([name, f]) => ({
      name,
      type: f.type,
      required: f.required ?? false,
      description: f.description,
      default_value: renderDefault(f),
      write_only: f.writeOnly ?? false,
      deprecation: f.deprecated ?? "",
    })),
    engine_paths: mounted.engine.paths.map((p) => mounted.mount.path + p.pattern),
  };
}
