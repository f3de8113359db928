// Access control: may these policies perform this capability on this path?
// Evaluated on every request, so the policies a token holds are merged and
// compiled once per distinct set (cached until any policy changes): an exact
// path is one map lookup, the globbed rules a short scan.
//
// Matching is Vault's: an exact rule wins; otherwise the highest-priority
// glob (`*` at the end) or segment wildcard (`+`) rule that matches, where
// priority is: the first wildcard later in the pattern, then not ending in
// `*`, then fewer `+` segments, then longer, then lexically greater. Rules
// for the same pattern in several policies are merged, and deny on the
// chosen rule wins over anything granted.
import { LessorError } from "../errors.js";
import { CAP_BITS, type PathRule } from "./policy.js";

export type Capability = "create" | "read" | "update" | "delete" | "list" | "sudo";

interface GlobRule {
  pattern: string;
  /** Without the trailing "*". */
  prefix: string;
  glob: boolean;
  /** Segments, "+" matching any one; for glob rules the last may be a partial prefix. */
  segments: string[] | undefined;
  bits: number;
  firstWildcard: number;
  plusCount: number;
}

interface CompiledAcl {
  root: boolean;
  exact: Map<string, number>;
  globs: GlobRule[];
}

export class Acl {
  private readonly rules = new Map<string, readonly PathRule[]>();
  private readonly compiled = new Map<string, CompiledAcl>();

  /** Installs (or replaces) a named policy's rules; every cached merge is dropped. */
  setPolicy(name: string, rules: readonly PathRule[]): void {
    this.rules.set(name, rules);
    this.compiled.clear();
  }

  /** Replaces every named policy at once (reloaded from the store). */
  replacePolicies(policies: ReadonlyMap<string, readonly PathRule[]>): void {
    this.rules.clear();
    for (const [name, rules] of policies) this.rules.set(name, rules);
    this.compiled.clear();
  }

  removePolicy(name: string): void {
    this.rules.delete(name);
    this.compiled.clear();
  }

  /** Throws PERMISSION_DENIED naming the path and the capability that was missing. */
  check(policies: readonly string[], path: string, capability: Capability): void {
    if (this.allows(policies, path, capability)) return;
    const denied = (allowedBits(this.compile(policies), path, capability === "list") & CAP_BITS.deny) !== 0;
    throw LessorError.permissionDenied(
      `permission denied: "${capability}" on path "${path}" is ${denied ? "denied" : "not granted"} by policies [${policies.join(", ")}]`,
      "PERMISSION_DENIED",
      { path, capability },
    );
  }

  /** Whether the policies grant the capability on the path (check() without the error). */
  allows(policies: readonly string[], path: string, capability: Capability): boolean {
    const acl = this.compile(policies);
    if (acl.root) return true;
    const bits = allowedBits(acl, path, capability === "list");
    return (bits & CAP_BITS[capability]) !== 0 && (bits & CAP_BITS.deny) === 0;
  }

  /** What these policies grant on a path (as `lessor token capabilities` would show). */
  capabilities(policies: readonly string[], path: string): string[] {
    const acl = this.compile(policies);
    if (acl.root) return ["root"];
    const bits = allowedBits(acl, path, false);
    if (bits & CAP_BITS.deny || bits === 0) return ["deny"];
    return (Object.keys(CAP_BITS) as Array<keyof typeof CAP_BITS>).filter((c) => bits & CAP_BITS[c]);
  }

  private compile(policies: readonly string[]): CompiledAcl {
    const key = policies.length === 1 ? (policies[0] as string) : [...policies].sort().join("\u0000");
    let acl = this.compiled.get(key);
    if (acl) return acl;
    acl = { root: policies.includes("root"), exact: new Map(), globs: [] };
    const globs = new Map<string, GlobRule>();
    for (const name of new Set(policies)) {
      for (const rule of this.rules.get(name) ?? []) {
        const glob = rule.path.endsWith("*");
        const hasPlus = rule.path.split("/").includes("+");
        if (!glob && !hasPlus) {
          acl.exact.set(rule.path, (acl.exact.get(rule.path) ?? 0) | rule.bits);
          continue;
        }
        const existing = globs.get(rule.path);
        if (existing) {
          existing.bits |= rule.bits;
          continue;
        }
        const prefix = glob ? rule.path.slice(0, -1) : rule.path;
        const star = glob ? rule.path.length - 1 : Infinity;
        const plus = hasPlus ? plusIndex(rule.path) : Infinity;
        globs.set(rule.path, {
          pattern: rule.path,
          prefix,
          glob,
          segments: hasPlus ? prefix.split("/") : undefined,
          bits: rule.bits,
          firstWildcard: Math.min(star, plus),
          plusCount: hasPlus ? rule.path.split("/").filter((s) => s === "+").length : 0,
        });
      }
    }
    for (const [path, bits] of acl.exact) if (bits & CAP_BITS.deny) acl.exact.set(path, CAP_BITS.deny);
    for (const g of globs.values()) if (g.bits & CAP_BITS.deny) g.bits = CAP_BITS.deny;
    // Highest priority first, so the first match is the one that counts.
    acl.globs = [...globs.values()].sort((a, b) => -comparePriority(a, b));
    this.compiled.set(key, acl);
    return acl;
  }
}

function plusIndex(path: string): number {
  const segments = path.split("/");
  let offset = 0;
  for (const s of segments) {
    if (s === "+") return offset;
    offset += s.length + 1;
  }
  return Infinity;
}

/** Positive when a has the higher priority (Vault's ordering). */
function comparePriority(a: GlobRule, b: GlobRule): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard - b.firstWildcard;
  if (a.glob !== b.glob) return a.glob ? -1 : 1;
  if (a.plusCount !== b.plusCount) return b.plusCount - a.plusCount;
  if (a.pattern.length !== b.pattern.length) return a.pattern.length - b.pattern.length;
  return a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0;
}

function allowedBits(acl: CompiledAcl, path: string, list: boolean): number {
  const exact = acl.exact.get(path);
  if (exact !== undefined) return exact;
  if (list && path.endsWith("/")) {
    const trimmed = acl.exact.get(path.slice(0, -1));
    if (trimmed !== undefined) return trimmed;
  }
  let segments: string[] | undefined;
  for (const rule of acl.globs) {
    if (!rule.segments) {
      if (path.startsWith(rule.prefix)) return rule.bits;
      continue;
    }
    segments ??= path.split("/");
    if (segmentsMatch(rule, segments)) return rule.bits;
  }
  return 0;
}

function segmentsMatch(rule: GlobRule, path: string[]): boolean {
  const pattern = rule.segments as string[];
  if (rule.glob) {
    if (path.length < pattern.length) return false;
    for (let i = 0; i < pattern.length; i++) {
      const p = pattern[i] as string;
      const s = path[i] as string;
      if (i === pattern.length - 1) return p === "+" || s.startsWith(p);
      if (p !== "+" && p !== s) return false;
    }
    return true;
  }
  if (path.length !== pattern.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    if (p !== "+" && p !== path[i]) return false;
  }
  return true;
}
