// What `lessor server` runs with: each setting from its flag, else its
// environment variable, else the configuration file, else its default, and
// checked once, here, with a message that names where the bad value was
// written (-flag, LESSOR_VARIABLE, or file:line (key)).
import type { LessorServerOptions } from "../../server/app.js";
import { DEFAULT_CONNECTION_LIMITS, DEFAULT_LISTEN_ADDRESS, splitHostPort } from "../../server/listen.js";
import { DEFAULT_STREAM_LIMITS } from "../../server/streams.js";
import { DEFAULT_EXPIRY_CONCURRENCY } from "../../leases/expiry.js";
import { DEFAULT_RETRY_POLICY } from "../../leases/retry.js";
import { DEFAULT_REVOKE_RATE } from "../../leases/rate-limit.js";
import { formatDuration, parseDurationMs } from "../../util/duration.js";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../../util/log-options.js";


/** The settings under their flags' names: what flags, environment and file each give. */
export interface ServerInput {
  "listen-address"?: string;
  "tls-cert-file"?: string;
  "tls-key-file"?: string;
  "tls-client-ca-file"?: string;
  "tls-request-client-cert"?: boolean;
  "tls-disable"?: boolean;
  "data-dir"?: string;
  "key-file"?: string;
  "storage-url"?: string;
  "storage-ca-file"?: string;
  "metrics-listen-address"?: string;
  "http-listen-address"?: string;
  "log-level"?: string;
  "log-format"?: string;
  "shutdown-delay"?: string;
  "no-expire"?: boolean;
  "expiry-concurrency"?: number;
  "expiry-mount-concurrency"?: number;
  "revoke-rate"?: number;
  "revoke-burst"?: number;
  "revoke-retry-base"?: string;
  "revoke-retry-max"?: string;
  "revoke-max-attempts"?: number;
  "lease-retention"?: string;
  "max-connections"?: number;
  "connection-handshake-timeout"?: string;
  "connection-idle-timeout"?: string;
  "max-connection-age"?: string;
  "max-concurrent-streams"?: number;
  "max-streams"?: number;
  "max-streams-per-token"?: number;
}

/** Where each value of the file came from, for messages: "lessor.hcl:7 (listener.address)". */
export type ConfigSources = Partial<Record<keyof ServerInput, string>>;

/** The environment variables that stand for flags (the seal key has no flag: it stays out of argv). */
export const ENVIRONMENT: Partial<Record<keyof ServerInput, string>> = {
  "listen-address": "LESSOR_LISTEN_ADDRESS",
  "storage-url": "LESSOR_STORAGE_URL",
  "storage-ca-file": "LESSOR_STORAGE_CA_FILE",
  "metrics-listen-address": "LESSOR_METRICS_LISTEN_ADDRESS",
  "http-listen-address": "LESSOR_HTTP_LISTEN_ADDRESS",
  "log-level": "LESSOR_LOG_LEVEL",
  "log-format": "LESSOR_LOG_FORMAT",
};

/** Defaults of the settings that have one, as the help shows them. */
export const DEFAULTS = {
  "listen-address": DEFAULT_LISTEN_ADDRESS,
  "log-level": "info",
  "shutdown-delay": "0s",
  "expiry-concurrency": DEFAULT_EXPIRY_CONCURRENCY,
  "revoke-rate": DEFAULT_REVOKE_RATE.perSecond,
  "revoke-burst": DEFAULT_REVOKE_RATE.burst,
  "revoke-retry-base": formatDuration(DEFAULT_RETRY_POLICY.baseMs / 1000),
  "revoke-retry-max": formatDuration(DEFAULT_RETRY_POLICY.capMs / 1000),
  "revoke-max-attempts": DEFAULT_RETRY_POLICY.maxAttempts,
  "lease-retention": "168h",
  "max-connections": DEFAULT_CONNECTION_LIMITS.maxConnections,
  "connection-handshake-timeout": formatDuration(DEFAULT_CONNECTION_LIMITS.handshakeTimeoutMs / 1000),
  "connection-idle-timeout": formatDuration(DEFAULT_CONNECTION_LIMITS.idleTimeoutMs / 1000),
  "max-connection-age": "0s",
  "max-concurrent-streams": DEFAULT_CONNECTION_LIMITS.maxConcurrentStreams,
  "max-streams": DEFAULT_STREAM_LIMITS.maxTotal,
  "max-streams-per-token": DEFAULT_STREAM_LIMITS.maxPerToken,
} as const satisfies Partial<Record<keyof ServerInput, string | number>>;

export interface ServerSettings {
  dev: boolean;
  /** Everything startLessor takes but the data directory (dev mode makes one) and the logger. */
  options: Omit<LessorServerOptions, "dataDir" | "logger">;
  /** Absent in dev mode: a throw-away directory is made. */
  dataDir: string | undefined;
  log: { level: LogLevel; format: LogFormat | undefined };
}

export class SettingsError extends Error {}

/** Flags over environment over file; checked. `flags` holds only the flags given. */
export function resolveSettings(
  flags: ServerInput & { dev?: boolean; "dev-listen-address"?: string; "dev-root-token-id"?: string },
  env: NodeJS.ProcessEnv,
  file: { input: ServerInput; sources: ConfigSources } = { input: {}, sources: {} },
): ServerSettings {
  const source = (key: keyof ServerInput): string => {
    if (flags[key] !== undefined) return `-${key}`;
    const variable = ENVIRONMENT[key];
    if (variable !== undefined && env[variable]) return variable;
    return file.sources[key] ?? `-${key}`;
  };
  const pick = <K extends keyof ServerInput>(key: K): ServerInput[K] | undefined => {
    if (flags[key] !== undefined) return flags[key];
    const variable = ENVIRONMENT[key];
    // An empty variable counts as unset, as the shell's `FOO= cmd` means.
    if (variable !== undefined && env[variable]) return env[variable] as ServerInput[K];
    return file.input[key];
  };
  const dev = flags.dev === true;
  const dataDir = pick("data-dir");
  if (!dev && dataDir === undefined) {
    throw new SettingsError("-data-dir is required (or a storage block's path in -config, or -dev for a throw-away development server)");
  }
  const listenAddress = (dev ? flags["dev-listen-address"] : undefined) ?? pick("listen-address") ?? DEFAULTS["listen-address"];
  const rootTokenId = flags["dev-root-token-id"] ?? (env.LESSOR_DEV_ROOT_TOKEN_ID || undefined);
  if (rootTokenId !== undefined && !dev) throw new SettingsError("-dev-root-token-id is for -dev only: a real server's root token is random and shown once");
  if (rootTokenId !== undefined && !/^[\x21-\x7e]{1,256}$/.test(rootTokenId)) {
    throw new SettingsError("-dev-root-token-id must be 1 to 256 printable characters without spaces");
  }
  return {
    dev,
    dataDir,
    options: {
      listenAddress,
      httpListenAddress: pick("http-listen-address") ?? (dev ? nextPort(listenAddress) : undefined),
      keyFile: pick("key-file"),
      sealKey: env.LESSOR_SEAL_KEY || undefined,
      mountDefaultKv: dev,
      devRootToken: rootTokenId,
      noExpire: pick("no-expire") === true,
      allowPlaintextNonLoopback: pick("tls-disable") === true,
      tlsCertFile: pick("tls-cert-file"),
      tlsKeyFile: pick("tls-key-file"),
      tlsClientCaFile: pick("tls-client-ca-file"),
      tlsRequestClientCert: pick("tls-request-client-cert") === true,
      metricsListenAddress: pick("metrics-listen-address"),
      storageUrl: pick("storage-url"),
      storageCaFile: pick("storage-ca-file"),
      shutdownDelayMs: durationMs(pick("shutdown-delay") ?? DEFAULTS["shutdown-delay"], source("shutdown-delay")),
      ...leaseTuning(pick, source),
      connections: connectionLimits(pick, source),
      streams: {
        maxTotal: Math.floor(atLeast(pick("max-streams") ?? DEFAULTS["max-streams"], 1, source("max-streams"))),
        maxPerToken: Math.floor(atLeast(pick("max-streams-per-token") ?? DEFAULTS["max-streams-per-token"], 1, source("max-streams-per-token"))),
      },
    },
    log: {
      level: oneOf(LOG_LEVELS, pick("log-level") ?? DEFAULTS["log-level"], source("log-level")),
      format: pick("log-format") === undefined ? undefined : oneOf(LOG_FORMATS, pick("log-format"), source("log-format")),
    },
  };
}

type Pick = <K extends keyof ServerInput>(key: K) => ServerInput[K] | undefined;

/** Dev mode's HTTP API: the port after gRPC's (a free one when gRPC's is picked: port 0). */
function nextPort(address: string): string {
  const { host, port } = splitHostPort(address);
  return `${host.includes(":") ? `[${host}]` : host}:${port === 0 ? 0 : port + 1}`;
}

/** The lease expiry and revocation settings, checked. */
function leaseTuning(pick: Pick, source: (key: keyof ServerInput) => string) {
  const duration = (key: "revoke-retry-base" | "revoke-retry-max" | "lease-retention"): number =>
    durationMs(pick(key) ?? DEFAULTS[key], source(key));
  const count = (key: "revoke-max-attempts" | "expiry-concurrency" | "revoke-rate" | "revoke-burst", min: number): number => atLeast(pick(key) ?? DEFAULTS[key], min, source(key));
  const lane = pick("expiry-mount-concurrency");
  const baseMs = duration("revoke-retry-base");
  const capMs = duration("revoke-retry-max");
  if (baseMs < 1) throw new SettingsError(`${source("revoke-retry-base")} must be at least 1ms`);
  if (capMs < baseMs) throw new SettingsError(`${source("revoke-retry-max")} must not be shorter than ${source("revoke-retry-base")}`);
  return {
    retry: { baseMs, capMs, maxAttempts: Math.floor(count("revoke-max-attempts", 1)) },
    expiry: {
      concurrency: Math.floor(count("expiry-concurrency", 1)),
      ...(lane === undefined ? {} : { mountConcurrency: Math.floor(atLeast(lane, 1, source("expiry-mount-concurrency"))) }),
    },
    revokeRate: { perSecond: count("revoke-rate", 0), burst: Math.floor(count("revoke-burst", 1)) },
    leaseRetentionMs: duration("lease-retention"),
  };
}

/** The limits on the gRPC port's connections, checked. */
function connectionLimits(pick: Pick, source: (key: keyof ServerInput) => string) {
  const duration = (key: "connection-handshake-timeout" | "connection-idle-timeout" | "max-connection-age", min: number): number => {
    const ms = durationMs(pick(key) ?? DEFAULTS[key], source(key));
    if (ms < min) throw new SettingsError(`${source(key)} must be at least ${formatDuration(min / 1000)}`);
    return ms;
  };
  return {
    maxConnections: Math.floor(atLeast(pick("max-connections") ?? DEFAULTS["max-connections"], 1, source("max-connections"))),
    handshakeTimeoutMs: duration("connection-handshake-timeout", 100),
    idleTimeoutMs: duration("connection-idle-timeout", 1000),
    maxConnectionAgeMs: duration("max-connection-age", 0),
    maxConcurrentStreams: Math.floor(atLeast(pick("max-concurrent-streams") ?? DEFAULTS["max-concurrent-streams"], 1, source("max-concurrent-streams"))),
  };
}

function atLeast(value: number | string, min: number, where: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new SettingsError(`${where} must be a number of at least ${min}`);
  return n;
}

function durationMs(value: string, where: string): number {
  const parsed = parseDurationMs(value);
  if ("error" in parsed) throw new SettingsError(`${where} ${parsed.error}`);
  return parsed.ms;
}

function oneOf<T extends string>(allowed: readonly T[], value: string | undefined, where: string): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new SettingsError(`${where} must be one of ${allowed.join(", ")}, not "${String(value).slice(0, 40)}"`);
  return found;
}
