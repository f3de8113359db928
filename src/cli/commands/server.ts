// `lessor server`: run the server, configured by flags, environment and an
// optional -config file (in that order of precedence). `-dev` is the easy
// start: a throw-away data directory, kv at secret/, and the root token
// printed and saved for the CLI.
import { DEFAULT_LISTEN_ADDRESS } from "../../server/listen.js";
import { defineCommand, processIo as io } from "../context.js";
import { EXIT_USAGE } from "../output.js";
import { LOG_FORMATS, LOG_LEVELS } from "../../util/log-options.js";
import { DEFAULTS, ENVIRONMENT, resolveSettings, SettingsError, type ServerInput } from "../server/settings.js";

const env = (key: keyof ServerInput): string => (ENVIRONMENT[key] ? `; env ${ENVIRONMENT[key]}` : "");
const fallback = (key: keyof typeof DEFAULTS): string => `default ${DEFAULTS[key]}${env(key)}`;

/**
 * The flags, without yargs defaults: a flag not given must not hide the
 * environment or the file, so defaults are applied in settings.ts.
 */
const OPTIONS = {
  config: { type: "string", describe: "Configuration file (HCL: listener, storage, key_file, telemetry, log_level, log_format, expiry); flags and environment override it" },
  dev: { type: "boolean", describe: "Development mode: throw-away data, root token printed and saved" },
  "dev-listen-address": { type: "string", describe: "Listen address in dev mode" },
  "dev-root-token-id": { type: "string", describe: "The root token dev mode makes, as given (env LESSOR_DEV_ROOT_TOKEN_ID); for scripts and demos, never production" },
  "listen-address": { type: "string", describe: `host:port to serve gRPC on (default ${DEFAULT_LISTEN_ADDRESS}${env("listen-address")})` },
  "data-dir": { type: "string", describe: "Directory for lessor.db (and lessor.key unless -key-file)" },
  "key-file": { type: "string", describe: "Encryption key file (default <data-dir>/lessor.key; or the key itself in env LESSOR_SEAL_KEY)" },
  "storage-url": {
    type: "string",
    describe: `PostgreSQL URL (postgres://user:password@host:port/db?sslmode=verify-full) for a store several replicas share, instead of <data-dir>/lessor.db${env("storage-url")}`,
  },
  "storage-ca-file": { type: "string", describe: `CA bundle (PEM) to verify the PostgreSQL server's certificate${env("storage-ca-file")}` },
  "log-level": { type: "string", choices: LOG_LEVELS, describe: `Log level (${fallback("log-level")})` },
  "log-format": { type: "string", choices: LOG_FORMATS, describe: `Log format: text (readable lines) or json (default: text on a terminal, else json${env("log-format")})` },
  "no-expire": { type: "boolean", describe: "Start with lease expiry paused (after restoring a backup)" },
  "tls-disable": { type: "boolean", describe: "Allow plaintext on a non-loopback address (dangerous: tokens and secrets in clear)" },
  "tls-cert-file": { type: "string", describe: "TLS: the server's certificate chain (PEM); SIGHUP reads it again" },
  "tls-key-file": { type: "string", describe: "TLS: the server's private key (PEM); SIGHUP reads it again" },
  "tls-client-ca-file": { type: "string", describe: "mTLS: CA bundle (PEM) client certificates must chain to" },
  "tls-request-client-cert": {
    type: "boolean",
    describe: "Ask for a client certificate without requiring one (for the cert auth method); verified against -tls-client-ca-file",
  },
  "http-listen-address": {
    type: "string",
    describe: `host:port to serve Vault's HTTP API on, with the gRPC listener's TLS settings (off unless given; -dev serves it on the port after gRPC's${env("http-listen-address")})`,
  },
  "metrics-listen-address": { type: "string", describe: `host:port to serve Prometheus metrics on, at GET /metrics (off unless given${env("metrics-listen-address")})` },
  "shutdown-delay": { type: "string", describe: `On SIGTERM/SIGINT, keep answering calls this long with health NOT_SERVING before stopping, e.g. 5s (${fallback("shutdown-delay")})` },
  "revoke-retry-base": { type: "string", group: "Lease expiry and revocation:", describe: `First delay before retrying a failed revocation; doubles each try, with jitter (${fallback("revoke-retry-base")})` },
  "revoke-retry-max": { type: "string", group: "Lease expiry and revocation:", describe: `Longest delay between two revocation attempts (${fallback("revoke-retry-max")})` },
  "revoke-max-attempts": {
    type: "number",
    group: "Lease expiry and revocation:",
    describe: `Failed attempts after which a lease is marked irrevocable, retried only when asked or forced (${fallback("revoke-max-attempts")})`,
  },
  "expiry-concurrency": { type: "number", group: "Lease expiry and revocation:", describe: `Revocations running at once, all mounts together (${fallback("expiry-concurrency")})` },
  "expiry-mount-concurrency": {
    type: "number",
    group: "Lease expiry and revocation:",
    describe: "Revocations running at once for one engine mount; a mount whose endpoint hangs holds no more than this (default half of -expiry-concurrency)",
  },
  "revoke-rate": {
    type: "number",
    group: "Lease expiry and revocation:",
    describe: `Revocations per second per engine mount, 0: unlimited; keeps mass expiry under AWS IAM throttling (${fallback("revoke-rate")})`,
  },
  "revoke-burst": { type: "number", group: "Lease expiry and revocation:", describe: `Revocations a mount may start at once (${fallback("revoke-burst")})` },
  "lease-retention": {
    type: "string",
    group: "Lease expiry and revocation:",
    describe: `How long revoked leases and lease events are kept before \`lessor lease tidy\` removes them (${fallback("lease-retention")})`,
  },
  "max-connections": {
    type: "number",
    group: "Connections:",
    describe: `Connections open at once; at the cap the oldest one still in its handshake makes room, else a new one is refused (${fallback("max-connections")})`,
  },
  "connection-handshake-timeout": {
    type: "string",
    group: "Connections:",
    describe: `Time a new connection has to finish TLS and send the HTTP/2 preface, or it is closed (${fallback("connection-handshake-timeout")})`,
  },
  "connection-idle-timeout": {
    type: "string",
    group: "Connections:",
    describe: `A connection with no call for this long is closed; clients reconnect when they need to (${fallback("connection-idle-timeout")})`,
  },
  "max-connection-age": {
    type: "string",
    group: "Connections:",
    describe: `Connections are asked to go away after this long, calls under way get 30s to finish; 0s: never (${fallback("max-connection-age")})`,
  },
  "max-concurrent-streams": { type: "number", group: "Connections:", describe: `Calls at once on one connection (${fallback("max-concurrent-streams")})` },
  "max-streams": {
    type: "number",
    group: "Connections:",
    describe: `Long-lived streams (WatchLeases, RevokeLeasePrefix) open at once on this server; past it, RESOURCE_EXHAUSTED (${fallback("max-streams")})`,
  },
  "max-streams-per-token": {
    type: "number",
    group: "Connections:",
    describe: `Long-lived streams one token may hold open at once (${fallback("max-streams-per-token")})`,
  },
} as const;

type ServerFlags = ServerInput & { config?: string; dev?: boolean; "dev-listen-address"?: string; "dev-root-token-id"?: string };

/** The flags, each given at most once (yargs makes a repeated flag a list, whatever its declared type). */
function givenFlags<T extends ServerFlags & Record<string, unknown>>(argv: T): T {
  for (const key of Object.keys(OPTIONS)) {
    if (Array.isArray(argv[key])) throw new SettingsError(`-${key} was given more than once`);
  }
  return argv;
}

export const serverCommand = defineCommand({
  command: "server",
  describe: "Run a Lessor server",
  builder: (y) => y.options(OPTIONS),
  handler: async (argv) => {
    // Loaded here, not at the CLI's start: every other command starts faster without the server.
    const [{ ConfigError, readConfigFile }, { runServer }] = await Promise.all([import("../server/config-file.js"), import("../server/run.js")]);
    let settings;
    try {
      const flags = givenFlags(argv);
      const file = flags.config === undefined ? undefined : readConfigFile(flags.config);
      settings = resolveSettings(flags, process.env, file);
    } catch (err) {
      if (!(err instanceof SettingsError || err instanceof ConfigError)) throw err;
      io.err(`Error: ${err.message}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    await runServer(settings);
  },
});
