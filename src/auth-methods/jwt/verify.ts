// A JWT's signature, checked with jose against the configured keys and only
// the configured algorithms: never "none", never a symmetric algorithm (the
// allowed list holds asymmetric ones only, so an HS256 token "signed" with a
// public key is refused before any key is looked at).
// jose is loaded at the first login (import() below), not when the server starts.
import type { ProtectedHeaderParameters } from "jose";
import { z } from "zod";
import { LessorError } from "../../errors.js";
import { loginRefused } from "../common.js";
import { KeySourceError, type KeySource } from "./keys.js";

const claimsSchema = z.record(z.string(), z.unknown());

/** The header of a token shaped like a JWT (three base64url parts, JSON header and payload), or INVALID_ARGUMENT naming the field. */
export async function jwtHeader(token: string): Promise<ProtectedHeaderParameters> {
  const { decodeJwt, decodeProtectedHeader } = await import("jose");
  try {
    decodeJwt(token);
    return decodeProtectedHeader(token);
  } catch (err) {
    throw LessorError.invalidField("jwt", `is not a JWT (${(err as Error).message})`);
  }
}

/** Verifies the token's signature; returns its claims. Refused (the reason logged) when no configured key and algorithm verify it. */
export async function verifiedClaims(token: string, header: ProtectedHeaderParameters, keys: KeySource, algorithms: readonly string[], mountPath: string): Promise<Record<string, unknown>> {
  const alg = typeof header.alg === "string" ? header.alg : "";
  if (!algorithms.includes(alg)) throw loginRefused(`the token's alg "${printable(alg)}" is not one of jwt_supported_algs`);
  let candidates;
  try {
    candidates = await keys.candidates(header);
  } catch (err) {
    if (!(err instanceof KeySourceError)) throw err;
    throw LessorError.unavailable(`${mountPath} could not get its verification keys: ${err.message}`, "JWT_KEYS_UNAVAILABLE");
  }
  if (candidates.length === 0) throw loginRefused(`no configured key fits the token (kid "${printable(String(header.kid ?? ""))}", alg ${alg})`);
  const { compactVerify } = await import("jose");
  let failure = "";
  for (const key of candidates) {
    try {
      const { payload } = await compactVerify(token, key, { algorithms: [...algorithms] });
      const claims = claimsSchema.safeParse(JSON.parse(new TextDecoder().decode(payload)));
      if (!claims.success) throw loginRefused("the token's payload is not a JSON object");
      return claims.data;
    } catch (err) {
      if (err instanceof LessorError) throw err;
      failure = (err as Error).message;
    }
  }
  throw loginRefused(`the signature did not verify (${failure})`);
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 64);
}
