// auth/<jwt>/config: where verification keys come from (exactly one of an
// OIDC discovery URL, a JWKS URL or PEM keys), the CA to trust for the URL,
// the issuer every token must name and the algorithms allowed. Vault's names.
import { X509Certificate } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import type { FieldViolation } from "../../errors.js";
import type { FieldSpecs, FieldValue } from "../../engines/framework/types.js";
import { checkFetchUrl } from "./fetch.js";
import { ASYMMETRIC_ALGS, discoveryKeys, jwksKeys, parsePublicKeyPem, staticKeys, type KeySource } from "./keys.js";

const PEM_MAX = 65_536;

const url = (v: FieldValue) => (v === "" ? undefined : checkFetchUrl(String(v)));

const caPem = (v: FieldValue) => {
  if (v === "") return undefined;
  try {
    new X509Certificate(String(v));
    return undefined;
  } catch {
    return "is not a PEM certificate";
  }
};

const publicKeys = (v: FieldValue) => {
  const pems = Array.isArray(v) ? v : [];
  for (const [i, pem] of pems.entries()) {
    const key = parsePublicKeyPem(String(pem));
    if (typeof key === "string") return `item ${i + 1} ${key}`;
  }
  return undefined;
};

const algorithms = (v: FieldValue) => {
  for (const alg of Array.isArray(v) ? v : []) {
    if (!(ASYMMETRIC_ALGS as readonly unknown[]).includes(alg)) {
      return `"${String(alg).slice(0, 32)}" is not allowed: give asymmetric algorithms only (${ASYMMETRIC_ALGS.join(", ")}); symmetric ones (HS*) and none are never accepted`;
    }
  }
  return undefined;
};

export const CONFIG_FIELDS = {
  oidc_discovery_url: { type: "string", description: "Issuer URL whose /.well-known/openid-configuration names the JWKS (e.g. a Kubernetes API server, https://token.actions.githubusercontent.com).", default: "", check: url },
  oidc_discovery_ca_pem: { type: "string", description: "CA certificate (PEM) to trust for oidc_discovery_url and its JWKS; default: the usual public CAs.", default: "", maxLength: PEM_MAX, check: caPem },
  jwks_url: { type: "string", description: "URL of a JSON Web Key Set.", default: "", check: url },
  jwks_ca_pem: { type: "string", description: "CA certificate (PEM) to trust for jwks_url; default: the usual public CAs.", default: "", maxLength: PEM_MAX, check: caPem },
  jwt_validation_pubkeys: { type: "list", description: "PEM public keys (or certificates) to verify tokens with, instead of a URL.", default: [], check: publicKeys },
  bound_issuer: { type: "string", description: "The iss claim every token must have; empty for any.", default: "" },
  jwt_supported_algs: { type: "list", description: `Signing algorithms accepted; default: ${ASYMMETRIC_ALGS.join(", ")}.`, default: [], check: algorithms },
  default_role: { type: "string", description: "The role a login without one uses.", default: "", maxLength: 128 },
} satisfies FieldSpecs;

export const configSchema = z.object({
  oidc_discovery_url: z.string().default(""),
  oidc_discovery_ca_pem: z.string().default(""),
  jwks_url: z.string().default(""),
  jwks_ca_pem: z.string().default(""),
  jwt_validation_pubkeys: z.array(z.string()).default([]),
  bound_issuer: z.string().default(""),
  jwt_supported_algs: z.array(z.string()).default([]),
  default_role: z.string().default(""),
});
export type JwtConfig = z.infer<typeof configSchema>;

/** What is wrong with a configuration as a whole, and what it should know. */
export function describeConfig(config: JwtConfig): { violations: FieldViolation[]; warnings: string[] } {
  const violations: FieldViolation[] = [];
  const sources = (["oidc_discovery_url", "jwks_url", "jwt_validation_pubkeys"] as const).filter((f) => config[f].length > 0);
  if (sources.length === 0) violations.push({ field: "oidc_discovery_url", description: "give one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys" });
  if (sources.length > 1) violations.push({ field: sources[1] ?? "jwks_url", description: `give only one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys (this has ${sources.join(" and ")})` });
  if (config.oidc_discovery_ca_pem !== "" && config.oidc_discovery_url === "") violations.push({ field: "oidc_discovery_ca_pem", description: "is only used with oidc_discovery_url" });
  if (config.jwks_ca_pem !== "" && config.jwks_url === "") violations.push({ field: "jwks_ca_pem", description: "is only used with jwks_url" });
  const warnings = [config.oidc_discovery_url, config.jwks_url]
    .filter((u) => u.startsWith("http://"))
    .map((u) => `${u} is plain HTTP: anyone on the path could substitute their own keys; use https://`);
  return { violations, warnings };
}

export function keySourceFor(config: JwtConfig, now: () => number, logger: Logger): KeySource {
  if (config.oidc_discovery_url !== "") return discoveryKeys(config.oidc_discovery_url, config.oidc_discovery_ca_pem || undefined, now, logger);
  if (config.jwks_url !== "") return jwksKeys(config.jwks_url, config.jwks_ca_pem || undefined, now, logger);
  return staticKeys(config.jwt_validation_pubkeys);
}
