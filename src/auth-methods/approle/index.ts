// approle: log in with a role_id (which role) and a secret_id (the proof),
// for machines with no platform identity (cron boxes, legacy CI). Vault's
// paths and field names. A secret_id is shown once when made and stored only
// as an HMAC; its uses, TTL and CIDR binding are checked at every login, and
// spending a use is atomic across replicas (see store.ts).
import { randomUUID } from "node:crypto";
import { LessorError } from "../../errors.js";
import { definePath, type EngineFactory, type FieldSpecs, type JsonObject, type PathSpec } from "../../engines/framework/types.js";
import {
  addressAllowed,
  checkCidrs,
  checkRoleName,
  loginIdentity,
  loginRefused,
  TOKEN_FIELDS,
  tokenSettingsViolations,
  withProvided,
} from "../common.js";
import { AppRoleStore, roleSchema, type Role, type SecretIdEntry } from "./store.js";

const ROLE_ID_MAX = 256;
const SECRET_ID_MAX = 256;

const nonNegative = (v: unknown) => (typeof v === "number" && v < 0 ? "must be zero or more" : undefined);

const ROLE_FIELDS = {
  ...TOKEN_FIELDS,
  role_id: { type: "string", description: "A role_id of your choosing (default: a random UUID when the role is made).", maxLength: ROLE_ID_MAX },
  bind_secret_id: { type: "bool", description: "Whether a login must present a secret_id (default true).", default: true },
  secret_id_bound_cidrs: { type: "list", description: "CIDR blocks a login with this role's secret_ids may come from; empty for anywhere.", default: [], check: checkCidrs },
  secret_id_num_uses: { type: "int", description: "Logins each secret_id allows; 0 for unlimited.", default: 0, check: nonNegative },
  secret_id_ttl: { type: "duration", description: "How long each secret_id lives; 0 for no expiry.", default: 0 },
} satisfies FieldSpecs;

const SECRET_ID_FIELDS = {
  metadata: { type: "map", description: "Key/value pairs the tokens of logins with this secret_id carry as metadata (with role_name).", default: {} },
  cidr_list: { type: "list", description: "CIDR blocks logins with this secret_id may come from (as well as the role's secret_id_bound_cidrs).", default: [], check: checkCidrs },
  token_bound_cidrs: { type: "list", description: "CIDR blocks the tokens of its logins may be used from (instead of the role's).", default: [], check: checkCidrs },
  num_uses: { type: "int", description: "Logins it allows; 0: the role's secret_id_num_uses. Never more than the role's.", default: 0, check: nonNegative },
  ttl: { type: "duration", description: "How long it lives; 0: the role's secret_id_ttl. Never longer than the role's.", default: 0 },
} satisfies FieldSpecs;

export const appRoleMethod: EngineFactory = {
  type: "approle",
  kind: "auth",
  synopsis: "Log in with a role_id and a secret_id (machines with no platform identity).",
  special: { unauthenticated: ["login"] },
  create({ storage, system }) {
    const store = new AppRoleStore(storage);
    const mustRole = async (name: string): Promise<Role> => {
      const role = await store.role(name);
      if (!role) throw LessorError.notFound(`role "${name}" not found`, "ROLE_NOT_FOUND", { role: name });
      return role;
    };
    const paths: PathSpec[] = [
      definePath({
        pattern: "role/",
        synopsis: "List the roles.",
        fields: {},
        operations: { list: async () => ({ data: { keys: await store.roleNames() } }) },
      }),
      definePath({
        pattern: "role/:name",
        synopsis: "A role: what its logins need (secret_id, CIDRs) and the tokens they get.",
        description: "Writing updates only the fields given. A new role gets a random role_id unless one is given; read it at role/<name>/role-id.",
        fields: ROLE_FIELDS,
        exists: async (params) => (await store.role(params.name)) !== undefined,
        operations: {
          async read(req) {
            const { role_id: _roleId, ...shown } = await mustRole(req.params.name);
            return { data: shown };
          },
          async write(req) {
            const name = req.params.name;
            checkRoleName(name);
            const existing = await store.role(name);
            const merged = withProvided(existing, req.fields, req.provided);
            merged.role_id = req.fields.role_id ?? existing?.role_id ?? randomUUID();
            const role = roleSchema.parse(merged);
            const violations = tokenSettingsViolations(role);
            if (role.role_id.trim() === "") violations.push({ field: "role_id", description: "must not be empty" });
            if (!role.bind_secret_id && role.secret_id_bound_cidrs.length === 0 && role.token_bound_cidrs.length === 0) {
              violations.push({ field: "bind_secret_id", description: "cannot be false unless secret_id_bound_cidrs or token_bound_cidrs limits where logins come from" });
            }
            if (violations.length > 0) throw LessorError.invalidFields(violations);
            await store.putRole(name, role, existing?.role_id);
            return {};
          },
          async delete(req) {
            await store.deleteRole(req.params.name);
            return {};
          },
        },
      }),
      definePath({
        pattern: "role/:name/role-id",
        synopsis: "The role's role_id: read it, or write one of your choosing.",
        fields: { role_id: { type: "string", description: "The new role_id.", required: true, maxLength: ROLE_ID_MAX } },
        operations: {
          async read(req) {
            return { data: { role_id: (await mustRole(req.params.name)).role_id } };
          },
          async write(req) {
            const role = await mustRole(req.params.name);
            if (req.fields.role_id.trim() === "") throw LessorError.invalidField("role_id", "must not be empty");
            await store.putRole(req.params.name, { ...role, role_id: req.fields.role_id }, role.role_id);
            return {};
          },
        },
      }),
      definePath({
        pattern: "role/:name/secret-id/",
        synopsis: "Make a secret_id for the role (write; shown once), or list the accessors of its secret_ids (list).",
        fields: SECRET_ID_FIELDS,
        operations: {
          async write(req) {
            const role = await mustRole(req.params.name);
            const f = req.fields;
            if (role.secret_id_num_uses > 0 && f.num_uses > role.secret_id_num_uses) {
              throw LessorError.invalidField("num_uses", `must not be more than the role's secret_id_num_uses (${role.secret_id_num_uses})`);
            }
            if (role.secret_id_ttl > 0 && f.ttl > role.secret_id_ttl) {
              throw LessorError.invalidField("ttl", `must not be longer than the role's secret_id_ttl (${role.secret_id_ttl} seconds)`);
            }
            const numUses = f.num_uses > 0 ? f.num_uses : role.secret_id_num_uses;
            const ttl = f.ttl > 0 ? f.ttl : role.secret_id_ttl;
            const now = system.now();
            const { secretId, entry } = await store.createSecretId(req.params.name, {
              creation_time: now,
              expiration_time: ttl > 0 ? now + ttl * 1000 : 0,
              num_uses: numUses,
              uses_left: numUses,
              cidr_list: f.cidr_list,
              token_bound_cidrs: f.token_bound_cidrs,
              metadata: f.metadata,
            });
            return { data: { secret_id: secretId, secret_id_accessor: entry.secret_id_accessor, secret_id_ttl: ttl, secret_id_num_uses: numUses } };
          },
          async list(req) {
            await mustRole(req.params.name);
            return { data: { keys: await store.accessors(req.params.name) } };
          },
        },
      }),
      ...secretIdLookups(store, mustRole),
      definePath({
        pattern: "tidy/secret-id",
        synopsis: "Delete expired secret_ids.",
        fields: {},
        operations: { write: async () => ({ data: { removed: await store.tidy(system.now()) } }) },
      }),
      definePath({
        pattern: "login",
        synopsis: "Log in with a role_id and (unless the role says bind_secret_id=false) a secret_id.",
        fields: {
          role_id: { type: "string", description: "The role's role_id.", required: true, maxLength: ROLE_ID_MAX },
          secret_id: { type: "string", description: "A secret_id of the role.", default: "", maxLength: SECRET_ID_MAX, writeOnly: true },
        },
        operations: {
          async write(req) {
            const name = await store.roleNameFor(req.fields.role_id);
            const role = name === undefined ? undefined : await store.role(name);
            if (name === undefined || role === undefined) throw loginRefused("no role has the role_id given");
            const address = req.connection.remoteAddress;
            if (!addressAllowed(role.secret_id_bound_cidrs, address)) throw loginRefused(`role ${name}: the address ${address} is outside secret_id_bound_cidrs`);
            const secret = role.bind_secret_id ? await checkSecretId(store, name, req.fields.secret_id, address, system.now()) : undefined;
            const settings = secret && secret.token_bound_cidrs.length > 0 ? { ...role, token_bound_cidrs: secret.token_bound_cidrs } : role;
            // The token would not work from here: refused before a use is spent.
            if (!addressAllowed(settings.token_bound_cidrs, address)) throw loginRefused(`role ${name}: the address ${address} is outside token_bound_cidrs`);
            if (secret && (await store.spend(name, req.fields.secret_id, secret)) === "gone") {
              throw loginRefused(`role ${name}: the secret_id was used up or destroyed during the login`);
            }
            return { login: loginIdentity(settings, name, { ...secret?.metadata, role_name: name }) };
          },
        },
      }),
    ];
    return { paths, secrets: {} };
  },
};

/** The secret_id a login presented, checked: it exists, has not expired, and the login comes from its cidr_list. */
async function checkSecretId(store: AppRoleStore, roleName: string, secretId: string, address: string, now: number): Promise<SecretIdEntry> {
  if (secretId === "") throw loginRefused(`role ${roleName}: no secret_id given, and the role needs one`);
  const entry = await store.secretId(roleName, secretId);
  if (entry === undefined) throw loginRefused(`role ${roleName}: the secret_id is not one of the role's (wrong, used up or destroyed)`);
  if (entry.expiration_time > 0 && entry.expiration_time <= now) {
    await store.expire(roleName, secretId, entry);
    throw loginRefused(`role ${roleName}: secret_id ${entry.secret_id_accessor} (accessor) has expired`);
  }
  if (!addressAllowed(entry.cidr_list, address)) {
    throw loginRefused(`role ${roleName}: the address ${address} is outside the cidr_list of secret_id ${entry.secret_id_accessor} (accessor)`);
  }
  return entry;
}

/** What may be known of a secret_id without its value: never the value or its HMAC. */
function secretIdData(entry: SecretIdEntry): JsonObject {
  return {
    secret_id_accessor: entry.secret_id_accessor,
    creation_time: new Date(entry.creation_time).toISOString(),
    expiration_time: entry.expiration_time > 0 ? new Date(entry.expiration_time).toISOString() : null,
    secret_id_num_uses: entry.num_uses > 0 ? entry.uses_left : 0,
    secret_id_ttl: entry.expiration_time > 0 ? Math.round((entry.expiration_time - entry.creation_time) / 1000) : 0,
    cidr_list: entry.cidr_list,
    token_bound_cidrs: entry.token_bound_cidrs,
    metadata: entry.metadata,
  };
}

/** Look up and destroy a secret_id by its value or by its accessor (Vault's four paths). */
function secretIdLookups(store: AppRoleStore, mustRole: (name: string) => Promise<Role>): PathSpec[] {
  const bySecret = { secret_id: { type: "string", description: "The secret_id.", required: true, maxLength: SECRET_ID_MAX, writeOnly: true } } satisfies FieldSpecs;
  const byAccessor = { secret_id_accessor: { type: "string", description: "The secret_id's accessor.", required: true, maxLength: 64 } } satisfies FieldSpecs;
  const notFound = (what: string) => LessorError.notFound(`no secret_id of this role has that ${what}`, "SECRET_ID_NOT_FOUND");
  return [
    definePath({
      pattern: "role/:name/secret-id/lookup",
      synopsis: "What is known of a secret_id (never the value).",
      fields: bySecret,
      operations: {
        async write(req) {
          await mustRole(req.params.name);
          const entry = await store.secretId(req.params.name, req.fields.secret_id);
          if (!entry) throw notFound("value");
          return { data: secretIdData(entry) };
        },
      },
    }),
    definePath({
      pattern: "role/:name/secret-id/destroy",
      synopsis: "Destroy a secret_id, given its value.",
      fields: bySecret,
      operations: {
        async write(req) {
          await mustRole(req.params.name);
          await store.destroySecretId(req.params.name, req.fields.secret_id);
          return {};
        },
      },
    }),
    definePath({
      pattern: "role/:name/secret-id-accessor/lookup",
      synopsis: "What is known of a secret_id, given its accessor.",
      fields: byAccessor,
      operations: {
        async write(req) {
          await mustRole(req.params.name);
          const entry = await store.secretIdByAccessor(req.params.name, req.fields.secret_id_accessor);
          if (!entry) throw notFound("accessor");
          return { data: secretIdData(entry) };
        },
      },
    }),
    definePath({
      pattern: "role/:name/secret-id-accessor/destroy",
      synopsis: "Destroy a secret_id, given its accessor: logins with it are refused from then on.",
      fields: byAccessor,
      operations: {
        async write(req) {
          await mustRole(req.params.name);
          if (!(await store.destroyByAccessor(req.params.name, req.fields.secret_id_accessor))) throw notFound("accessor");
          return {};
        },
      },
    }),
  ];
}
