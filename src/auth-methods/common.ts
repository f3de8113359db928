// What every auth method shares: Vault's common token fields on a role
// (token_policies, token_ttl, ...), the identity a login returns from them,
// and the one refusal every failed check gives. A method proves who the
// caller is; the token authority mints the token (see Router.dispatch).
import { isIP } from "node:net";
import { Code, LessorError } from "../errors.js";
import type { FieldSpecs, FieldValue, LoginIdentity } from "../engines/framework/types.js";
import { z } from "zod";

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

function checkCidrs(value: FieldValue): string | undefined {
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
