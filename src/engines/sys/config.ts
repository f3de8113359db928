// sys/mounts, sys/auth, sys/policies/acl, sys/audit, sys/audit-hash,
// sys/quotas/rate-limit, sys/rotate and sys/key-status: the server's own
// configuration, at Vault's paths. Disabling a mount revokes its leases
// first, as nothing may outlive its lease.
import { LessorError } from "../../errors.js";
import type { AuditDeviceRecord, MountRecord, QuotaRecord } from "../../store/types.js";
import type { MountKind } from "../../mounts/table.js";
import { parseDuration } from "../../util/duration.js";
import { definePath, type FieldSpecs, type JsonObject, type PathSpec, type Request } from "../framework/types.js";
import type { SystemParts } from "./parts.js";

export function mountData(m: MountRecord): JsonObject {
  return {
    path: m.path,
    type: m.type,
    description: m.description,
    accessor: m.accessor,
    config: { default_lease_ttl: m.defaultTtlSeconds, max_lease_ttl: m.maxTtlSeconds },
  };
}

export function quotaData(q: QuotaRecord): JsonObject {
  return { name: q.name, path: q.path, rate: q.rate, interval: q.intervalSeconds, per_token: q.perToken };
}

export function auditDeviceData(d: AuditDeviceRecord): JsonObject {
  return { path: d.path, type: d.type, description: d.description, options: d.options };
}

/** The fields of `sys/mounts/<path>` and `sys/auth/<path>`: Vault's, with the TTLs under config. */
const MOUNT_FIELDS = {
  type: { type: "string", description: "The backend type, e.g. aws, kv (sys/mounts) or jwt, approle (sys/auth)." },
  description: { type: "string", description: "What the mount is for.", default: "" },
  config: {
    type: "map",
    description: "default_lease_ttl and max_lease_ttl (durations; 0 or absent: the server's 768h); force_no_cache may be false (Lessor caches nothing).",
    default: {},
  },
  options: { type: "map", description: "Engine options: for kv, version may be 1 (Lessor's kv is version 1).", default: {} },
  local: { type: "bool", description: "Vault's replication setting; Lessor does not replicate, so every mount is local either way.", default: false },
  seal_wrap: { type: "bool", description: "Vault's seal wrapping; Lessor seals every stored value either way.", default: false },
  external_entropy_access: { type: "bool", description: "Vault Enterprise's external entropy; only false.", default: false },
  plugin_name: { type: "string", description: "An older name for type; empty or the same as type.", default: "" },
  plugin_version: { type: "string", description: "Plugin versions are not supported; only empty.", default: "" },
  mount_point: { type: "string", description: "The mount's path again, as some clients send it; must be the path of the URL when given." },
} satisfies FieldSpecs;

/** Checks the Vault mount settings Lessor accepts only at their defaults; returns the engine type. */
function mountSettings(req: Request<typeof MOUNT_FIELDS, "mounts/*path">, prefix: string): string {
  const f = req.fields;
  const type = f.type ?? (f.plugin_name !== "" ? f.plugin_name : "");
  if (f.plugin_name !== "" && f.plugin_name !== type) throw LessorError.invalidField("plugin_name", `differs from type "${type.slice(0, 64)}"; give one`);
  if (f.plugin_version !== "") throw LessorError.invalidField("plugin_version", "plugin versions are not supported; leave it empty");
  if (f.external_entropy_access) throw LessorError.invalidField("external_entropy_access", "is not supported; leave it false");
  if (f.mount_point !== undefined && f.mount_point.replace(/^\/+|\/+$/g, "") !== req.params.path.replace(/\/+$/, "")) {
    throw LessorError.invalidField("mount_point", `differs from the path in the URL (${prefix}${req.params.path.slice(0, 64)}); give one`);
  }
  for (const [key, value] of Object.entries(f.options)) {
    if (key !== "version") throw LessorError.invalidField(`options.${key.slice(0, 64)}`, "unknown option; only version (for kv: 1)");
    if (type === "kv" && value !== "" && value !== "1") {
      throw LessorError.invalidField("options.version", `kv version ${value.slice(0, 16)} is not supported; Lessor's kv is version 1`);
    }
    if (type !== "kv" && value !== "") throw LessorError.invalidField("options.version", `the ${type.slice(0, 64)} engine has no versions`);
  }
  return type;
}

function mountPaths(parts: SystemParts, kind: MountKind, root: "mounts" | "auth"): PathSpec[] {
  const { mounts, leases } = parts;
  const what = kind === "auth" ? "auth method" : "secrets engine";
  const prefix = kind === "auth" ? "auth/" : "";
  return [
    definePath({
      pattern: root,
      synopsis: `List the enabled ${what}s.`,
      fields: {},
      operations: {
        async read() {
          return { data: Object.fromEntries(mounts.list(kind).map((m) => [m.path.slice(prefix.length), mountData(m)])) };
        },
      },
    }),
    definePath({
      pattern: `${root}/*path`,
      synopsis: `Enable (write), describe (read) or disable (delete) the ${what} at a path.`,
      description: `Disabling revokes every lease the mount issued first. Root-protected: needs sudo as well.`,
      fields: MOUNT_FIELDS,
      operations: {
        async write(req) {
          const type = mountSettings(req, prefix);
          if (type === "") throw LessorError.invalidField("type", `is required; available: ${mounts.engineTypes(kind).join(", ")}`);
          const ttls = mountTtls(req.fields.config);
          const mount = await mounts.enable(kind, type, prefix + req.params.path, { description: req.fields.description, ...ttls }, Date.now());
          return { data: mountData(mount) };
        },
        async read(req) {
          const mounted = mounts.get(prefix + req.params.path);
          if (!mounted || mounted.builtin) throw notMounted(prefix + req.params.path, what);
          return { data: mountData(mounted.mount) };
        },
        async delete(req) {
          const mounted = mounts.get(prefix + req.params.path);
          if (!mounted || mounted.builtin) throw notMounted(prefix + req.params.path, what);
          const revoked = await leases.revokeMount(mounted.mount.accessor, mounted.mount.path);
          await mounts.remove(mounted.mount.path);
          return { data: { revoked_leases: revoked } };
        },
      },
    }),
  ];
}

function notMounted(path: string, what: string): LessorError {
  const normalized = path.endsWith("/") ? path : `${path}/`;
  return LessorError.notFound(`no ${what} is mounted at ${normalized}`, "MOUNT_NOT_FOUND", { path: normalized });
}

function mountTtls(config: Record<string, string>): { defaultTtlSeconds: number; maxTtlSeconds: number } {
  for (const [key, value] of Object.entries(config)) {
    if (key === "force_no_cache") {
      if (value !== "" && value !== "false") throw LessorError.invalidField("config.force_no_cache", "Lessor caches nothing; leave it false");
    } else if (key !== "default_lease_ttl" && key !== "max_lease_ttl") {
      throw LessorError.invalidField(`config.${key.slice(0, 64)}`, "unknown setting; this path takes default_lease_ttl and max_lease_ttl");
    }
  }
  const seconds = (key: string): number => {
    const raw = config[key];
    if (raw === undefined || raw === "") return 0;
    const parsed = parseDuration(raw);
    if ("error" in parsed) throw LessorError.invalidField(`config.${key}`, `must be zero or a positive duration, e.g. 3600 or 1h (${parsed.error})`);
    return parsed.seconds;
  };
  return { defaultTtlSeconds: seconds("default_lease_ttl"), maxTtlSeconds: seconds("max_lease_ttl") };
}

function policyPaths(parts: SystemParts): PathSpec[] {
  const { policies } = parts;
  return [
    definePath({
      pattern: "policies/acl/",
      synopsis: "List the ACL policies.",
      fields: {},
      operations: {
        async list() {
          return { data: { keys: await policies.list() } };
        },
      },
    }),
    definePath({
      pattern: "policies/acl/:name",
      synopsis: "Read, write or delete an ACL policy (HCL or JSON, Vault's language).",
      description: "Writing and deleting are root-protected: they need sudo as well.",
      // The policy parser has its own, clearer limit (256 KiB); this only bounds the request.
      fields: { policy: { type: "string", description: "The policy text, HCL or JSON.", required: true, maxLength: MAX_POLICY_REQUEST } },
      operations: {
        async read(req) {
          const policy = await policies.read(req.params.name);
          return { data: { name: policy.name, policy: policy.text } };
        },
        async write(req) {
          const name = await policies.write(req.params.name, req.fields.policy, Date.now());
          return { data: { name } };
        },
        async delete(req) {
          await policies.delete(req.params.name);
          return {};
        },
      },
    }),
    ...legacyPolicyPaths(parts),
  ];
}

/** The policy request's bound (the policy parser has its own, clearer limit of 256 KiB). */
const MAX_POLICY_REQUEST = 1024 * 1024;

/**
 * sys/policy and sys/policy/<name>: Vault's older paths for the same ACL
 * policies, which older clients still use (the text is `rules` on read, and
 * `policy` or `rules` on write). Checked on their own paths, as in Vault.
 */
function legacyPolicyPaths(parts: SystemParts): PathSpec[] {
  const { policies } = parts;
  const list = async () => {
    const names = await policies.list();
    return { data: { keys: names, policies: names } };
  };
  return [
    definePath({
      pattern: "policy/",
      synopsis: "List the ACL policies (Vault's older path; sys/policies/acl is the current one).",
      fields: {},
      operations: { read: list, list },
    }),
    definePath({
      pattern: "policy/:name",
      synopsis: "Read, write or delete an ACL policy (Vault's older path; sys/policies/acl/<name> is the current one).",
      description: "Writing and deleting are root-protected: they need sudo as well.",
      fields: {
        policy: { type: "string", description: "The policy text, HCL or JSON.", maxLength: MAX_POLICY_REQUEST },
        rules: { type: "string", description: "The policy text (an older name for policy).", maxLength: MAX_POLICY_REQUEST },
        name: { type: "string", description: "The policy's name again, as some clients send it; must be the name in the URL when given." },
      },
      operations: {
        async read(req) {
          const policy = await policies.read(req.params.name);
          return { data: { name: policy.name, rules: policy.text } };
        },
        async write(req) {
          const { policy, rules, name } = req.fields;
          if (name !== undefined && name !== req.params.name) throw LessorError.invalidField("name", "differs from the name in the URL; give one");
          if (policy !== undefined && rules !== undefined && policy !== rules) throw LessorError.invalidField("rules", "differs from policy; give one");
          const text = policy ?? rules;
          if (text === undefined) throw LessorError.invalidField("policy", "is required");
          await policies.write(req.params.name, text, Date.now());
          return {};
        },
        async delete(req) {
          await policies.delete(req.params.name);
          return {};
        },
      },
    }),
  ];
}

function auditPaths(parts: SystemParts): PathSpec[] {
  const { audit } = parts;
  return [
    definePath({
      pattern: "audit",
      synopsis: "List the enabled audit devices.",
      fields: {},
      operations: {
        async read() {
          return { data: Object.fromEntries(audit.list().map((d) => [d.path, auditDeviceData(d)])) };
        },
      },
    }),
    definePath({
      pattern: "audit/*path",
      synopsis: "Enable (write) or disable (delete) an audit device.",
      fields: {
        type: { type: "string", description: "file or stdout." },
        description: { type: "string", description: "What the device is for.", default: "" },
        options: { type: "map", description: "For file: file_path (absolute, or stdout) and mode (octal).", default: {} },
      },
      operations: {
        async write(req) {
          const type = req.fields.type ?? "";
          if (type === "") throw LessorError.invalidField("type", "is required: file or stdout");
          const device = await audit.enable({ path: req.params.path, type, description: req.fields.description, options: req.fields.options });
          return { data: auditDeviceData(device) };
        },
        async delete(req) {
          await audit.disable(req.params.path);
          return {};
        },
      },
    }),
    definePath({
      pattern: "audit-hash",
      synopsis: "The digest the audit log holds in place of a value (to search the log for a known value).",
      fields: { input: { type: "string", description: "The value to hash.", required: true } },
      operations: {
        async write(req) {
          return { data: { hash: audit.hash(req.fields.input) } };
        },
      },
    }),
  ];
}

function quotaPaths(parts: SystemParts): PathSpec[] {
  const { quotas } = parts;
  return [
    definePath({
      pattern: "quotas/rate-limit/",
      synopsis: "List the rate limit quotas.",
      fields: {},
      operations: {
        async list() {
          return { data: { keys: quotas.list().map((q) => q.name), quotas: quotas.list().map(quotaData) } };
        },
      },
    }),
    definePath({
      pattern: "quotas/rate-limit/:name",
      synopsis: "Read, write or delete a rate limit quota: rate requests per interval on a path prefix.",
      fields: {
        path: { type: "string", description: "Path prefix the quota applies to; empty for every path.", default: "" },
        rate: { type: "json", description: "Requests allowed per interval (a number).", required: true },
        interval: { type: "duration", description: "The interval (default 1s).", default: 0 },
        per_token: { type: "bool", description: "Count each token apart (default: all callers together).", default: false },
      },
      operations: {
        async read(req) {
          return { data: quotaData(quotas.read(req.params.name)) };
        },
        async write(req) {
          const { path, rate, interval, per_token } = req.fields;
          if (typeof rate !== "number" && typeof rate !== "string") throw LessorError.invalidField("rate", "must be a number");
          const quota = await quotas.write({ name: req.params.name, path, rate: Number(rate), intervalSeconds: interval, perToken: per_token });
          return { data: quotaData(quota) };
        },
        async delete(req) {
          await quotas.delete(req.params.name);
          return {};
        },
      },
    }),
  ];
}

function keyPaths(parts: SystemParts): PathSpec[] {
  const { keys } = parts;
  return [
    definePath({
      pattern: "rotate",
      synopsis: "Rotate the encryption key: new writes use a new key; older values are re-encrypted in the background.",
      fields: {},
      operations: {
        async write() {
          return { data: { active_key_id: await keys.rotate() } };
        },
      },
    }),
    definePath({
      pattern: "rotate/prune",
      synopsis: "Drop old encryption keys that no stored value uses any more.",
      fields: {},
      operations: {
        async write() {
          return { data: { dropped_key_ids: await keys.prune() } };
        },
      },
    }),
    definePath({
      pattern: "key-status",
      synopsis: "The encryption keys, which is active, and how many values each still seals.",
      fields: {},
      operations: {
        async read() {
          const status = await keys.status();
          return {
            data: {
              keys: status.keys.map((k) => ({ id: k.id, active: k.active, sealed_values: k.sealedValues })),
              reencrypting: status.reencrypting,
              key_source: status.keySource,
            },
          };
        },
      },
    }),
  ];
}

export function configPaths(parts: SystemParts): PathSpec[] {
  return [
    ...mountPaths(parts, "secret", "mounts"),
    ...mountPaths(parts, "auth", "auth"),
    ...policyPaths(parts),
    ...auditPaths(parts),
    ...quotaPaths(parts),
    ...keyPaths(parts),
  ];
}

