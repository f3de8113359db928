// The built-in auth/token/ backend: Vault's token store paths (create, look
// up, renew, revoke; by token, by accessor, or the caller's own), declared
// with the same framework as every backend. The token authority does the
// work; this only maps paths onto it. TokenService's typed methods map here.
import { LessorError } from "../../errors.js";
import { definePath, type Caller, type Engine, type FieldSpecs, type IssuedToken, type JsonObject, type PathsSpecial, type PathSpec, type Request, type TokenCreateRequest } from "../../engines/framework/types.js";
import type { TokenRecord } from "../../store/types.js";

/** Where the backend is mounted. */
export const TOKEN_PATH = "auth/token/";

/** Orphans (tokens with no parent) need sudo, to make and to leave behind. */
export const TOKEN_SPECIAL: PathsSpecial = { root: ["create-orphan", "revoke-orphan"] };


/** What the token backend needs of the token authority. */
export interface TokenStoreParts {
  create(caller: Caller, request: TokenCreateRequest, now: number): Promise<{ issued: IssuedToken; record: TokenRecord }>;
  lookupByToken(token: string, now: number): Promise<TokenRecord>;
  lookupByAccessor(accessor: string, now: number): Promise<TokenRecord>;
  lookupSelf(caller: Caller): Promise<TokenRecord>;
  renew(record: TokenRecord, incrementSeconds: number, now: number): Promise<{ record: TokenRecord; clamped: boolean }>;
  /** Revokes the token (and, unless orphan, its children), with their leases. */
  revokeTree(accessor: string, orphan: boolean): Promise<{ tokens: number; leases: number }>;
}

export function tokenData(record: TokenRecord, now: number): JsonObject {
  return {
    accessor: record.accessor,
    policies: record.policies,
    display_name: record.displayName,
    creation_time: new Date(record.createdAt).toISOString(),
    expire_time: record.expireTime === null ? null : new Date(record.expireTime).toISOString(),
    ttl: record.expireTime === null ? 0 : Math.max(0, Math.floor((record.expireTime - now) / 1000)),
    renewable: record.renewable,
    num_uses: record.numUses > 0 ? record.usesLeft : 0,
    parent_accessor: record.parentAccessor ?? "",
    meta: record.meta,
    max_expire_time: record.maxExpireTime === null ? null : new Date(record.maxExpireTime).toISOString(),
    // Vault's names for the rest of what a lookup shows.
    issue_time: new Date(record.createdAt).toISOString(),
    creation_ttl: record.ttlSeconds,
    explicit_max_ttl: record.maxExpireTime === null ? 0 : Math.round((record.maxExpireTime - record.createdAt) / 1000),
    orphan: record.parentAccessor === null,
    type: "service",
    entity_id: "",
  };
}

const CREATE_FIELDS = {
  policies: { type: "list", description: "Policies of the new token (default: the caller's). Never one the caller lacks, unless the caller has sudo.", default: [] },
  ttl: { type: "duration", description: "Time to live (default 768h).", default: 0 },
  lease: { type: "duration", description: "Time to live (Vault's older name for ttl).", deprecated: "use ttl" },
  explicit_max_ttl: { type: "duration", description: "Renewals never go past this (default 768h).", default: 0 },
  renewable: { type: "bool", description: "Whether the token can be renewed.", default: true },
  num_uses: { type: "int", description: "Uses before the token is revoked; 0 for unlimited.", default: 0 },
  display_name: { type: "string", description: 'Shown in audit records and IAM user names (prefixed "token-").', default: "" },
  meta: { type: "map", description: "Metadata (key=value) kept on the token.", default: {} },
  no_parent: { type: "bool", description: "Make an orphan: only on auth/token/create-orphan, which needs sudo.", default: false },
  type: {
    type: "string",
    default: "",
    description: "The token type: service (Lessor makes service tokens only).",
    check: (v) =>
      v === "" || v === "service" || v === "default" ? undefined : "Lessor makes service tokens only; leave it empty or service",
  },
  no_default_policy: {
    type: "bool",
    default: false,
    description: "Vault's switch to leave out the default policy; only false.",
    check: (v) => (v === true ? "every token gets the default policy; leave it false" : undefined),
  },
  entity_alias: {
    type: "string",
    default: "",
    description: "Vault's identity entity alias; only empty (Lessor has no identity store).",
    check: (v) => (v === "" ? undefined : "entity aliases are not supported; leave it empty"),
  },
  role_name: {
    type: "string",
    default: "",
    description: "Vault's token role; only empty (Lessor has no token roles).",
    check: (v) => (v === "" ? undefined : "token roles are not supported; leave it empty"),
  },
  id: {
    type: "string",
    default: "",
    description: "A token value of the caller's choosing; only empty (Lessor makes every token).",
    check: (v) => (v === "" ? undefined : "Lessor makes every token itself; leave it empty"),
  },
  period: {
    type: "duration",
    default: 0,
    description: "Vault's periodic tokens; only 0.",
    check: (v) => (v === 0 ? undefined : "periodic tokens are not supported; give ttl and explicit_max_ttl instead"),
  },
} satisfies FieldSpecs;

const TOKEN_FIELD = { token: { type: "string", description: "The token to act on.", required: true } } satisfies FieldSpecs;
const ACCESSOR_FIELD = { accessor: { type: "string", description: "The accessor of the token to act on.", required: true } } satisfies FieldSpecs;
const INCREMENT_FIELD = { increment: { type: "duration", description: "How long from now; 0 for the token's own TTL.", default: 0 } } satisfies FieldSpecs;

function checkAccessor(accessor: string): string {
  if (accessor.length > 128) throw LessorError.invalidField("accessor", "is longer than 128 characters");
  return accessor;
}

function createPath(tokens: TokenStoreParts, orphan: boolean): PathSpec {
  return definePath({
    pattern: orphan ? "create-orphan" : "create",
    synopsis: orphan ? "Make a token with no parent (root-protected)." : "Make a child of the caller's token.",
    fields: CREATE_FIELDS,
    operations: {
      async write(req) {
        const f = req.fields;
        if (f.no_parent && !orphan) throw LessorError.invalidField("no_parent", "make an orphan on auth/token/create-orphan (it needs sudo)");
        const now = Date.now();
        const request = {
          policies: f.policies,
          ttlSeconds: req.provided.has("ttl") || f.lease === undefined ? f.ttl : f.lease,
          explicitMaxTtlSeconds: f.explicit_max_ttl,
          renewable: f.renewable,
          numUses: f.num_uses,
          displayName: f.display_name,
          orphan,
          meta: f.meta,
        };
        const { issued, record } = await tokens.create(req.caller, request, now);
        return { data: tokenData(record, now), token: issued };
      },
    },
  });
}

/** Finds a token, or says it is gone: revoking what is already gone succeeds quietly, as in Vault. */
async function findOrGone(find: () => Promise<TokenRecord>): Promise<TokenRecord | undefined> {
  try {
    return await find();
  } catch (err) {
    if (err instanceof LessorError && err.reason === "TOKEN_NOT_FOUND") return undefined;
    throw err;
  }
}

const NOTHING_REVOKED = { revoked_tokens: 0, revoked_leases: 0 };

/** The same verb by token, by accessor and on the caller's own token. */
function verbPaths(
  tokens: TokenStoreParts,
  name: "lookup" | "renew" | "revoke",
  extra: FieldSpecs,
  act: (record: TokenRecord, req: Request) => Promise<JsonObject>,
  synopsis: string,
): PathSpec[] {
  const run = async (find: () => Promise<TokenRecord>, req: Request) => {
    if (name !== "revoke") return { data: await act(await find(), req) };
    const record = await findOrGone(find);
    return { data: record ? await act(record, req) : NOTHING_REVOKED };
  };
  const self = (req: Request) => run(() => tokens.lookupSelf(req.caller), req);
  return [
    definePath({
      pattern: name,
      synopsis: `${synopsis} (the token given).`,
      fields: { ...TOKEN_FIELD, ...extra },
      operations: { write: (req) => run(() => tokens.lookupByToken(String(req.fields.token), Date.now()), req) },
    }),
    definePath({
      pattern: `${name}-accessor`,
      synopsis: `${synopsis} (the token with this accessor).`,
      fields: { ...ACCESSOR_FIELD, ...extra },
      operations: { write: (req) => run(() => tokens.lookupByAccessor(checkAccessor(String(req.fields.accessor)), Date.now()), req) },
    }),
    definePath({
      pattern: `${name}-self`,
      synopsis: `${synopsis} (the caller's own token).`,
      fields: extra,
      operations: name === "lookup" ? { read: self, write: self } : { write: self },
    }),
  ];
}

function revokeOrphanPath(tokens: TokenStoreParts): PathSpec {
  return definePath({
    pattern: "revoke-orphan",
    synopsis: "Revoke a token (given, by accessor, or the caller's own) but not its children, which become orphans (root-protected).",
    fields: {
      token: { type: "string", description: "The token to revoke.", default: "" },
      accessor: { type: "string", description: "Or: the accessor of the token to revoke.", default: "" },
    },
    operations: {
      async write(req) {
        const { token, accessor } = req.fields;
        if (token !== "" && accessor !== "") throw LessorError.invalidField("accessor", "give a token or an accessor, not both");
        const now = Date.now();
        const record = await findOrGone(() =>
          token !== "" ? tokens.lookupByToken(token, now) : accessor !== "" ? tokens.lookupByAccessor(checkAccessor(accessor), now) : tokens.lookupSelf(req.caller),
        );
        if (!record) return { data: NOTHING_REVOKED };
        const outcome = await tokens.revokeTree(record.accessor, true);
        return { data: { revoked_tokens: outcome.tokens, revoked_leases: outcome.leases } };
      },
    },
  });
}

export function tokenBackend(tokens: TokenStoreParts): Engine {
  const lookup = async (record: TokenRecord) => tokenData(record, Date.now());
  const renew = async (record: TokenRecord, req: Request) => {
    const now = Date.now();
    return tokenData((await tokens.renew(record, Number(req.fields.increment ?? 0), now)).record, now);
  };
  const revoke = async (record: TokenRecord) => {
    const outcome = await tokens.revokeTree(record.accessor, false);
    return { revoked_tokens: outcome.tokens, revoked_leases: outcome.leases };
  };
  return {
    paths: [
      createPath(tokens, false),
      createPath(tokens, true),
      ...verbPaths(tokens, "lookup", {}, lookup, "Look up a token"),
      ...verbPaths(tokens, "renew", INCREMENT_FIELD, renew, "Renew a token: extend it from now, never past its max TTL"),
      ...verbPaths(tokens, "revoke", {}, revoke, "Revoke a token, its children, and every lease they made"),
      revokeOrphanPath(tokens),
    ],
    secrets: {},
  };
}
