// Logging in with the identity a workload already has, so no token is handed
// out by hand: `new LessorClient({ auth: jwtAuth({ role, tokenFile }) })`.
// A LoginMethod says where an auth method is mounted and makes its login
// fields; an AuthSession (one per client) logs in on first use, renews the
// token at about two thirds of its TTL, logs in again before its max TTL or
// when renewal fails or the server says UNAUTHENTICATED, and shares one
// login among concurrent calls. Login fields are made anew at every login:
// a token file is read again each time (Kubernetes rotates projected tokens).
import { readFile } from "node:fs/promises";
import { status as Code } from "@grpc/grpc-js";
import { awsIamLoginData, type AwsIamLoginOptions } from "./aws-login.js";
import { LessorClientError } from "./errors.js";
import type { TokenInfo } from "./gen/lessor/v1/tokens.js";

/** An auth method to log in with: where it is mounted, and its login fields (made fresh for each login). */
export interface LoginMethod {
  /** The method's mount, e.g. "jwt" for auth/jwt. */
  path: string;
  loginData(): Promise<Record<string, unknown>>;
}

const LOGIN_METHOD = "AuthService/Login";

/** Reads a credential file (trimmed); a failure is a LessorClientError naming the file. */
export async function readCredentialFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new LessorClientError(Code.UNAUTHENTICATED, `could not read the ${what} from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, LOGIN_METHOD);
  }
  const value = text.trim();
  if (value === "") throw new LessorClientError(Code.UNAUTHENTICATED, `the ${what} file ${file} is empty`, LOGIN_METHOD);
  return value;
}

function exactlyOne(what: string, a: unknown, b: unknown): void {
  if ((a === undefined) === (b === undefined)) throw new TypeError(`${what}: give exactly one of the two`);
}

export interface JwtAuthOptions {
  /** The jwt method's role to log in with. */
  role: string;
  /** A file holding the JWT, read at every login (e.g. a projected service-account token). */
  tokenFile?: string;
  /** The JWT itself, instead of tokenFile. */
  jwt?: string;
  /** Where the method is mounted (default "jwt"). */
  path?: string;
}

/** Logs in with a JWT (auth/<path>/login with role and jwt). */
export function jwtAuth(options: JwtAuthOptions): LoginMethod {
  exactlyOne("jwtAuth: tokenFile or jwt", options.tokenFile, options.jwt);
  return {
    path: options.path ?? "jwt",
    async loginData() {
      const jwt = options.tokenFile !== undefined ? await readCredentialFile(options.tokenFile, "JWT") : (options.jwt ?? "");
      return { role: options.role, jwt };
    },
  };
}

export interface AppRoleAuthOptions {
  roleId: string;
  /** The secret_id itself. */
  secretId?: string;
  /** A file holding the secret_id, read at every login. */
  secretIdFile?: string;
  /** Where the method is mounted (default "approle"). */
  path?: string;
}

/** Logs in with an AppRole role_id and secret_id (auth/<path>/login). */
export function appRoleAuth(options: AppRoleAuthOptions): LoginMethod {
  exactlyOne("appRoleAuth: secretId or secretIdFile", options.secretId, options.secretIdFile);
  return {
    path: options.path ?? "approle",
    async loginData() {
      const secretId = options.secretIdFile !== undefined ? await readCredentialFile(options.secretIdFile, "secret_id") : (options.secretId ?? "");
      return { role_id: options.roleId, secret_id: secretId };
    },
  };
}

export interface CertAuthOptions {
  /** The cert role to log in with (default: the first role that accepts the certificate). */
  name?: string;
  /** Where the method is mounted (default "cert"). */
  path?: string;
}

/**
 * Logs in with the client's own TLS certificate (the client's `clientCert` and
 * `clientKey`, or LESSOR_CLIENT_CERT and LESSOR_CLIENT_KEY): the connection is the proof.
 */
export function certAuth(options: CertAuthOptions = {}): LoginMethod {
  return { path: options.path ?? "cert", loginData: async () => (options.name ? { name: options.name } : {}) };
}

export type AwsAuthOptions = AwsIamLoginOptions & {
  /** Where the method is mounted (default "aws"). */
  path?: string;
};

/**
 * Logs in with an AWS identity: a GetCallerIdentity request signed anew at
 * every login with the AWS SDK's credentials (default chain, or `credentials`),
 * so rotated instance, task or pod credentials are always the ones used.
 */
export function awsAuth(options: AwsAuthOptions = {}): LoginMethod {
  const { path, ...login } = options;
  return { path: path ?? "aws", loginData: () => awsIamLoginData(login) };
}

/** The calls a session makes, with the token it names (never through the session itself). */
export interface SessionCalls {
  login(path: string, data: Record<string, unknown>): Promise<{ token: string; info: TokenInfo }>;
  renewSelf(token: string): Promise<TokenInfo>;
}

/** What happened, for programs that log it (never the token). */
export type AuthEvent =
  | { type: "login"; accessor: string; expireTime: Date | undefined }
  | { type: "renewed"; accessor: string; expireTime: Date | undefined }
  | { type: "error"; error: Error; retryInMs: number };

/** Longest wait before trying a failed background login again. */
const MAX_RETRY_MS = 30_000;

/** One client's token from a LoginMethod: kept, renewed, replaced. */
export class AuthSession {
  private token: string | undefined;
  private expireAt = Number.POSITIVE_INFINITY;
  private maxExpireAt = Number.POSITIVE_INFINITY;
  private renewable = false;
  private pending: Promise<string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly method: LoginMethod,
    private readonly calls: SessionCalls,
    private readonly onEvent: (event: AuthEvent) => void = () => undefined,
  ) {}

  /** The token to call with: the current one while it has time left, else a new login (shared by concurrent callers). */
  async current(): Promise<string> {
    if (this.token !== undefined && Date.now() < this.expireAt) return this.token;
    return this.login();
  }

  /** Sync access for callers that cannot wait (undefined before the first login). */
  peek(): string | undefined {
    return this.token;
  }

  /** The server refused `token`: log in again, once for every call that saw it refused. */
  async replace(token: string): Promise<string> {
    if (this.token !== undefined && this.token !== token) return this.current();
    this.token = undefined;
    return this.login();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private login(): Promise<string> {
    this.pending ??= (async () => {
      const { token, info } = await this.calls.login(this.method.path, await this.method.loginData());
      this.adopt(token, info, "login");
      return token;
    })().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private adopt(token: string, info: TokenInfo, type: "login" | "renewed"): void {
    this.token = token;
    this.expireAt = info.expireTime?.getTime() ?? Number.POSITIVE_INFINITY;
    this.maxExpireAt = info.maxExpireTime?.getTime() ?? Number.POSITIVE_INFINITY;
    this.renewable = info.renewable;
    this.onEvent({ type, accessor: info.accessor, expireTime: info.expireTime });
    this.schedule();
  }

  /** At two thirds of the time left: renew while renewing extends the token, else log in again. */
  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed || !Number.isFinite(this.expireAt)) return;
    const renew = this.renewable && this.expireAt < this.maxExpireAt;
    this.after(((this.expireAt - Date.now()) * 2) / 3, () => this.refresh(renew));
  }

  private after(ms: number, run: () => Promise<void>): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => void run(), Math.max(0, ms));
    this.timer.unref();
  }

  private async refresh(renew: boolean): Promise<void> {
    const token = this.token;
    if (renew && token !== undefined) {
      try {
        this.adopt(token, await this.calls.renewSelf(token), "renewed");
        return;
      } catch {
        // Renewal refused (revoked, past its limits): a new login replaces the token.
      }
    }
    try {
      await this.login();
    } catch (err) {
      // The current token may still work; try again well before it ends.
      const retryInMs = Math.min(MAX_RETRY_MS, Math.max(1_000, (this.expireAt - Date.now()) / 3));
      this.onEvent({ type: "error", error: err as Error, retryInMs });
      this.after(retryInMs, () => this.refresh(false));
    }
  }
}
