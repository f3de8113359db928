// What every auth method shares: Vault's common token fields on a role
// (token_policies, token_ttl, ...), the identity a login returns from them,
// and the one refusal every failed check gives. A method proves who the
// caller is; the token authority mints the token (see Router.dispatch).
import { isIP, isIPv6 } from "node:net";
import { Code, LessorError, type FieldViolation } from "../errors.js";
import { cidrBlocks } from "../auth/tokens.js";
import type { FieldSpecs, FieldValue, LoginIdentity } from "../engines/framework/types.js";
import { z } from "zod";

/** Names of roles (Vault's GenericNameRegex): letters, digits, '_', '-' and '.', starting and ending with a letter or digit. */
export const ROLE_NAME = /^\w(?:[\w.-]{0,126}\w)?$/;

/** INVALID_ARGUMENT naming `name` unless it is a role name. */
export function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name)) {
    throw LessorError.invalidField("name", "role names are 1 to 128 letters, digits, '_', '-' or '.', starting and ending with a letter or digit");
  }
}

/** Vault's token fields, taken by every role of every method. */
export const TOKEN_FIELDS = {
  token_policies: { type: "list", description: "Policies of the tokens this role's logins get (plus default, unless token_no_default_policy).", default: [] },
  token_ttl: { type: "duration", description: "TTL of the tokens (default 768h).", default: 0 },
  token_max_ttl: { type: "duration", description: "Renewals never go past this (default 768h).", default: 0 },
  token_num_uses: { type: "int", description: "Uses before the token stops working; 0 for unlimited.", default: 0 },
  token_bound_cidrs: {
    type: "list",
    description: "CIDR blocks (or addresses) the token may be used from; empty for anywhere.",
    default: [],
    check: checkCidrs,
  },
  token_type: { type: "string", description: 'Only "service" (or "default") tokens are made.', default: "default", allowed: ["service", "default"] },
  token_no_default_policy: { type: "bool", description: "Leave the default policy off the tokens.", default: false },
} satisfies FieldSpecs;

/** The token fields as a role stores them. */
export const tokenSettingsSchema = z.object({
  token_policies: z.array(z.string()).default([]),
  token_ttl: z.number().default(0),
  token_max_ttl: z.number().default(0),
  token_num_uses: z.number().default(0),
  token_bound_cidrs: z.array(z.string()).default([]),
  token_type: z.string().default("default"),
  token_no_default_policy: z.boolean().default(false),
});

export type TokenSettings = z.infer<typeof tokenSettingsSchema>;

/** The identity a login returns: the role's token settings, and what the method knows of the caller. */
export function loginIdentity(settings: TokenSettings, displayName: string, metadata: Record<string, string>): LoginIdentity {
  return {
    displayName,
    metadata,
    policies: settings.token_policies,
    noDefaultPolicy: settings.token_no_default_policy,
    ttlSeconds: settings.token_ttl,
    maxTtlSeconds: settings.token_max_ttl,
    numUses: settings.token_num_uses,
    boundCidrs: settings.token_bound_cidrs,
  };
}

/**
 * The refusal of a login: the same message whatever check failed, so a
 * guesser learns nothing; `why` goes to the server log and the audit log.
 */
export function loginRefused(why: string): LessorError {
  return new LessorError(Code.PERMISSION_DENIED, "permission denied: the login was refused", { reason: "LOGIN_REFUSED", detail: why });
}

/** What is wrong with a role's token settings taken together. */
export function tokenSettingsViolations(settings: TokenSettings): FieldViolation[] {
  if (settings.token_max_ttl > 0 && settings.token_ttl > settings.token_max_ttl) {
    return [{ field: "token_ttl", description: "must not be longer than token_max_ttl" }];
  }
  return [];
}

/**
 * A stored role updated with the fields a write gave (Vault's roles take
 * partial updates): `stored` as it was, overlaid with the provided `names`.
 */
export function withProvided(stored: Record<string, unknown> | undefined, fields: Record<string, unknown>, provided: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...stored };
  for (const name of provided) if (Object.hasOwn(fields, name)) out[name] = fields[name];
  return out;
}

/** Whether a connection's address lies in one of the CIDR blocks (an empty list allows any). */
export function addressAllowed(cidrs: readonly string[], remoteAddress: string): boolean {
  if (cidrs.length === 0) return true;
  const address = remoteAddress.replace(/^::ffff:/, "");
  if (isIP(address) === 0) return false;
  return cidrBlocks(cidrs).check(address, isIPv6(address) ? "ipv6" : "ipv4");
}

/** A field check: every item is a CIDR block or an address. */
export function checkCidrs(value: FieldValue): string | undefined {
  const items = Array.isArray(value) ? value : [];
  for (const item of items) {
    if (typeof item !== "string" || !isCidr(item)) return `"${String(item).slice(0, 64)}" is not a CIDR block such as 10.0.0.0/8 or an address`;
  }
  return undefined;
}

export function isCidr(text: string): boolean {
  const [address = "", bits, extra] = text.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
  return n >= 0 && n <= (family === 4 ? 32 : 128);
}
