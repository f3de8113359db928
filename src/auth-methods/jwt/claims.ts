// What a verified JWT's claims must say for a role to accept it, as Vault's
// jwt method checks them: times (with its leeways), issuer, audience,
// subject, bound claims (exact or glob), and what the token then carries:
// the user claim as display name and the claim mappings as metadata. Pure
// functions: every refusal is loginRefused with the reason (claim names,
// never the token).
import { loginRefused } from "../common.js";
import { globMatch } from "../glob.js";

/** Seconds; Vault's defaults when a role's leeway is 0 (-1 turns one off). */
export const DEFAULT_LEEWAY = { clockSkew: 60, expiration: 150, notBefore: 150 } as const;
/** The longest metadata value a token takes (tokens.ts). */
const METADATA_VALUE_MAX = 512;

export interface ClaimRules {
  /** "" for any issuer. */
  boundIssuer: string;
  boundAudiences: readonly string[];
  /** "" for any subject. */
  boundSubject: string;
  boundClaims: Readonly<Record<string, readonly string[]>>;
  boundClaimsType: "string" | "glob";
  userClaim: string;
  userClaimJsonPointer: boolean;
  claimMappings: Readonly<Record<string, string>>;
  /** Seconds as the role stores them: 0 means the default, -1 none. */
  clockSkewLeeway: number;
  expirationLeeway: number;
  notBeforeLeeway: number;
}

export interface ClaimsIdentity {
  userName: string;
  metadata: Record<string, string>;
}

/** A leeway as the role stores it, in effect: 0 means the default, a negative value none. */
export function effectiveLeeway(stored: number, fallback: number): number {
  return stored < 0 ? 0 : stored === 0 ? fallback : stored;
}

/** Checks the claims against the rules at `nowSeconds`; returns who the token says the caller is. */
export function checkClaims(claims: Record<string, unknown>, rules: ClaimRules, nowSeconds: number): ClaimsIdentity {
  checkTimes(claims, rules, nowSeconds);
  if (rules.boundIssuer !== "" && claims.iss !== rules.boundIssuer) throw loginRefused("the iss claim is not the configured bound_issuer");
  checkAudience(claims.aud, rules.boundAudiences);
  if (rules.boundSubject !== "" && claims.sub !== rules.boundSubject) throw loginRefused("the sub claim is not the role's bound_subject");
  checkBoundClaims(claims, rules);
  const userValue = rules.userClaimJsonPointer || rules.userClaim.startsWith("/") ? claimAt(claims, rules.userClaim) : ownValue(claims, rules.userClaim);
  const userName = userValue === undefined ? undefined : asText(userValue);
  if (userName === undefined || userName === "") throw loginRefused(`the user_claim ${rules.userClaim} is missing from the token or is not a string`);
  return { userName, metadata: mappedMetadata(claims, rules.claimMappings) };
}

/** Vault's time rules: at least one of iat/nbf/exp; a missing exp or nbf is derived with the role's leeways. */
function checkTimes(claims: Record<string, unknown>, rules: ClaimRules, now: number): void {
  const iat = timeClaim(claims, "iat");
  const nbf = timeClaim(claims, "nbf");
  const exp = timeClaim(claims, "exp");
  if (iat === undefined && nbf === undefined && exp === undefined) throw loginRefused("the token has no iat, nbf or exp claim");
  const expiry = exp ?? Math.max(iat ?? 0, nbf ?? 0) + effectiveLeeway(rules.expirationLeeway, DEFAULT_LEEWAY.expiration);
  const notBefore = nbf ?? iat ?? expiry - effectiveLeeway(rules.notBeforeLeeway, DEFAULT_LEEWAY.notBefore);
  const skew = effectiveLeeway(rules.clockSkewLeeway, DEFAULT_LEEWAY.clockSkew);
  if (now + skew < notBefore) throw loginRefused("the token is not valid yet (nbf)");
  if (now - skew > expiry) throw loginRefused("the token has expired (exp)");
  if (iat !== undefined && now + skew < iat) throw loginRefused("the token was issued in the future (iat)");
}

function timeClaim(claims: Record<string, unknown>, name: "iat" | "nbf" | "exp"): number | undefined {
  const value = ownValue(claims, name);
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw loginRefused(`the ${name} claim is not a number`);
  return value;
}

function checkAudience(aud: unknown, bound: readonly string[]): void {
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === "string") : [];
  if (bound.length === 0) {
    if (audiences.length > 0) throw loginRefused("the token has an aud claim but the role binds no audience (bound_audiences)");
    return;
  }
  if (!bound.some((b) => audiences.includes(b))) throw loginRefused("the aud claim matches none of the role's bound_audiences");
}

function checkBoundClaims(claims: Record<string, unknown>, rules: ClaimRules): void {
  for (const [name, allowed] of Object.entries(rules.boundClaims)) {
    const value = name.startsWith("/") ? claimAt(claims, name) : ownValue(claims, name);
    if (value === undefined) throw loginRefused(`bound claim ${name} is missing from the token`);
    const actual = (Array.isArray(value) ? value : [value]).map(asText);
    const matches = (expected: string) => actual.some((a) => a !== undefined && (rules.boundClaimsType === "glob" ? globMatch(expected, a) : a === expected));
    if (!allowed.some(matches)) throw loginRefused(`bound claim ${name} does not match any of the role's values`);
  }
}

function mappedMetadata(claims: Record<string, unknown>, mappings: Readonly<Record<string, string>>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [claim, key] of Object.entries(mappings)) {
    const value = claim.startsWith("/") ? claimAt(claims, claim) : ownValue(claims, claim);
    if (value === undefined) continue;
    const text = asText(value);
    if (text === undefined) throw loginRefused(`claim ${claim} (claim_mappings) is not a string, number or boolean`);
    if (text.length > METADATA_VALUE_MAX) throw loginRefused(`claim ${claim} (claim_mappings) is longer than ${METADATA_VALUE_MAX} characters`);
    metadata[key] = text;
  }
  return metadata;
}

/** Strings as they are; numbers and booleans as text (as Vault normalizes them); anything else is not text. */
function asText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  return undefined;
}

function ownValue(object: unknown, key: string): unknown {
  if (object === null || typeof object !== "object" || !Object.hasOwn(object, key)) return undefined;
  return (object as Record<string, unknown>)[key];
}

/** The value a JSON pointer (RFC 6901, "/kubernetes.io/namespace") names in the claims, if any. */
export function claimAt(claims: unknown, pointer: string): unknown {
  if (pointer === "") return claims;
  if (!pointer.startsWith("/")) return undefined;
  let at: unknown = claims;
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(at)) {
      if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
      at = at[Number(token)];
    } else {
      at = ownValue(at, token);
    }
    if (at === undefined) return undefined;
  }
  return at;
}
