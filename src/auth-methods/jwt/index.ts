// jwt: log in with a JWT a platform already gives the workload (Kubernetes
// service-account tokens, GitHub Actions and GitLab OIDC tokens, SPIFFE
// JWT-SVIDs). Vault's paths and field names: auth/<m>/config says where the
// keys come from, auth/<m>/role/<name> what a token must say, and
// auth/<m>/login {role, jwt} returns a token carrying the role and the
// mapped claims as metadata.
import type { Logger } from "pino";
import { LessorError, type FieldViolation } from "../../errors.js";
import { definePath, type EngineContext, type EngineFactory, type FieldSpecs, type PathSpec } from "../../engines/framework/types.js";
import { addressAllowed, checkRoleName, loginIdentity, loginRefused, tokenSettingsViolations, withProvided } from "../common.js";
import { checkClaims } from "./claims.js";
import { CONFIG_FIELDS, configSchema, describeConfig, keySourceFor, type JwtConfig } from "./config.js";
import { ROLE_FIELDS, roleSchema, roleUpdates, roleViolations, type JwtRole } from "./role.js";
import { ASYMMETRIC_ALGS, KeySourceError, type KeySource } from "./keys.js";
import { jwtHeader, verifiedClaims } from "./verify.js";

/** Longest JWT accepted (Kubernetes and CI tokens are 1-2 KiB; ID tokens with many groups a few more). */
export const JWT_MAX_LENGTH = 32_768;

export const jwtMethod: EngineFactory = {
  type: "jwt",
  kind: "auth",
  synopsis: "Log in with a JWT a platform issued (Kubernetes service accounts, CI OIDC tokens, SPIFFE JWT-SVIDs).",
  special: { unauthenticated: ["login"] },
  create(ctx) {
    const keys = new KeyCache(ctx.logger, () => ctx.system.now());
    const loadConfig = async (): Promise<JwtConfig | undefined> => {
      const stored = await ctx.storage.get("config");
      return stored === undefined ? undefined : configSchema.parse(stored);
    };
    const loadRole = async (name: string): Promise<JwtRole | undefined> => {
      const stored = await ctx.storage.get(`role/${name}`);
      return stored === undefined ? undefined : roleSchema.parse(stored);
    };
    const paths: PathSpec[] = [configPath(ctx, keys, loadConfig), ...rolePaths(ctx, loadRole), loginPath(ctx, keys, loadConfig, loadRole)];
    return { paths, secrets: {} };
  },
};

/** The key source for the configuration in force, kept while the configuration stays the same. */
class KeyCache {
  private current: { fingerprint: string; keys: KeySource } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  for(config: JwtConfig): KeySource {
    const fingerprint = JSON.stringify([config.oidc_discovery_url, config.oidc_discovery_ca_pem, config.jwks_url, config.jwks_ca_pem, config.jwt_validation_pubkeys]);
    if (this.current?.fingerprint !== fingerprint) this.current = { fingerprint, keys: keySourceFor(config, this.now, this.logger) };
    return this.current.keys;
  }
}

function configPath(ctx: EngineContext, keys: KeyCache, loadConfig: () => Promise<JwtConfig | undefined>): PathSpec {
  return definePath({
    pattern: "config",
    synopsis: "Where the keys that sign accepted JWTs come from, and what every token must say.",
    description:
      "Exactly one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys. A URL is fetched when the configuration is written (it must work then) and when logins need keys; nothing else is ever fetched. Writing replaces the whole configuration.",
    fields: CONFIG_FIELDS,
    operations: {
      async read() {
        const config = await loadConfig();
        if (!config) throw LessorError.notFound(`${ctx.mount.path}config has not been written`, "JWT_NOT_CONFIGURED");
        return { data: config };
      },
      async write(req) {
        const config = configSchema.parse(req.fields);
        const { violations, warnings } = describeConfig(config);
        if (violations.length > 0) throw LessorError.invalidFields(violations);
        const field = config.oidc_discovery_url !== "" ? "oidc_discovery_url" : "jwks_url";
        try {
          await keys.for(config).prime();
        } catch (err) {
          if (!(err instanceof KeySourceError)) throw err;
          throw LessorError.invalidField(field, `could not be used: ${err.message}`);
        }
        await ctx.storage.put("config", config);
        return warnings.length > 0 ? { warnings } : {};
      },
    },
  });
}

function rolePaths(ctx: EngineContext, loadRole: (name: string) => Promise<JwtRole | undefined>): PathSpec[] {
  return [
    definePath({
      pattern: "role/",
      synopsis: "List the roles.",
      fields: {},
      operations: { list: async () => ({ data: { keys: await ctx.storage.list("role/") } }) },
    }),
    definePath({
      pattern: "role/:name",
      synopsis: "A role: what a JWT must say to log in with it, and the tokens its logins get.",
      description: "Writing updates only the fields given. Durations in seconds or as 90s, 5m; a leeway of -1 turns it off, 0 means its default.",
      fields: ROLE_FIELDS,
      exists: async (params) => (await loadRole(params.name)) !== undefined,
      operations: {
        async read(req) {
          const role = await loadRole(req.params.name);
          if (!role) throw LessorError.notFound(`role "${req.params.name}" not found`, "ROLE_NOT_FOUND", { role: req.params.name });
          return { data: role };
        },
        async write(req) {
          checkRoleName(req.params.name);
          const existing = await loadRole(req.params.name);
          const role = roleSchema.parse(withProvided(existing, roleUpdates(req.fields), req.provided));
          const violations: FieldViolation[] = [...roleViolations(role), ...tokenSettingsViolations(role)];
          if (violations.length > 0) throw LessorError.invalidFields(violations);
          await ctx.storage.put(`role/${req.params.name}`, role);
          return {};
        },
        async delete(req) {
          await ctx.storage.delete(`role/${req.params.name}`);
          return {};
        },
      },
    }),
  ];
}

const LOGIN_FIELDS = {
  role: { type: "string", description: "The role to log in with (default: the configuration's default_role).", default: "", maxLength: 128 },
  jwt: { type: "string", description: "The signed JWT.", required: true, maxLength: JWT_MAX_LENGTH, writeOnly: true },
} satisfies FieldSpecs;

function loginPath(
  ctx: EngineContext,
  keys: KeyCache,
  loadConfig: () => Promise<JwtConfig | undefined>,
  loadRole: (name: string) => Promise<JwtRole | undefined>,
): PathSpec {
  return definePath({
    pattern: "login",
    synopsis: "Log in with a JWT: returns a token with the role's policies and the mapped claims as metadata.",
    fields: LOGIN_FIELDS,
    operations: {
      async write(req) {
        const config = await loadConfig();
        if (!config) throw LessorError.failedPrecondition(`${ctx.mount.path} is not configured yet: write ${ctx.mount.path}config`, "JWT_NOT_CONFIGURED");
        const roleName = req.fields.role !== "" ? req.fields.role : config.default_role;
        if (roleName === "") throw LessorError.invalidField("role", "is required (no default_role is configured)");
        const header = await jwtHeader(req.fields.jwt);
        const role = await loadRole(roleName);
        if (!role) throw loginRefused(`no role named ${roleName}`);
        if (!addressAllowed(role.token_bound_cidrs, req.connection.remoteAddress)) {
          throw loginRefused(`role ${roleName}: the address ${req.connection.remoteAddress} is outside token_bound_cidrs`);
        }
        const algorithms = config.jwt_supported_algs.length > 0 ? config.jwt_supported_algs : ASYMMETRIC_ALGS;
        const source = keys.for(config);
        const claims = await verifiedClaims(req.fields.jwt, header, source, algorithms, ctx.mount.path);
        const issuer = (await source.issuer()) ?? "";
        if (issuer !== "" && claims.iss !== issuer) throw loginRefused("the iss claim is not the issuer the discovery document names");
        const identity = checkClaims(claims, rulesOf(config, role), ctx.system.now() / 1000);
        return { login: loginIdentity(role, identity.userName, { ...identity.metadata, role: roleName }) };
      },
    },
  });
}

function rulesOf(config: JwtConfig, role: JwtRole): Parameters<typeof checkClaims>[1] {
  return {
    boundIssuer: config.bound_issuer,
    boundAudiences: role.bound_audiences,
    boundSubject: role.bound_subject,
    boundClaims: role.bound_claims,
    boundClaimsType: role.bound_claims_type,
    userClaim: role.user_claim,
    userClaimJsonPointer: role.user_claim_json_pointer,
    claimMappings: role.claim_mappings,
    clockSkewLeeway: role.clock_skew_leeway,
    expirationLeeway: role.expiration_leeway,
    notBeforeLeeway: role.not_before_leeway,
  };
}
