// ACL policies in Vault's language, HCL or JSON:
//   path "aws/creds/*"  { capabilities = ["read"] }
//   path "secret/+/db"  { capabilities = ["read", "list"] }
// Parsing turns the text into rules or an INVALID_ARGUMENT naming the line,
// the path and what is wrong; rules are compiled once into the matchers
// acl.ts evaluates on every request.
import { LessorError } from "../errors.js";
import { HclError, HCL_LIMITS, parseHcl, type HclBody, type HclValue } from "../util/hcl.js";

export const CAPABILITIES = ["create", "read", "update", "delete", "list", "sudo", "deny"] as const;
export type PolicyCapability = (typeof CAPABILITIES)[number];

/** Bits of a capability set; deny is kept apart because it overrides the rest. */
export const CAP_BITS: Record<PolicyCapability, number> = {
  deny: 1,
  create: 2,
  read: 4,
  update: 8,
  delete: 16,
  list: 32,
  sudo: 64,
};

/** The old `policy = "write"` form, as Vault maps it. */
const LEGACY_POLICY: Record<string, PolicyCapability[]> = {
  deny: ["deny"],
  read: ["read", "list"],
  write: ["create", "read", "update", "delete", "list"],
  sudo: ["create", "read", "update", "delete", "list", "sudo"],
};

export const MAX_POLICY_BYTES = 256 * 1024;
const MAX_RULE_PATH = 1024;
export const POLICY_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/;

export interface PathRule {
  /** As written, without a leading slash: "aws/creds/*". */
  path: string;
  bits: number;
}

/** The built-in policy every token gets unless told otherwise, as Vault's. */
export const DEFAULT_POLICY_TEXT = `# Allow tokens to look up, renew and revoke themselves.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Allow a token to ask what it may do on a path.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Allow looking up and renewing leases (the lease id is the secret): by id in
# the path, or in the body (sys/renew is Vault's older path).
path "sys/leases/lookup/*" {
  capabilities = ["update"]
}

path "sys/leases/renew/*" {
  capabilities = ["update"]
}

path "sys/leases/lookup" {
  capabilities = ["update"]
}

path "sys/leases/renew" {
  capabilities = ["update"]
}

path "sys/renew" {
  capabilities = ["update"]
}
`;

export const ROOT_POLICY_TEXT = "# root: every capability on every path. Built in; it cannot be changed or deleted.\n";

function invalid(description: string): LessorError {
  return LessorError.invalidField("policy", description);
}

/** Parses policy text (HCL, or JSON when it starts with "{"); throws INVALID_ARGUMENT naming the problem. */
export function parsePolicy(text: string): PathRule[] {
  if (Buffer.byteLength(text, "utf8") > MAX_POLICY_BYTES) throw invalid(`is larger than ${MAX_POLICY_BYTES / 1024} KiB`);
  if (text.includes("\uFFFD")) throw invalid("is not valid UTF-8");
  if (/\u0000/.test(text)) throw invalid("contains a NUL character");
  const trimmed = text.trim();
  if (trimmed === "") throw invalid("is empty: give at least one path rule");
  let body: HclBody;
  if (trimmed.startsWith("{")) body = fromJson(trimmed);
  else {
    try {
      body = parseHcl(text);
    } catch (err) {
      if (err instanceof HclError) throw invalid(`is not valid HCL: ${err.message}`);
      throw err;
    }
  }
  return rulesOf(body);
}

/** JSON policies ({"path": {"a/*": {"capabilities": ["read"]}}}) become the HCL shape. */
function fromJson(text: string): HclBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(`is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  let items = 0;
  const convert = (v: unknown, depth: number): HclValue => {
    if (depth > HCL_LIMITS.depth) throw invalid(`is nested deeper than ${HCL_LIMITS.depth} levels`);
    if (++items > HCL_LIMITS.items) throw invalid(`has more than ${HCL_LIMITS.items} values`);
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
    if (Array.isArray(v)) return v.map((x) => convert(x, depth + 1));
    if (v !== null && typeof v === "object") {
      return {
        kind: "body",
        items: Object.entries(v as Record<string, unknown>).map(([key, x]) => ({ key, labels: [], value: convert(x, depth + 1), line: 0, column: 0 })),
      };
    }
    throw invalid("contains null, which no policy field takes");
  };
  const root = convert(parsed, 0);
  if (typeof root !== "object" || Array.isArray(root)) throw invalid("must be a JSON object with a \"path\" key");
  return root;
}

function rulesOf(body: HclBody): PathRule[] {
  const rules: PathRule[] = [];
  for (const item of body.items) {
    const where = item.line > 0 ? ` (line ${item.line})` : "";
    if (item.key === "name") continue; // Vault accepts and ignores a name.
    if (item.key !== "path") throw invalid(`unknown key "${printable(item.key)}"${where}; a policy holds path "<path>" { capabilities = [...] } blocks`);
    if (item.labels.length === 1) {
      rules.push(rule(item.labels[0] as string, item.value, where));
      continue;
    }
    if (item.labels.length > 1) throw invalid(`path block takes one label, the path${where}`);
    // `path = { "a/*" = {...} }` (HCL) or "path": {...} / [{...}] (JSON).
    const entries = Array.isArray(item.value) ? item.value : [item.value];
    for (const entry of entries) {
      if (typeof entry !== "object" || Array.isArray(entry)) throw invalid(`"path" must map paths to rules${where}`);
      for (const p of entry.items) {
        const values = Array.isArray(p.value) && p.value.every((x) => typeof x === "object" && !Array.isArray(x)) ? p.value : [p.value];
        for (const v of values) rules.push(rule(p.key, v, p.line > 0 ? ` (line ${p.line})` : where));
      }
    }
  }
  if (rules.length === 0) throw invalid("has no path rules");
  return rules;
}

function rule(rawPath: string, value: HclValue, where: string): PathRule {
  const path = rawPath.replace(/^\/+/, "");
  const shown = `path "${printable(path)}"${where}`;
  if (path.length > MAX_RULE_PATH) throw invalid(`path is longer than ${MAX_RULE_PATH} characters${where}`);
  if (/[\u0000-\u001f\u007f]/.test(path)) throw invalid(`${shown} contains control characters`);
  if (path.slice(0, -1).includes("*")) throw invalid(`${shown}: "*" is a glob only at the end of a path`);
  const unknownTemplate = templateProblem(path);
  if (unknownTemplate) throw invalid(`${shown}: ${unknownTemplate}`);
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(`${shown} must be a block: { capabilities = [...] }`);
  let bits = 0;
  let seen = false;
  for (const field of value.items) {
    if (field.key === "capabilities") {
      seen = true;
      const list = Array.isArray(field.value) ? field.value : [field.value];
      for (const cap of list) {
        if (typeof cap !== "string") throw invalid(`${shown}: capabilities must be strings, not ${typeof cap === "object" ? "a list or object" : String(cap)}`);
        const bit = CAP_BITS[cap.toLowerCase() as PolicyCapability];
        if (bit === undefined) {
          throw invalid(`${shown}: unknown capability "${printable(cap)}"; use ${CAPABILITIES.join(", ")}`);
        }
        bits |= bit;
      }
    } else if (field.key === "policy") {
      seen = true;
      const legacy = typeof field.value === "string" ? LEGACY_POLICY[field.value.toLowerCase()] : undefined;
      if (!legacy) throw invalid(`${shown}: policy must be one of ${Object.keys(LEGACY_POLICY).join(", ")}`);
      for (const cap of legacy) bits |= CAP_BITS[cap];
    } else {
      throw invalid(`${shown}: unknown key "${printable(field.key)}"; Lessor's rules take capabilities (or the older policy)`);
    }
  }
  if (!seen) throw invalid(`${shown} has no capabilities`);
  // Deny overrides everything else on the rule (as in Vault).
  if (bits & CAP_BITS.deny) bits = CAP_BITS.deny;
  return { path, bits };
}

/** The templates a policy path may hold: filled from the requesting token, per request. */
export const PATH_TEMPLATE = /\{\{\s*token\.(?:metadata\.([A-Za-z0-9_.-]{1,128})|(display_name))\s*\}\}/g;

function templateProblem(path: string): string | undefined {
  const rest = path.replace(PATH_TEMPLATE, "");
  if (rest.includes("{{") || rest.includes("}}")) {
    return "the only templates are {{token.metadata.<key>}} and {{token.display_name}}";
  }
  return undefined;
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e\u00a0-\uffff]/g, "?").replace(/\uFFFD/g, "?");
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

/** Validates a policy name (lower-cased, as Vault does); throws INVALID_ARGUMENT. */
export function policyName(raw: string): string {
  const name = raw.trim().toLowerCase();
  if (name === "") throw LessorError.invalidField("name", "is required");
  if (!POLICY_NAME.test(name)) {
    throw LessorError.invalidField("name", "must be 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit");
  }
  return name;
}
