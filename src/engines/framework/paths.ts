// Path patterns: "config/root", "roles/:name" (one segment), "roles/" (the
// folder itself, for list), "*path" (the rest, at least one character) and
// "*path?" (the rest, possibly empty). Compiled once per engine.
import type { PathSpec } from "./types.js";

export interface CompiledPath {
  spec: PathSpec;
  regex: RegExp;
  names: string[];
}

export interface PathMatch {
  spec: PathSpec;
  params: Record<string, string>;
}

export function compilePaths(specs: readonly PathSpec[]): CompiledPath[] {
  return specs.map((spec) => {
    const names: string[] = [];
    const parts = spec.pattern.split("/").map((segment, i, all) => {
      if (segment.startsWith(":")) {
        names.push(segment.slice(1));
        return "([^/]+)";
      }
      if (segment.startsWith("*")) {
        const optional = segment.endsWith("?");
        names.push(segment.slice(1, optional ? -1 : undefined));
        return optional ? "(.*)" : "(.+)";
      }
      // A trailing empty segment ("roles/") makes the slash optional.
      if (segment === "" && i === all.length - 1) return "";
      return escapeRegex(segment);
    });
    const source = parts.join("/").replace(/\/$/, "/?");
    return { spec, regex: new RegExp(`^${source}$`), names };
  });
}

export function matchPath(compiled: readonly CompiledPath[], path: string): PathMatch | undefined {
  for (const c of compiled) {
    const m = c.regex.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    c.names.forEach((name, i) => {
      params[name] = m[i + 1] ?? "";
    });
    return { spec: c.spec, params };
  }
  return undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
