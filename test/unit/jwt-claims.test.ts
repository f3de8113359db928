// The jwt method's claim rules, as pure functions: Vault's time rules and
// leeways, audiences, bound claims (exact and glob), JSON pointers, claim
// mappings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkClaims, claimAt, type ClaimRules } from "../../src/auth-methods/jwt/claims.js";
import { LessorError } from "../../src/errors.js";

const NOW = 1_800_000_000;
const RULES: ClaimRules = {
  boundIssuer: "",
  boundAudiences: ["lessor"],
  boundSubject: "",
  boundClaims: {},
  boundClaimsType: "string",
  userClaim: "sub",
  userClaimJsonPointer: false,
  claimMappings: {},
  clockSkewLeeway: 0,
  expirationLeeway: 0,
  notBeforeLeeway: 0,
};

/** The reason a check refused the claims, or "ok". */
function outcome(claims: Record<string, unknown>, rules: Partial<ClaimRules> = {}, now = NOW): string {
  try {
    checkClaims({ sub: "me", aud: "lessor", ...claims }, { ...RULES, ...rules }, now);
    return "ok";
  } catch (err) {
    assert.ok(err instanceof LessorError && err.reason === "LOGIN_REFUSED", String(err));
    assert.equal(err.message, "permission denied: the login was refused");
    return err.detail ?? "";
  }
}

test("times: exp and nbf with the clock-skew leeway (default 60 s, -1 none); a missing exp or nbf derived as Vault does", () => {
  assert.equal(outcome({ iat: NOW, exp: NOW + 60 }), "ok");
  assert.equal(outcome({ exp: NOW - 59 }), "ok", "within the default 60 s skew");
  assert.equal(outcome({ exp: NOW - 61 }), "the token has expired (exp)");
  assert.equal(outcome({ exp: NOW - 1 }, { clockSkewLeeway: -1 }), "the token has expired (exp)");
  assert.equal(outcome({ exp: NOW - 100 }, { clockSkewLeeway: 120 }), "ok");
  assert.equal(outcome({ nbf: NOW + 61, exp: NOW + 600 }), "the token is not valid yet (nbf)");
  assert.equal(outcome({ iat: NOW + 61, exp: NOW + 600 }), "the token is not valid yet (nbf)", "iat stands for a missing nbf");
  assert.equal(outcome({ iat: NOW + 30, nbf: NOW - 10, exp: NOW + 600 }), "ok");
  assert.equal(outcome({ iat: NOW + 90, nbf: NOW - 10, exp: NOW + 600 }), "the token was issued in the future (iat)");
  assert.equal(outcome({}), "the token has no iat, nbf or exp claim");
  assert.equal(outcome({ exp: "soon" }), "the exp claim is not a number");
  // No exp: valid until iat (or nbf) + expiration_leeway (default 150 s), plus the skew.
  assert.equal(outcome({ iat: NOW - 200 }), "ok");
  assert.equal(outcome({ iat: NOW - 211 }), "the token has expired (exp)");
  assert.equal(outcome({ iat: NOW - 100 }, { expirationLeeway: -1, clockSkewLeeway: -1 }), "the token has expired (exp)");
  // Neither nbf nor iat: valid from exp - not_before_leeway (default 150 s).
  assert.equal(outcome({ exp: NOW + 200 }), "ok");
  assert.equal(outcome({ exp: NOW + 400 }, { notBeforeLeeway: 100, clockSkewLeeway: -1 }), "the token is not valid yet (nbf)");
});

test("audience, issuer and subject: an aud needs a bound audience; any one bound audience matches", () => {
  assert.equal(outcome({ exp: NOW + 60, aud: ["a", "lessor"] }), "ok");
  assert.equal(outcome({ exp: NOW + 60, aud: ["a"] }), "the aud claim matches none of the role's bound_audiences");
  assert.equal(outcome({ exp: NOW + 60, aud: "x" }, { boundAudiences: [] }), "the token has an aud claim but the role binds no audience (bound_audiences)");
  assert.equal(outcome({ exp: NOW + 60, aud: undefined }, { boundAudiences: [] }), "ok");
  assert.equal(outcome({ exp: NOW + 60, iss: "https://a" }, { boundIssuer: "https://b" }), "the iss claim is not the configured bound_issuer");
  assert.equal(outcome({ exp: NOW + 60, sub: "other" }, { boundSubject: "me" }), "the sub claim is not the role's bound_subject");
});

test("bound claims: every claim must match one of its values, exactly or by glob; lists match by any item; JSON pointers reach nested claims", () => {
  const claims = { exp: NOW + 60, groups: ["dev", "ops"], ref: "refs/heads/main", run: 42, "kubernetes.io": { namespace: "payments-eu" } };
  assert.equal(outcome(claims, { boundClaims: { groups: ["ops"], ref: ["refs/heads/main"] } }), "ok");
  assert.equal(outcome(claims, { boundClaims: { run: ["42"] } }), "ok", "numbers compare as text");
  assert.equal(outcome(claims, { boundClaims: { groups: ["admin"] } }), "bound claim groups does not match any of the role's values");
  assert.equal(outcome(claims, { boundClaims: { missing: ["x"] } }), "bound claim missing is missing from the token");
  assert.equal(outcome(claims, { boundClaims: { ref: ["refs/heads/*"] } }), "bound claim ref does not match any of the role's values", "string type: * is literal");
  assert.equal(outcome(claims, { boundClaims: { ref: ["refs/heads/*"] }, boundClaimsType: "glob" }), "ok");
  assert.equal(outcome(claims, { boundClaims: { "/kubernetes.io/namespace": ["pay*"] }, boundClaimsType: "glob" }), "ok");
  assert.equal(outcome(claims, { boundClaims: { "/kubernetes.io/namespace": ["orders*"] }, boundClaimsType: "glob" }), "bound claim /kubernetes.io/namespace does not match any of the role's values");
});

test("identity: the user claim names the caller; claim mappings fill metadata (strings, numbers, booleans), missing claims are skipped", () => {
  const claims = { sub: "system:serviceaccount:payments:api", aud: "lessor", exp: NOW + 60, run: 7, admin: false, nested: { a: { "b/c": "x" } }, list: ["a"] };
  const identity = checkClaims(claims, { ...RULES, claimMappings: { run: "run_id", admin: "is_admin", "/nested/a/b~1c": "deep", absent: "nothing" } }, NOW);
  assert.deepEqual(identity, { userName: "system:serviceaccount:payments:api", metadata: { run_id: "7", is_admin: "false", deep: "x" } });
  assert.equal(outcome({ ...claims, sub: undefined }), "the user_claim sub is missing from the token or is not a string");
  assert.equal(outcome(claims, { claimMappings: { list: "l" } }), "claim list (claim_mappings) is not a string, number or boolean");
  assert.equal(outcome({ ...claims, long: "x".repeat(600) }, { claimMappings: { long: "l" } }), "claim long (claim_mappings) is longer than 512 characters");
  assert.equal(checkClaims(claims, { ...RULES, userClaim: "/nested/a/b~1c" }, NOW).userName, "x", "a user_claim starting with / is a JSON pointer");
});

test("JSON pointers (RFC 6901): escapes, array indexes, and nothing from the prototype", () => {
  const doc = { "a/b": 1, "m~n": 2, arr: ["x", "y"], o: {} };
  assert.equal(claimAt(doc, "/a~1b"), 1);
  assert.equal(claimAt(doc, "/m~0n"), 2);
  assert.equal(claimAt(doc, "/arr/1"), "y");
  assert.equal(claimAt(doc, "/arr/01"), undefined);
  assert.equal(claimAt(doc, "/arr/length"), undefined);
  assert.equal(claimAt(doc, "/o/constructor"), undefined);
  assert.equal(claimAt(doc, "/o/__proto__"), undefined);
  assert.equal(claimAt(doc, "nope"), undefined);
});
