// `lessor server -config=lessor.hcl`: the server's settings in a file, in the
// HCL Vault's configuration is written in (parsed by the same bounded parser
// as policies), checked with zod. Every error names the file, the line and
// the key. The values are returned under the names of the flags they stand
// for, so flags and environment can override them one by one (settings.ts).
//
//   listener "tcp" { address = "0.0.0.0:8200"  tls_cert_file = "..."  tls_key_file = "..."  tls_client_ca_file = "..."
//                    max_connections = 1000  handshake_timeout = "10s"  idle_timeout = "5m"  max_connection_age = "0s"  max_concurrent_streams = 256 }
//   storage "sqlite" { path = "/var/lib/lessor" }
//   storage "postgresql" { connection_url = "postgres://..."  ca_file = "..."  path = "/var/lib/lessor" }
//   key_file = "/etc/lessor/lessor.key"
//   telemetry { metrics_address = "127.0.0.1:9102" }
//   log_level = "info"   log_format = "json"   shutdown_delay = "5s"
//   expiry { paused = false  concurrency = 8  mount_concurrency = 4  revoke_rate = 10  revoke_burst = 20
//            revoke_retry_base = "1s"  revoke_retry_max = "5m"  revoke_max_attempts = 15  lease_retention = "168h" }
import { readFileSync } from "node:fs";
import { z } from "zod";
import { HclError, parseHcl, type HclBody, type HclValue } from "../../auth/hcl.js";
import type { ServerInput } from "./settings.js";

/** Largest configuration file read (a real one is a few hundred bytes). */
const MAX_CONFIG_BYTES = 64 * 1024;

const text = z.string();
const duration = z.union([z.string(), z.number().int()]);
const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;

const schema = z.strictObject({
  listener: z
    .strictObject({
      type: z.literal("tcp", { error: 'the listener type must be "tcp"' }),
      address: text.optional(),
      tls_cert_file: text.optional(),
      tls_key_file: text.optional(),
      tls_client_ca_file: text.optional(),
      tls_request_client_cert: z.boolean().optional(),
      tls_disable: z.boolean().optional(),
      max_connections: z.number().optional(),
      handshake_timeout: duration.optional(),
      idle_timeout: duration.optional(),
      max_connection_age: duration.optional(),
      max_concurrent_streams: z.number().optional(),
    })
    .optional(),
  storage: z
    .discriminatedUnion(
      "type",
      [
        z.strictObject({ type: z.literal("sqlite"), path: text }),
        z.strictObject({ type: z.literal("postgresql"), connection_url: text, ca_file: text.optional(), path: text.optional() }),
      ],
      { error: 'the storage type must be "sqlite" or "postgresql"' },
    )
    .optional(),
  key_file: text.optional(),
  telemetry: z.strictObject({ metrics_address: text.optional() }).optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  log_format: z.enum(["json", "text"]).optional(),
  shutdown_delay: duration.optional(),
  expiry: z
    .strictObject({
      paused: z.boolean().optional(),
      concurrency: z.number().optional(),
      mount_concurrency: z.number().optional(),
      revoke_rate: z.number().optional(),
      revoke_burst: z.number().optional(),
      revoke_retry_base: duration.optional(),
      revoke_retry_max: duration.optional(),
      revoke_max_attempts: z.number().optional(),
      lease_retention: duration.optional(),
    })
    .optional(),
});

type ConfigFile = z.infer<typeof schema>;

/** Where each value of the file came from, for messages: "lessor.hcl:7 (listener.address)". */
export type ConfigSources = Partial<Record<keyof ServerInput, string>>;

export class ConfigError extends Error {}

/** Reads and checks a configuration file; throws ConfigError naming the file, line and key. */
export function readConfigFile(path: string): { input: ServerInput; sources: ConfigSources } {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read the configuration file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (raw.length > MAX_CONFIG_BYTES) throw new ConfigError(`${path}: the configuration file is larger than ${MAX_CONFIG_BYTES} bytes`);
  return parseConfig(raw.toString("utf8"), path);
}

/** Parses configuration text (`name` is what messages call the file). */
export function parseConfig(source: string, name: string): { input: ServerInput; sources: ConfigSources } {
  let body: HclBody;
  try {
    body = parseHcl(source);
  } catch (err) {
    if (err instanceof HclError) throw new ConfigError(`${name}:${err.line}: ${err.message.replace(/^line \d+, column \d+: /, "")} (column ${err.column})`);
    throw err;
  }
  const lines = new Map<string, number>();
  const plain = toPlain(body, "", lines, name);
  const parsed = schema.safeParse(plain);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const key = issue.path.join(".");
    const unknown = issue.code === "unrecognized_keys" ? issue.keys[0] : undefined;
    const at = unknown !== undefined ? (key ? `${key}.${unknown}` : unknown) : key;
    const line = lineOf(lines, at);
    const where = `${name}${line !== undefined ? `:${line}` : ""}`;
    if (unknown !== undefined) throw new ConfigError(`${where}: unknown setting "${at}"`);
    // A missing key has no line of its own: the message points at its block.
    const message = lines.has(at) || issue.code !== "invalid_type" ? issue.message : "is required";
    throw new ConfigError(`${where}: ${at || "the file"}: ${message}`);
  }
  return flatten(parsed.data, (key) => `${name}:${lines.get(key) ?? "?"} (${key})`);
}

/** The line of a key, else of the closest block around it. */
function lineOf(lines: Map<string, number>, key: string): number | undefined {
  for (let k = key; k !== ""; k = k.includes(".") ? k.slice(0, k.lastIndexOf(".")) : "") {
    const line = lines.get(k);
    if (line !== undefined) return line;
  }
  return undefined;
}

/** The file as plain objects: a block `listener "tcp" { ... }` becomes `listener: { type: "tcp", ... }`. */
function toPlain(body: HclBody, prefix: string, lines: Map<string, number>, name: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of body.items) {
    const key = prefix ? `${prefix}.${item.key}` : item.key;
    const earlier = lines.get(key);
    if (earlier !== undefined) throw new ConfigError(`${name}:${item.line}: "${key}" is given again (first at line ${earlier}); Lessor takes one`);
    if (item.labels.length > 1) throw new ConfigError(`${name}:${item.line}: "${key}" takes one label, e.g. ${item.key} "${item.labels[0]}" { ... }`);
    lines.set(key, item.line);
    const value = plainValue(item.value, key, lines, name);
    if (item.labels.length === 1) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`${name}:${item.line}: "${key}" must be a block`);
      out[item.key] = { type: item.labels[0], ...value };
      lines.set(`${key}.type`, item.line);
    } else out[item.key] = value;
  }
  return out;
}

function plainValue(value: HclValue, key: string, lines: Map<string, number>, name: string): unknown {
  if (Array.isArray(value)) return value.map((v) => plainValue(v, key, lines, name));
  if (typeof value === "object") return toPlain(value, key, lines, name);
  return value;
}

/** The checked file under the flags' names, each with where it was written. */
function flatten(file: ConfigFile, source: (key: string) => string): { input: ServerInput; sources: ConfigSources } {
  const input: ServerInput = {};
  const sources: ConfigSources = {};
  const set = <K extends keyof ServerInput>(flag: K, value: ServerInput[K] | undefined, key: string): void => {
    if (value === undefined) return;
    input[flag] = value;
    sources[flag] = source(key);
  };
  const asText = (d: string | number | undefined) => (d === undefined ? undefined : String(d));
  const { listener, storage, telemetry, expiry } = file;
  set("listen-address", listener?.address, "listener.address");
  set("tls-cert-file", listener?.tls_cert_file, "listener.tls_cert_file");
  set("tls-key-file", listener?.tls_key_file, "listener.tls_key_file");
  set("tls-client-ca-file", listener?.tls_client_ca_file, "listener.tls_client_ca_file");
  set("tls-request-client-cert", listener?.tls_request_client_cert, "listener.tls_request_client_cert");
  set("tls-disable", listener?.tls_disable, "listener.tls_disable");
  set("max-connections", listener?.max_connections, "listener.max_connections");
  set("connection-handshake-timeout", asText(listener?.handshake_timeout), "listener.handshake_timeout");
  set("connection-idle-timeout", asText(listener?.idle_timeout), "listener.idle_timeout");
  set("max-connection-age", asText(listener?.max_connection_age), "listener.max_connection_age");
  set("max-concurrent-streams", listener?.max_concurrent_streams, "listener.max_concurrent_streams");
  set("data-dir", storage?.path, "storage.path");
  if (storage?.type === "postgresql") {
    set("storage-url", storage.connection_url, "storage.connection_url");
    set("storage-ca-file", storage.ca_file, "storage.ca_file");
  }
  set("key-file", file.key_file, "key_file");
  set("metrics-listen-address", telemetry?.metrics_address, "telemetry.metrics_address");
  set("log-level", file.log_level, "log_level");
  set("log-format", file.log_format, "log_format");
  set("shutdown-delay", asText(file.shutdown_delay), "shutdown_delay");
  set("no-expire", expiry?.paused, "expiry.paused");
  set("expiry-concurrency", expiry?.concurrency, "expiry.concurrency");
  set("expiry-mount-concurrency", expiry?.mount_concurrency, "expiry.mount_concurrency");
  set("revoke-rate", expiry?.revoke_rate, "expiry.revoke_rate");
  set("revoke-burst", expiry?.revoke_burst, "expiry.revoke_burst");
  set("revoke-retry-base", asText(expiry?.revoke_retry_base), "expiry.revoke_retry_base");
  set("revoke-retry-max", asText(expiry?.revoke_retry_max), "expiry.revoke_retry_max");
  set("revoke-max-attempts", expiry?.revoke_max_attempts, "expiry.revoke_max_attempts");
  set("lease-retention", asText(expiry?.lease_retention), "expiry.lease_retention");
  return { input, sources };
}
