// auth/<jwt>/role/<name>: what a JWT must say to log in with the role
// (audiences, subject, bound claims, times) and what its token carries
// (the user claim as display name, claim mappings as metadata, the token
// fields). Vault's names, defaults and rules.
import { z } from "zod";
import type { FieldViolation } from "../../errors.js";
import type { FieldSpecs, FieldValue, FieldValues, JsonValue } from "../../engines/framework/types.js";
import { parseDuration } from "../../util/duration.js";
import { TOKEN_FIELDS, tokenSettingsSchema } from "../common.js";
import { DEFAULT_LEEWAY } from "./claims.js";

const MAX_BOUND_CLAIMS = 64;

/** A leeway: a duration, 0 for the default, or -1 for none (Vault's signed durations). */
export function parseLeeway(input: string): number | string {
  const text = input.trim();
  if (text === "-1") return -1;
  const parsed = parseDuration(text);
  return "error" in parsed ? `${parsed.error}; or -1 for no leeway` : parsed.seconds;
}

const leeway = (fallback: number, what: string) =>
  ({
    type: "string",
    description: `Leeway for ${what}, in seconds or as a duration; 0: ${fallback}s, -1: none.`,
    default: String(fallback),
    check: (v: FieldValue) => {
      const parsed = parseLeeway(String(v));
      return typeof parsed === "string" ? parsed : undefined;
    },
  }) as const;

/** bound_claims as given: an object of claim (or JSON pointer) → a value or a list of values. */
function boundClaimsOf(value: JsonValue): Record<string, string[]> | string {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "must be a JSON object of claim names (or JSON pointers) to a value or a list of values";
  const entries = Object.entries(value);
  if (entries.length > MAX_BOUND_CLAIMS) return `has more than ${MAX_BOUND_CLAIMS} claims`;
  const out: Record<string, string[]> = {};
  for (const [claim, expected] of entries) {
    const items = Array.isArray(expected) ? expected : [expected];
    if (claim === "" || items.length === 0 || items.some((i) => typeof i !== "string" && typeof i !== "number" && typeof i !== "boolean")) {
      return `"${claim.slice(0, 64)}" must name a claim and map to a string or a list of strings`;
    }
    out[claim] = items.map(String);
  }
  return out;
}

export const ROLE_FIELDS = {
  ...TOKEN_FIELDS,
  role_type: { type: "string", description: 'Only "jwt" roles (login with a JWT); OIDC browser logins are not offered.', default: "jwt", allowed: ["jwt"] },
  bound_audiences: { type: "list", description: "aud values accepted (any one suffices); required when tokens carry an aud.", default: [] },
  bound_subject: { type: "string", description: "The sub claim a token must have; empty for any.", default: "" },
  bound_claims_type: { type: "string", description: 'How bound_claims values match: "string" (exactly) or "glob" (* matches anything).', default: "string", allowed: ["string", "glob"] },
  bound_claims: {
    type: "json",
    description: 'Claims a token must have: {"claim": "value" or ["v1", "v2"]}; keys may be JSON pointers ("/kubernetes.io/namespace").',
    default: {},
    check: (v) => {
      const parsed = boundClaimsOf(v as JsonValue);
      return typeof parsed === "string" ? parsed : undefined;
    },
  },
  user_claim: { type: "string", description: "The claim naming the caller (the token's display name), e.g. sub.", default: "" },
  user_claim_json_pointer: { type: "bool", description: "Read user_claim as a JSON pointer.", default: false },
  claim_mappings: { type: "map", description: "Claims (or JSON pointers) copied to the token's metadata: claim=metadata_key.", default: {} },
  clock_skew_leeway: leeway(DEFAULT_LEEWAY.clockSkew, "clock skew in every time check"),
  expiration_leeway: leeway(DEFAULT_LEEWAY.expiration, "a token without exp: valid this long after its iat or nbf"),
  not_before_leeway: leeway(DEFAULT_LEEWAY.notBefore, "a token without nbf or iat: valid from this long before its exp"),
} satisfies FieldSpecs;

export const roleSchema = tokenSettingsSchema.extend({
  role_type: z.literal("jwt").default("jwt"),
  bound_audiences: z.array(z.string()).default([]),
  bound_subject: z.string().default(""),
  bound_claims_type: z.enum(["string", "glob"]).default("string"),
  bound_claims: z.record(z.string(), z.array(z.string())).default({}),
  user_claim: z.string().default(""),
  user_claim_json_pointer: z.boolean().default(false),
  claim_mappings: z.record(z.string(), z.string()).default({}),
  clock_skew_leeway: z.number().default(DEFAULT_LEEWAY.clockSkew),
  expiration_leeway: z.number().default(DEFAULT_LEEWAY.expiration),
  not_before_leeway: z.number().default(DEFAULT_LEEWAY.notBefore),
});
export type JwtRole = z.infer<typeof roleSchema>;

/** The fields of a write as stored: leeways in seconds, bound claims as lists. */
export function roleUpdates(fields: FieldValues<typeof ROLE_FIELDS>): Record<string, unknown> {
  const bound = boundClaimsOf(fields.bound_claims);
  return {
    ...fields,
    bound_claims: typeof bound === "string" ? {} : bound,
    clock_skew_leeway: parseLeeway(fields.clock_skew_leeway),
    expiration_leeway: parseLeeway(fields.expiration_leeway),
    not_before_leeway: parseLeeway(fields.not_before_leeway),
  };
}

/** What is wrong with a role as a whole (Vault's rules). */
export function roleViolations(role: JwtRole): FieldViolation[] {
  const v: FieldViolation[] = [];
  if (role.user_claim === "") v.push({ field: "user_claim", description: "is required: the claim that names the caller, e.g. sub" });
  if (role.bound_audiences.length === 0 && role.bound_subject === "" && Object.keys(role.bound_claims).length === 0 && role.token_bound_cidrs.length === 0) {
    v.push({ field: "bound_audiences", description: "a role needs at least one of bound_audiences, bound_subject, bound_claims or token_bound_cidrs" });
  }
  const targets = Object.values(role.claim_mappings);
  if (targets.includes("role")) v.push({ field: "claim_mappings", description: 'metadata key "role" is reserved (it names the role)' });
  const twice = targets.find((t, i) => targets.indexOf(t) !== i);
  if (twice !== undefined) v.push({ field: "claim_mappings", description: `several claims map to metadata key "${twice.slice(0, 64)}"` });
  return v;
}
