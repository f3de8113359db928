// The agent's settings: flags, or a `-config=agent.hcl` file in the HCL
// the server's configuration is written in (util/hcl-config.ts); a flag
// given overrides the file. Every error names the file, the line and the
// key, or the flag.
//
//   lessor { address = "https://lessor.internal:8200"  ca_cert = "/etc/lessor/ca.pem" }
//   auto_auth {
//     method "jwt" { mount_path = "jwt"  config = { role = "payments", token_file = "/var/run/secrets/tokens/lessor" } }
//     # or approle { role_id, secret_id_file }, cert { name }, aws { role, header_value, region },
//     # token_file { token_file_path }
//   }
//   listener "tcp" { address = "127.0.0.1:8100" }      # or listener "unix" { address = "/run/lessor-agent.sock" }
//   aws { mount = "aws"  roles = ["deploy"]  credential_ttl = "1h"  verify_timeout = "60s" }
//   authorization_token_file = "/run/lessor-agent/token"
//   agent_file = "/run/lessor-agent/agent.json"
//   revoke_on_exit = true
//   telemetry { metrics_address = "0.0.0.0:9102" }
//   log_level = "info"
import { homedir } from "node:os";
import { join } from "node:path";
import { agentHome } from "./names.js";
import { z } from "zod";
import { isLoopbackAddress, splitHostPort } from "../server/listen.js";
import { parseDurationMs } from "../util/duration.js";
import { ConfigError, parseHclConfig, readConfigText } from "../util/hcl-config.js";

export { agentHome };
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../util/log-options.js";

import { AUTH_METHODS, DEFAULT_AGENT_ADDRESS, ROLE_NAME } from "./names.js";

export { AUTH_METHODS, DEFAULT_AGENT_ADDRESS, ROLE_NAME };

export type ListenTarget = { host: string; port: number } | { socketPath: string };

/** How the agent gets its Lessor token. */
export type AutoAuth =
  /** A token file, read again when it changes (Vault Agent's `token_file`). */
  | { method: "token_file"; path: string }
  /** A fixed token (LESSOR_TOKEN). */
  | { method: "token"; token: string }
  /** An auth method at auth/<mountPath>: logged in with, renewed, logged in again before its max TTL. */
  | { method: "jwt"; mountPath: string; role: string; tokenFile: string }
  | { method: "approle"; mountPath: string; roleId: string; secretIdFile: string }
  | { method: "cert"; mountPath: string; name: string | undefined }
  | { method: "aws"; mountPath: string; role: string | undefined; headerValue: string | undefined; region: string | undefined };


export interface AgentSettings {
  /** Lessor's address (default LESSOR_ADDR, else 127.0.0.1:8200) and TLS files. */
  lessor: { address?: string; caCert?: string; clientCert?: string; clientKey?: string };
  auth: AutoAuth;
  listen: ListenTarget;
  /** Where the aws engine is mounted. */
  mount: string;
  /** Roles served; empty: any role the token may read. */
  roles: string[];
  /** Longest `Expiration` handed out, from the time of the request. */
  credentialTtlMs: number;
  /** How long to wait for AWS to accept a new IAM user's key (0: do not ask). */
  verifyTimeoutMs: number;
  /** Where the authorization token is written (0600); undefined: nowhere (it is passed on otherwise). */
  authorizationTokenFile: string | undefined;
  /** Where the agent says where it is, for `lessor aws credential-process`; undefined: nowhere. */
  agentFile: string | undefined;
  revokeOnExit: boolean;
  metricsListen: ListenTarget | undefined;
  logLevel: LogLevel;
  /** text (readable lines) or json; undefined: text on a terminal, else json. */
  logFormat: LogFormat | undefined;
}

export { ConfigError };

/** The flags `lessor agent` takes, as yargs gives them (undefined when not given). */
export interface AgentFlags {
  address?: string;
  config?: string;
  "token-file"?: string;
  "listen-address"?: string;
  mount?: string;
  role?: string[];
  "credential-ttl"?: string;
  "verify-timeout"?: string;
  "authorization-token-file"?: string;
  "agent-file"?: string;
  "revoke-on-exit"?: boolean;
  "metrics-listen-address"?: string;
  "log-level"?: string;
  "log-format"?: string;
  "auth-method"?: string;
  "auth-mount"?: string;
  /** key=value settings of the auth method, as in a file's `config = { ... }`. */
  "auth-config"?: string[];
}

/** Flags taken once (yargs makes one given twice a list, whatever its declared type). */
const SINGLE_FLAGS = [
  "address",
  "config",
  "token-file",
  "listen-address",
  "mount",
  "credential-ttl",
  "verify-timeout",
  "authorization-token-file",
  "agent-file",
  "revoke-on-exit",
  "metrics-listen-address",
  "log-level",
  "log-format",
  "auth-method",
  "auth-mount",
] as const satisfies readonly (keyof AgentFlags)[];

const text = z.string().min(1, "must not be empty");
const duration = z.union([z.string(), z.number().int().nonnegative()]);
/** Each auth method's settings: a file's `method "jwt" { mount_path = "jwt"  config = { ... } }`, or the -auth-* flags. */
const loginMethod = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("jwt"), mount_path: text.optional(), config: z.strictObject({ role: text, token_file: text }) }),
    z.strictObject({ type: z.literal("approle"), mount_path: text.optional(), config: z.strictObject({ role_id: text, secret_id_file: text }) }),
    z.strictObject({ type: z.literal("cert"), mount_path: text.optional(), config: z.strictObject({ name: text.optional() }).default({}) }),
    z.strictObject({
      type: z.literal("aws"),
      mount_path: text.optional(),
      config: z.strictObject({ role: text.optional(), header_value: text.optional(), region: text.optional() }).default({}),
    }),
  ],
  { error: `the method must be "token_file", ${AUTH_METHODS.map((m) => `"${m}"`).join(", ")}` },
);

type LoginMethodConfig = z.infer<typeof loginMethod>;

const fileSchema = z.strictObject({
  lessor: z
    .strictObject({ address: text.optional(), ca_cert: text.optional(), client_cert: text.optional(), client_key: text.optional() })
    .optional(),
  auto_auth: z
    .strictObject({
      method: z.discriminatedUnion("type", [z.strictObject({ type: z.literal("token_file"), config: z.strictObject({ token_file_path: text }) }), loginMethod], {
        error: `the method must be "token_file", ${AUTH_METHODS.map((m) => `"${m}"`).join(", ")}`,
      }),
    })
    .optional(),
  listener: z
    .discriminatedUnion("type", [z.strictObject({ type: z.literal("tcp"), address: text }), z.strictObject({ type: z.literal("unix"), address: text })], {
      error: 'the listener type must be "tcp" or "unix"',
    })
    .optional(),
  aws: z
    .strictObject({
      mount: text.optional(),
      roles: z.array(text).optional(),
      credential_ttl: duration.optional(),
      verify_timeout: duration.optional(),
    })
    .optional(),
  authorization_token_file: text.optional(),
  agent_file: text.optional(),
  revoke_on_exit: z.boolean().optional(),
  telemetry: z.strictObject({ metrics_address: text.optional() }).optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  log_format: z.enum(LOG_FORMATS).optional(),
});

export type AgentConfigFile = z.infer<typeof fileSchema>;

/** Reads and checks a configuration file. */
export function readAgentConfig(path: string): AgentConfigFile {
  return parseAgentConfig(readConfigText(path), path);
}

/** Parses configuration text; `name` is what messages call the file. */
export function parseAgentConfig(source: string, name: string): AgentConfigFile {
  return parseHclConfig(source, name, fileSchema).data;
}

/** Container hosts the AWS SDKs accept plain HTTP from, besides loopback (ECS task, EKS Pod Identity). */
const CONTAINER_HOSTS = new Set(["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]);

/**
 * The credentials endpoint speaks plain HTTP, so it listens only where the
 * AWS SDKs accept that (and where the keys cannot cross a network).
 */
function checkCredentialsHost(target: ListenTarget, what: string): ListenTarget {
  if ("host" in target && !isLoopbackAddress(target.host) && !CONTAINER_HOSTS.has(target.host)) {
    throw new ConfigError(
      `${what}: the credentials endpoint is plain HTTP, so it listens only where AWS SDKs accept that: loopback (127.0.0.1, ::1, localhost) or the ECS/EKS container hosts (169.254.170.2, 169.254.170.23, fd00:ec2::23), not ${target.host}`,
    );
  }
  return target;
}

/** `host:port` or `unix:/path`; `what` names the flag or key in errors. */
export function parseListenTarget(value: string, what: string): ListenTarget {
  if (value.startsWith("unix:")) {
    const socketPath = value.slice("unix:".length);
    if (socketPath === "") throw new ConfigError(`${what}: give the socket's path, e.g. unix:/run/lessor-agent.sock`);
    return { socketPath };
  }
  try {
    const { host, port } = splitHostPort(value);
    if (port > 65_535) throw new Error("port out of range");
    return { host, port };
  } catch {
    throw new ConfigError(`${what}: "${value}" is not host:port (e.g. ${DEFAULT_AGENT_ADDRESS}) or unix:/path`);
  }
}

function oneOf<T extends string>(allowed: readonly T[], value: string, what: string): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new ConfigError(`${what} must be one of ${allowed.join(", ")}`);
  return found;
}

function durationMs(value: string | number, what: string): number {
  const parsed = parseDurationMs(String(value));
  if ("error" in parsed) throw new ConfigError(`${what} ${parsed.error}`);
  return parsed.ms;
}

/** Where the agent keeps its files unless told: ~/.lessor/. */

/**
 * The settings in effect: each flag given, else the file's value, else the
 * default. Without any auth, the CLI's own token: LESSOR_TOKEN, else the
 * file ~/.lessor-token (read again when it changes).
 */
export function resolveAgentSettings(flags: AgentFlags, env: NodeJS.ProcessEnv, file: AgentConfigFile = {}): AgentSettings {
  for (const key of SINGLE_FLAGS) {
    if (Array.isArray(flags[key])) throw new ConfigError(`-${key} was given more than once`);
  }
  const listenValue = flags["listen-address"] ?? (file.listener ? (file.listener.type === "unix" ? `unix:${file.listener.address}` : file.listener.address) : DEFAULT_AGENT_ADDRESS);
  const listenWhat = flags["listen-address"] !== undefined ? "-listen-address" : "listener.address";
  const listen = checkCredentialsHost(parseListenTarget(listenValue, listenWhat), listenWhat);
  const metricsValue = flags["metrics-listen-address"] ?? file.telemetry?.metrics_address;
  const roles = flags.role ?? file.aws?.roles ?? [];
  for (const role of roles) {
    if (!ROLE_NAME.test(role)) throw new ConfigError(`-role: "${role}" is not a role name (1 to 64 characters from letters, digits and +=,.@_-)`);
  }
  const credentialTtlMs = durationMs(flags["credential-ttl"] ?? file.aws?.credential_ttl ?? "1h", "-credential-ttl");
  if (credentialTtlMs < 60_000) throw new ConfigError("-credential-ttl must be at least 1m: SDKs come back for credentials before they expire, at least a minute before for most");
  const logLevel = oneOf(LOG_LEVELS, flags["log-level"] ?? file.log_level ?? "info", "-log-level");
  const logFormat = flags["log-format"] ?? file.log_format;
  const home = agentHome(env);
  return {
    lessor: {
      address: flags.address ?? file.lessor?.address,
      caCert: file.lessor?.ca_cert,
      clientCert: file.lessor?.client_cert,
      clientKey: file.lessor?.client_key,
    },
    auth: resolveAuth(flags, env, file),
    listen,
    mount: (flags.mount ?? file.aws?.mount ?? "aws").replace(/^\/+|\/+$/g, ""),
    roles: [...new Set(roles)],
    credentialTtlMs,
    verifyTimeoutMs: durationMs(flags["verify-timeout"] ?? file.aws?.verify_timeout ?? "60s", "-verify-timeout"),
    authorizationTokenFile: flags["authorization-token-file"] ?? file.authorization_token_file ?? join(home, "agent-token"),
    agentFile: flags["agent-file"] ?? file.agent_file ?? join(home, "agent.json"),
    revokeOnExit: flags["revoke-on-exit"] ?? file.revoke_on_exit ?? true,
    metricsListen: metricsValue === undefined ? undefined : parseListenTarget(metricsValue, "-metrics-listen-address"),
    logLevel,
    logFormat: logFormat === undefined ? undefined : oneOf(LOG_FORMATS, logFormat, "-log-format"),
  };
}

/** The auth the flags or the file give, else the CLI's token. */
export function resolveAuth(
  flags: Pick<AgentFlags, "token-file" | "auth-method" | "auth-mount" | "auth-config">,
  env: NodeJS.ProcessEnv,
  file: AgentConfigFile = {},
): AutoAuth {
  if (flags["token-file"] !== undefined && flags["auth-method"] !== undefined) throw new ConfigError("give -token-file or -auth-method, not both");
  if (flags["token-file"] !== undefined) return { method: "token_file", path: flags["token-file"] };
  if (flags["auth-method"] !== undefined) return loginAuth(methodFromFlags(flags));
  const method = file.auto_auth?.method;
  if (method) return method.type === "token_file" ? { method: "token_file", path: method.config.token_file_path } : loginAuth(method);
  if (env.LESSOR_TOKEN) return { method: "token", token: env.LESSOR_TOKEN.trim() };
  return { method: "token_file", path: join(env.HOME ?? homedir(), ".lessor-token") };
}

/** The -auth-* flags, checked as a file's `method` block is (errors name the flag). */
function methodFromFlags(flags: Pick<AgentFlags, "auth-method" | "auth-mount" | "auth-config">): LoginMethodConfig {
  const config: Record<string, string> = {};
  for (const item of flags["auth-config"] ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new ConfigError(`-auth-config takes key=value, not "${item.slice(0, 80)}"`);
    config[item.slice(0, eq)] = item.slice(eq + 1);
  }
  const parsed = loginMethod.safeParse({ type: flags["auth-method"], ...(flags["auth-mount"] !== undefined ? { mount_path: flags["auth-mount"] } : {}), config });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  if (issue.path[0] === "type") throw new ConfigError(`-auth-method must be one of ${AUTH_METHODS.join(", ")}`);
  const key = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.slice(1).join(".");
  throw new ConfigError(`-auth-config ${key}: ${issue.code === "unrecognized_keys" ? `is not a setting of the ${String(flags["auth-method"])} method` : issue.message === "Invalid input: expected string, received undefined" ? "is required" : issue.message}`);
}

function loginAuth(method: LoginMethodConfig): AutoAuth {
  const mountPath = (method.mount_path ?? method.type).replace(/^\/+|\/+$/g, "").replace(/^auth\//, "");
  switch (method.type) {
    case "jwt":
      return { method: "jwt", mountPath, role: method.config.role, tokenFile: method.config.token_file };
    case "approle":
      return { method: "approle", mountPath, roleId: method.config.role_id, secretIdFile: method.config.secret_id_file };
    case "cert":
      return { method: "cert", mountPath, name: method.config.name };
    case "aws":
      return { method: "aws", mountPath, role: method.config.role, headerValue: method.config.header_value, region: method.config.region };
  }
}
