// Connecting to PostgreSQL: the connection URL parsed here (not by pg, whose
// sslmode handling differs from libpq's), TLS as libpq means it, and errors
// that never carry the password.
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import pg from "pg";
import type { PoolConfig } from "pg";
import { isLoopbackAddress } from "../util/net.js";
import { LessorError } from "../errors.js";

export type SslMode = "disable" | "require" | "verify-ca" | "verify-full";

export interface PgConnection {
  /** For pg.Pool: explicit fields, never a connection string. */
  config: PoolConfig;
  /** What to show people: "host:port/db" (never the user's password). */
  display: string;
  sslMode: SslMode;
  /** Secrets to scrub from any message we pass on. */
  secrets: string[];
  /** How long a claimed revocation is reserved to its replica (URL revoke_claim_timeout, seconds). */
  revokeClaimTimeoutMs: number;
}

const DEFAULT_POOL_SIZE = 10;
/**
 * A replica that claims a lease for a revocation attempt holds it this long
 * (unless the attempt ends sooner): no other replica takes it meanwhile, and
 * if the replica dies mid-attempt the others retry it after this deadline.
 * It must exceed the longest revocation (several IAM calls, with the SDK's
 * retries when throttled); but a crashed replica's attempts wait this long.
 */
export const DEFAULT_REVOKE_CLAIM_TIMEOUT_MS = 30_000;

/** int8 (bigint: times in ms, counts) as number, not string; everything else as pg does. */
const BIGINT_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (oid === BIGINT_OID && format !== "binary") return (value: string) => Number(value);
    return format === "binary" ? pg.types.getTypeParser(oid, "binary") : pg.types.getTypeParser(oid, "text");
  }) as typeof pg.types.getTypeParser,
};

/** "host:port/db" from a URL, for banners and logs (no user, no password). */
export function describeStorageUrl(url: string): string {
  try {
    return parsePgUrl(url, undefined).display;
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * Parses postgres://user:pass@host:port/db?sslmode=...&pool_size=N, also
 * honouring libpq's sslrootcert and connect_timeout (seconds; 0: wait forever).
 * A unix socket is given as ?host=/run/postgresql (libpq style) or a host of
 * %2Frun%2Fpostgresql.
 */
export function parsePgUrl(url: string, caFileOption: string | undefined, poolSize?: number): PgConnection {
  let u: URL;
  try {
    // libpq allows credentials with no host (postgres://user:pw@/db?host=/run/postgresql);
    // the URL parser does not, so a placeholder host stands in (the host parameter decides).
    u = new URL(url.replace(/^(postgres(?:ql)?:\/\/[^@/?#]*@)\//i, "$1lessor-no-host/"));
  } catch {
    // The URL may hold a password: never echo it.
    throw new Error("the storage URL is not a valid URL (expected postgres://user:password@host:port/database)");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new Error(`the storage URL must start with postgres:// or postgresql:// (got ${u.protocol}//)`);
  }
  const params = u.searchParams;
  const user = decodeURIComponent(u.username) || params.get("user") || "postgres";
  const password = decodeURIComponent(u.password) || params.get("password") || undefined;
  const urlHost = u.hostname === "lessor-no-host" ? "" : decodeURIComponent(u.hostname);
  let host = params.get("host") ?? (urlHost || "localhost");
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(u.port || params.get("port") || 5432);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error("the storage URL has an invalid port");
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || params.get("dbname") || user;
  const socket = host.startsWith("/");

  // libpq's sslrootcert names the CA file too; -storage-ca-file wins.
  const caFile = caFileOption ?? params.get("sslrootcert") ?? undefined;
  const mode = params.get("sslmode");
  let sslMode: SslMode;
  switch (mode) {
    case null:
      // Absent: plaintext only where it cannot cross a network (a loopback
      // address or a unix socket); anywhere else verify-full, so a URL that
      // says nothing gets a verified, encrypted connection or none at all. We
      // do not copy libpq's default ("prefer"), which silently falls back to
      // plaintext.
      // A CA file given says TLS is wanted: verify-full then, loopback or not.
      sslMode = caFile === undefined && (socket || isLoopbackAddress(host)) ? "disable" : "verify-full";
      break;
    case "disable":
    case "require":
    case "verify-ca":
    case "verify-full":
      sslMode = mode;
      break;
    case "prefer":
    case "allow":
      throw new Error(
        `sslmode=${mode} is refused: it means "use TLS if the server offers it, else silently fall back to plaintext", so an attacker in the path can turn TLS off; say sslmode=disable, require, verify-ca or verify-full`,
      );
    default:
      throw new Error(`the storage URL has an unknown sslmode (${mode}); use disable, require, verify-ca or verify-full`);
  }
  // As libpq: require with a root certificate given behaves as verify-ca.
  if (sslMode === "require" && caFile !== undefined) sslMode = "verify-ca";
  if (sslMode === "disable" && caFile !== undefined) {
    throw new Error("-storage-ca-file was given but the storage URL says sslmode=disable");
  }

  let ssl: ConnectionOptions | false = false;
  if (sslMode !== "disable") {
    if (socket) throw new Error(`sslmode=${sslMode} cannot apply to a unix socket (${host})`);
    let ca: string | undefined;
    if (caFile !== undefined) {
      try {
        ca = readFileSync(caFile, "utf8");
      } catch (err) {
        throw new Error(`cannot read -storage-ca-file ${caFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
      }
    }
    if (sslMode === "require") ssl = { rejectUnauthorized: false };
    else if (sslMode === "verify-ca") ssl = { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined };
    // verify-full: pg sets SNI and Node checks the certificate against the host name (or IP).
    else ssl = { rejectUnauthorized: true, ca };
  }

  const sizeParam = params.get("pool_size");
  const max = poolSize ?? (sizeParam !== null ? Number(sizeParam) : DEFAULT_POOL_SIZE);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw new Error("pool_size in the storage URL must be a whole number from 1 to 1000");

  const timeoutParam = params.get("connect_timeout");
  const connectTimeoutSeconds = timeoutParam !== null ? Number(timeoutParam) : 10;
  if (!Number.isFinite(connectTimeoutSeconds) || connectTimeoutSeconds < 0) throw new Error("connect_timeout in the storage URL must be a number of seconds");

  const claimParam = params.get("revoke_claim_timeout");
  const revokeClaimTimeoutMs = claimParam !== null ? Number(claimParam) * 1000 : DEFAULT_REVOKE_CLAIM_TIMEOUT_MS;
  if (!Number.isFinite(revokeClaimTimeoutMs) || revokeClaimTimeoutMs < 1000) {
    throw new Error("revoke_claim_timeout in the storage URL must be a number of seconds, at least 1");
  }

  const display = socket ? `${host}:${port}/${database}` : `${host.includes(":") ? `[${host}]` : host}:${port}/${database}`;
  return {
    config: {
      host,
      port,
      user,
      password,
      database,
      ssl,
      max,
      types,
      connectionTimeoutMillis: connectTimeoutSeconds * 1000,
      idleTimeoutMillis: 30_000,
      application_name: "lessor",
      keepAlive: true,
    },
    display,
    sslMode,
    revokeClaimTimeoutMs,
    secrets: [password, u.password, url].filter((s): s is string => typeof s === "string" && s.length > 0),
  };
}

/** Error codes that mean the database could not be reached or went away. */
const UNREACHABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/** Whether an error means the connection (not the statement) failed. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (UNREACHABLE.has(code)) return true;
    // 08: connection exception; 57P01-03: shutdown, crash, cannot connect now.
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return true;
  }
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    err.message,
  );
}

/** Removes secrets (password, the URL) from a message. */
export function scrub(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("***");
  // Any URL with credentials, whatever produced it.
  return out.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, "$1***@");
}

/**
 * What a store operation throws when PostgreSQL fails: connection failures
 * become UNAVAILABLE (callers may retry elsewhere); anything else an internal
 * error. Either way the message is scrubbed of credentials, and the pg error
 * (which may quote the connection parameters) is not kept as the cause.
 */
export function storeError(err: unknown, display: string, secrets: readonly string[]): Error {
  if (err instanceof LessorError) return err;
  const message = scrub(err instanceof Error ? err.message : String(err), secrets);
  const code = (err as { code?: unknown } | null)?.code;
  if (/CERT|SIGNATURE|TLS|SSL/.test(typeof code === "string" ? code : "") || /SSL|certificate/i.test(message)) {
    return LessorError.unavailable(
      `the TLS connection to PostgreSQL at ${display} failed: ${message} (see sslmode in the storage URL and -storage-ca-file)`,
      "STORAGE_UNAVAILABLE",
    );
  }
  if (isConnectionError(err)) {
    return LessorError.unavailable(`the storage (PostgreSQL at ${display}) is unavailable: ${message}`, "STORAGE_UNAVAILABLE");
  }
  const wrapped = new Error(`PostgreSQL: ${message}`);
  if (typeof code === "string") (wrapped as Error & { code?: string }).code = code;
  return wrapped;
}
