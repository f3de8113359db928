// The agent's way into Lessor: a client carrying a current token. With a
// token file (Vault Agent's `token_file` method), the file is read again
// whenever it changes (a rotated Kubernetes secret, a new `lessor login`).
// The token, from a file or given (LESSOR_TOKEN), is kept renewed, as Vault
// Agent does, until its max TTL.
import { readFileSync, statSync, type Stats } from "node:fs";
import type { Logger } from "pino";
import {
  appRoleAuth,
  awsAuth,
  certAuth,
  Code,
  jwtAuth,
  LessorClient,
  LessorClientError,
  type AuthEvent,
  type LessorClientOptions,
  type LoginMethod,
  type TokenInfo,
} from "@lessor/client";
import { ConfigError, type AgentSettings, type AutoAuth } from "./config.js";
import { isTransient } from "./errors.js";
import { backoffMs, RENEW_FRACTION } from "./timing.js";

/** Largest token file read: a token is a few dozen bytes. */
const MAX_TOKEN_FILE_BYTES = 16 * 1024;
/** Each call to Lessor, retries included. */
export const LESSOR_CALL_DEADLINE_MS = 10_000;
/** A replaced client is closed this long after, so calls already made on it can finish. */
const CLOSE_REPLACED_AFTER_MS = 60_000;

export interface LessorSession {
  /** A client with the current token. */
  client(): LessorClient;
  /** A call was refused as unauthenticated: look for a new token at once. */
  unauthenticated(): void;
  /** What the agent authenticates with, for the banner and health ("token file /run/token"). */
  readonly description: string;
  /** Whether a token is held that Lessor did not refuse at the last call. */
  authenticated(): boolean;
  close(): void;
}

export class TokenFileError extends Error {}

/** Reads a token file: bounded, trimmed, not empty. */
export function readTokenFile(path: string): string {
  let raw: Buffer;
  try {
    if (statSync(path).size > MAX_TOKEN_FILE_BYTES) throw new TokenFileError(`the token file ${path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    raw = readFileSync(path);
  } catch (err) {
    if (err instanceof TokenFileError) throw err;
    throw new TokenFileError(`cannot read the token file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const token = raw.toString("utf8").trim();
  if (token === "") throw new TokenFileError(`the token file ${path} is empty`);
  return token;
}

/** Identity of a file's contents as far as stat tells: changes when it is rewritten or replaced. */
function fileVersion(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

/** Where the token comes from: a file read again when it changes, or a fixed value. */
export type TokenSource = { file: string } | { token: string; description: string };

export class TokenSession implements LessorSession {
  readonly description: string;
  private current: LessorClient;
  private token: string;
  private version: string | undefined;
  private readonly path: string | undefined;
  private refused = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewFailures = 0;
  private closed = false;

  constructor(
    source: TokenSource,
    private readonly clientOptions: Omit<LessorClientOptions, "token">,
    private readonly logger: Logger,
  ) {
    if ("file" in source) {
      this.path = source.file;
      this.description = `token file ${source.file}`;
      try {
        this.version = fileVersion(statSync(source.file));
      } catch (err) {
        throw new TokenFileError(`cannot read the token file ${source.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      this.token = readTokenFile(source.file);
    } else {
      this.description = source.description;
      this.token = source.token;
    }
    this.current = new LessorClient({ ...clientOptions, token: this.token });
    void this.keepRenewed();
  }

  client(): LessorClient {
    this.reloadIfChanged();
    return this.current;
  }

  unauthenticated(): void {
    this.refused = true;
    this.reloadIfChanged();
  }

  authenticated(): boolean {
    return !this.refused;
  }

  close(): void {
    this.closed = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.current.close();
  }

  private reloadIfChanged(): void {
    if (this.path === undefined) return;
    let version: string;
    try {
      version = fileVersion(statSync(this.path));
    } catch (err) {
      // Gone for a moment (being replaced): keep the token held.
      this.logger.debug({ err: (err as Error).message }, "token file unreadable; keeping the token held");
      return;
    }
    if (version === this.version) return;
    let token: string;
    try {
      token = readTokenFile(this.path);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "the token file changed but cannot be read; keeping the token held");
      return;
    }
    this.version = version;
    if (token === this.token) return;
    const replaced = this.current;
    setTimeout(() => replaced.close(), CLOSE_REPLACED_AFTER_MS).unref();
    this.token = token;
    this.refused = false;
    this.current = new LessorClient({ ...this.clientOptions, token });
    this.logger.info({ file: this.path }, "read a new token from the token file");
    this.renewFailures = 0;
    void this.keepRenewed();
  }

  /** Looks the token up, then renews it at two thirds of its TTL while it can be extended. */
  private async keepRenewed(): Promise<void> {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    const client = this.current;
    let info: TokenInfo;
    try {
      info = await client.tokens.lookupSelf();
    } catch (err) {
      this.renewFailed(err, () => void this.keepRenewed());
      return;
    }
    this.schedule(client, info);
  }

  private schedule(client: LessorClient, info: TokenInfo): void {
    if (this.closed || client !== this.current) return;
    this.refused = false;
    this.renewFailures = 0;
    const expireAt = info.expireTime?.getTime();
    if (expireAt === undefined || info.ttlSeconds === 0) return; // never expires
    const maxAt = info.maxExpireTime?.getTime();
    if (!info.renewable || (maxAt !== undefined && expireAt >= maxAt)) {
      this.logger.warn(
        { token: this.description, expires: new Date(expireAt).toISOString() },
        "the agent's token cannot be renewed further; give it a new token before it expires",
      );
      return;
    }
    const delay = Math.max(0, (expireAt - Date.now()) * RENEW_FRACTION);
    this.renewTimer = setTimeout(() => void this.renew(client), delay);
    this.renewTimer.unref();
  }

  private async renew(client: LessorClient): Promise<void> {
    if (this.closed || client !== this.current) return;
    try {
      this.schedule(client, await client.tokens.renew());
    } catch (err) {
      this.renewFailed(err, () => void this.renew(client));
    }
  }

  private renewFailed(err: unknown, retry: () => void): void {
    if (this.closed) return;
    const code = err instanceof LessorClientError ? err.code : undefined;
    if (code === Code.UNAUTHENTICATED) {
      this.refused = true;
      this.logger.error({ token: this.description }, "Lessor refused the agent's token; waiting for a new one");
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (!isTransient(err)) {
      this.logger.warn({ token: this.description, err: message }, "the agent's token cannot be looked up or renewed; it is used as it is until it expires");
      return;
    }
    this.renewFailures++;
    const delay = backoffMs(this.renewFailures);
    this.logger.warn({ err: message, retry_in_ms: delay }, "renewing the agent's token failed; retrying");
    this.renewTimer = setTimeout(retry, delay);
    this.renewTimer.unref();
  }
}

function readTls(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Client options for the Lessor the settings name (address, TLS files), without the token. */
export function clientOptions(lessor: AgentSettings["lessor"]): Omit<LessorClientOptions, "token"> {
  return {
    address: lessor.address,
    caCert: readTls(lessor.caCert, "the CA certificate"),
    clientCert: readTls(lessor.clientCert, "the client certificate"),
    clientKey: readTls(lessor.clientKey, "the client key"),
    deadlineMs: LESSOR_CALL_DEADLINE_MS,
  };
}

type LoginAuth = Exclude<AutoAuth, { method: "token_file" } | { method: "token" }>;

/** The client's LoginMethod for an auth method, and how the banner and health name it. */
function loginMethod(auth: LoginAuth): { method: LoginMethod; description: string } {
  const at = `auth/${auth.mountPath}`;
  switch (auth.method) {
    case "jwt":
      return { method: jwtAuth({ role: auth.role, tokenFile: auth.tokenFile, path: auth.mountPath }), description: `${at} (jwt, role ${auth.role})` };
    case "approle":
      return { method: appRoleAuth({ roleId: auth.roleId, secretIdFile: auth.secretIdFile, path: auth.mountPath }), description: `${at} (approle)` };
    case "cert":
      return { method: certAuth({ name: auth.name, path: auth.mountPath }), description: `${at} (cert${auth.name ? `, role ${auth.name}` : ""})` };
    case "aws":
      return {
        method: awsAuth({ role: auth.role, serverIdHeaderValue: auth.headerValue, region: auth.region, path: auth.mountPath }),
        description: `${at} (aws${auth.role ? `, role ${auth.role}` : ""})`,
      };
  }
}

/**
 * Auto-auth with an auth method: the client logs in at first use, renews its
 * token at two thirds of its TTL, and logs in again before the max TTL or
 * when Lessor refuses the token (the client's `auth` option).
 */
export class LoginSession implements LessorSession {
  readonly description: string;
  private readonly lessor: LessorClient;
  private refused = false;

  constructor(auth: LoginAuth, options: Omit<LessorClientOptions, "token">, private readonly logger: Logger) {
    const { method, description } = loginMethod(auth);
    this.description = description;
    this.lessor = new LessorClient({ ...options, auth: method, onAuthEvent: (event) => this.event(event) });
  }

  client(): LessorClient {
    return this.lessor;
  }

  /** The client logs in again by itself; until it has, the agent says it is not authenticated. */
  unauthenticated(): void {
    this.refused = true;
  }

  authenticated(): boolean {
    return !this.refused;
  }

  close(): void {
    this.lessor.close();
  }

  private event(event: AuthEvent): void {
    if (event.type === "error") {
      this.refused = true;
      this.logger.warn({ auth: this.description, err: event.error.message, retry_in_ms: event.retryInMs }, "logging in to Lessor failed; retrying");
      return;
    }
    this.refused = false;
    this.logger.info(
      { auth: this.description, accessor: event.accessor, expires: event.expireTime?.toISOString() },
      event.type === "login" ? "logged in to Lessor" : "renewed the agent's token",
    );
  }
}

/** A long-lived session: a token kept renewed (a token file read again when it changes), or an auth method's logins. */
export function openSession(auth: AutoAuth, lessor: AgentSettings["lessor"], logger: Logger): LessorSession {
  switch (auth.method) {
    case "token_file":
      return new TokenSession({ file: auth.path }, clientOptions(lessor), logger);
    case "token":
      return new TokenSession({ token: auth.token, description: "LESSOR_TOKEN" }, clientOptions(lessor), logger);
    default:
      return new LoginSession(auth, clientOptions(lessor), logger);
  }
}

/** A client for a single run (`lessor aws credential-process`): the token as it is now, nothing renewed. */
export function oneShotClient(auth: AutoAuth, lessor: AgentSettings["lessor"]): LessorClient {
  switch (auth.method) {
    case "token_file":
      return new LessorClient({ ...clientOptions(lessor), token: readTokenFile(auth.path) });
    case "token":
      return new LessorClient({ ...clientOptions(lessor), token: auth.token });
    default:
      throw new ConfigError(`a single run logs in with a token (-token-file, LESSOR_TOKEN, ~/.lessor-token); to log in with ${auth.method}, run lessor agent`);
  }
}
