// `lessor server -config=lessor.hcl`: the server's settings in a file, in the
// HCL Vault's configuration is written in (util/hcl-config.ts: the policies'
// bounded parser, zod, errors naming the file, the line and the key). The
// values are returned under the names of the flags they stand for, so flags
// and environment can override them one by one (settings.ts).
//
//   listener "tcp" { address = "0.0.0.0:8200"  tls_cert_file = "..."  tls_key_file = "..."  tls_client_ca_file = "..."
//                    max_connections = 1000  handshake_timeout = "10s"  idle_timeout = "5m"  max_connection_age = "0s"  max_concurrent_streams = 256
//                    max_streams = 1024  max_streams_per_token = 32
//                    http_address = "0.0.0.0:8201" }   (Vault's HTTP API, with the same TLS and limits)
//   storage "sqlite" { path = "/var/lib/lessor" }
//   storage "postgresql" { connection_url = "postgres://..."  ca_file = "..."  path = "/var/lib/lessor" }
//   key_file = "/etc/lessor/lessor.key"
//   telemetry { metrics_address = "127.0.0.1:9102" }
//   log_level = "info"   log_format = "json"   shutdown_delay = "5s"
//   expiry { paused = false  concurrency = 8  mount_concurrency = 4  revoke_rate = 10  revoke_burst = 20
//            revoke_retry_base = "1s"  revoke_retry_max = "5m"  revoke_max_attempts = 15  lease_retention = "168h" }
import { z } from "zod";
import { ConfigError, parseHclConfig, readConfigText } from "../../util/hcl-config.js";
import type { ConfigSources, ServerInput } from "./settings.js";

const text = z.string();
const duration = z.union([z.string(), z.number().int()]);
const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;

const schema = z.strictObject({
  listener: z
    .strictObject({
      type: z.literal("tcp", { error: 'the listener type must be "tcp"' }),
      address: text.optional(),
      http_address: text.optional(),
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
      max_streams: z.number().optional(),
      max_streams_per_token: z.number().optional(),
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


export { ConfigError };

/** Reads and checks a configuration file; throws ConfigError naming the file, line and key. */
export function readConfigFile(path: string): { input: ServerInput; sources: ConfigSources } {
  return parseConfig(readConfigText(path), path);
}

/** Parses configuration text (`name` is what messages call the file). */
export function parseConfig(source: string, name: string): { input: ServerInput; sources: ConfigSources } {
  const { data, lines } = parseHclConfig(source, name, schema);
  return flatten(data, (key) => `${name}:${lines.get(key) ?? "?"} (${key})`);
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
  set("http-listen-address", listener?.http_address, "listener.http_address");
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
  set("max-streams", listener?.max_streams, "listener.max_streams");
  set("max-streams-per-token", listener?.max_streams_per_token, "listener.max_streams_per_token");
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
