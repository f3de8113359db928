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
//
// A rule's path may hold templates ({{token.metadata.<key>}},
// {{token.display_name}}) filled from the requesting token: one policy then
// serves every service (`secret/{{token.metadata.namespace}}/*`). A template
// whose value is missing, or would put a glob or a separator into the path,
// makes its rule match nothing. Sets of policies with templates are compiled
// per set of values, in a bounded cache.
import { LessorError } from "../errors.js";
import { CAP_BITS, PATH_TEMPLATE, type PathRule } from "./policy.js";

export type Capability = "create" | "read" | "update" | "delete" | "list" | "sudo";

/** Who asks: the token's policies and what templated rules are filled from. */
export interface Principal {
  policies: readonly string[];
  metadata?: Readonly<Record<string, string>>;
  displayName?: string;
}

/** Compiled sets kept at most (a set with templates is kept per distinct token identity). */
const MAX_COMPILED = 10_000;

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

  /** Names of the policies with templated rules. */
  private readonly templated = new Set<string>();

  /** Installs (or replaces) a named policy's rules; every cached merge is dropped. */
  setPolicy(name: string, rules: readonly PathRule[]): void {
    this.rules.set(name, rules);
    this.noteTemplates(name, rules);
    this.compiled.clear();
  }

  private noteTemplates(name: string, rules: readonly PathRule[]): void {
    if (rules.some((r) => r.path.includes("{{"))) this.templated.add(name);
    else this.templated.delete(name);
  }

  /** Replaces every named policy at once (reloaded from the store). */
  replacePolicies(policies: ReadonlyMap<string, readonly PathRule[]>): void {
    this.rules.clear();
    this.templated.clear();
    for (const [name, rules] of policies) {
      this.rules.set(name, rules);
      this.noteTemplates(name, rules);
    }
    this.compiled.clear();
  }

  removePolicy(name: string): void {
    this.rules.delete(name);
    this.templated.delete(name);
    this.compiled.clear();
  }

  /** Throws PERMISSION_DENIED naming the path and the capability that was missing. */
  check(who: Principal, path: string, capability: Capability): void {
    if (this.allows(who, path, capability)) return;
    const { policies } = who;
    const denied = (allowedBits(this.compile(who), path, capability === "list") & CAP_BITS.deny) !== 0;
    throw LessorError.permissionDenied(
      `permission denied: "${capability}" on path "${path}" is ${denied ? "denied" : "not granted"} by policies [${policies.join(", ")}]`,
      "PERMISSION_DENIED",
      { path, capability },
    );
  }

  /** Whether the policies grant the capability on the path (check() without the error). */
  allows(who: Principal, path: string, capability: Capability): boolean {
    const acl = this.compile(who);
    if (acl.root) return true;
    const bits = allowedBits(acl, path, capability === "list");
    return (bits & CAP_BITS[capability]) !== 0 && (bits & CAP_BITS.deny) === 0;
  }

  /** What these policies grant on a path (as `lessor token capabilities` would show). */
  capabilities(who: Principal, path: string): string[] {
    const acl = this.compile(who);
    if (acl.root) return ["root"];
    const bits = allowedBits(acl, path, false);
    if (bits & CAP_BITS.deny || bits === 0) return ["deny"];
    return (Object.keys(CAP_BITS) as Array<keyof typeof CAP_BITS>).filter((c) => bits & CAP_BITS[c]);
  }

  private compile(who: Principal): CompiledAcl {
    const { policies } = who;
    const setKey = policies.length === 1 ? (policies[0] as string) : [...policies].sort().join("\u0000");
    const templated = this.templated.size > 0 && policies.some((p) => this.templated.has(p));
    const key = templated ? `${setKey}\u0001${JSON.stringify([who.displayName ?? null, Object.entries(who.metadata ?? {}).sort()])}` : setKey;
    let acl = this.compiled.get(key);
    if (acl) return acl;
    acl = { root: policies.includes("root"), exact: new Map(), globs: [] };
    const globs = new Map<string, GlobRule>();
    for (const name of new Set(policies)) {
      for (const written of this.rules.get(name) ?? []) {
        const rule = templated ? fillTemplates(written, who) : written;
        if (!rule) continue;
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
    if (this.compiled.size >= MAX_COMPILED) this.compiled.clear();
    this.compiled.set(key, acl);
    return acl;
  }
}

/**
 * A rule with its templates filled from the principal, or undefined when one
 * cannot be: a missing value, or one that would change the path's shape
 * (a "/", a glob, another template) makes the rule match nothing.
 */
function fillTemplates(rule: PathRule, who: Principal): PathRule | undefined {
  if (!rule.path.includes("{{")) return rule;
  let missing = false;
  const path = rule.path.replace(PATH_TEMPLATE, (_whole, key: string | undefined) => {
    const value = key !== undefined ? who.metadata?.[key] : who.displayName;
    if (value === undefined || value === "" || /[/*+{}]/.test(value) || value === "." || value === "..") {
      missing = true;
      return "";
    }
    return value;
  });
  return missing ? undefined : { path, bits: rule.bits };
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
