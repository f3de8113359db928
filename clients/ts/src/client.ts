// The ergonomic layer over the generated stubs: one object, promise-returning
// calls with deadlines, the token sent on every call, typed AWS credentials.
import { ChannelCredentials, Metadata, credentials as grpcCredentials, status as Code, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  LeaseServiceClient,
  LeaseState,
  RevokeLeaseRequest,
  type LeaseInfo,
  type ListLeasesResponse,
  type RenewLeaseResponse,
  type RevokeLeasePrefixResponse,
  type RevokeLeaseResponse,
  type TidyLeasesResponse,
} from "./gen/lessor/v1/leases.js";
import { MountServiceClient, type Mount } from "./gen/lessor/v1/mounts.js";
import { PolicyServiceClient } from "./gen/lessor/v1/policies.js";
import { SysServiceClient } from "./gen/lessor/v1/sys.js";
import { AuthServiceClient } from "./gen/lessor/v1/auth.js";
import { TokenServiceClient } from "./gen/lessor/v1/tokens.js";
import type { AuditDevice, GetEncryptionKeyStatusResponse, RateLimitQuota } from "./gen/lessor/v1/sys.js";
import type { CreateTokenRequest, RevokeTokenResponse, TokenInfo } from "./gen/lessor/v1/tokens.js";
import { SecretsServiceClient, type Lease, type PathHelpResponse } from "./gen/lessor/v1/secrets.js";
import { LessorClientError } from "./errors.js";
import { AuthSession, type AuthEvent, type LoginMethod } from "./auth.js";
import { CHANNEL_OPTIONS, IDEMPOTENT_METHODS, isIdempotentRead, withRetries, type LessorCallOptions, type RetryOptions } from "./policy.js";

export const DEFAULT_ADDRESS = "127.0.0.1:8200";

export interface LessorClientOptions {
  /** host:port, or http(s)://host:port. Default: LESSOR_ADDR, else 127.0.0.1:8200. */
  address?: string;
  /** Token. Default: LESSOR_TOKEN, else the contents of ~/.lessor-token (neither when `auth` is given). */
  token?: string;
  /**
   * Log in with this method instead of holding a token (`jwtAuth`, `appRoleAuth`, ...):
   * at first use, again before the token's max TTL, and when the server refuses
   * the token; the token is renewed at about two thirds of its TTL.
   */
  auth?: LoginMethod;
  /** Told of each login, renewal and failed background login (never the token). */
  onAuthEvent?: (event: AuthEvent) => void;
  /** Per-call deadline in milliseconds, retries included (default 30 s). */
  deadlineMs?: number;
  /** Retries of idempotent calls on UNAVAILABLE (see policy.ts). */
  retry?: RetryOptions;
  /** TLS: CA bundle (PEM) to trust; default LESSOR_CACERT. An https:// address enables TLS. */
  caCert?: Buffer;
  clientCert?: Buffer;
  clientKey?: Buffer;
}

/** What a read or write returned. */
export interface SecretResult {
  /** Present only when a dynamic secret was issued (absent for stored values such as kv). */
  lease: Lease | undefined;
  data: Record<string, unknown>;
  warnings: string[];
  /** A read of a stored value: seconds it may be kept before reading again (kv's `ttl`, else 768h); 0 otherwise. */
  refreshIntervalSeconds: number;
  /** A write that made a token (a login, `auth/token/create`): the token, shown this once, and its details. */
  auth?: { token: string; info: TokenInfo };
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Set for STS credentials. */
  sessionToken: string | undefined;
  lease: Lease;
}

/** A generated unary method, e.g. `client.raw.leases.lookupLease`. */
export type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Reads the token the CLI would use: LESSOR_TOKEN, else ~/.lessor-token. */
export function defaultToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.LESSOR_TOKEN) return env.LESSOR_TOKEN.trim();
  try {
    return readFileSync(join(env.HOME ?? homedir(), ".lessor-token"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

function readOptionalFile(path: string | undefined): Buffer | undefined {
  return path ? readFileSync(path) : undefined;
}

/** Parses an address into a gRPC target and whether it asks for TLS. */
export function parseAddress(address: string): { target: string; tls: boolean } {
  const m = /^(https?):\/\/([^/]+)\/?$/.exec(address.trim());
  if (m) return { target: m[2] as string, tls: m[1] === "https" };
  return { target: address.trim(), tls: false };
}

export class LessorClient {
  readonly address: string;
  /** The generated stubs, for calls the typed layer does not wrap (see `invoke`). */
  readonly raw: {
    secrets: SecretsServiceClient;
    leases: LeaseServiceClient;
    mounts: MountServiceClient;
    tokens: TokenServiceClient;
    policies: PolicyServiceClient;
    sys: SysServiceClient;
    auth: AuthServiceClient;
  };
  private readonly token: string | undefined;
  private readonly session: AuthSession | undefined;
  private readonly deadlineMs: number;
  private readonly retry: RetryOptions | undefined;

  constructor(options: LessorClientOptions = {}) {
    const env = process.env;
    this.address = options.address ?? env.LESSOR_ADDR ?? DEFAULT_ADDRESS;
    if (options.auth && options.token !== undefined) throw new TypeError("LessorClient: give a token or auth, not both");
    this.token = options.auth ? undefined : (options.token ?? defaultToken(env));
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.retry = options.retry;
    const { target, tls } = parseAddress(this.address);
    const ca = options.caCert ?? readOptionalFile(env.LESSOR_CACERT);
    const cert = options.clientCert ?? readOptionalFile(env.LESSOR_CLIENT_CERT);
    const key = options.clientKey ?? readOptionalFile(env.LESSOR_CLIENT_KEY);
    const channel: ChannelCredentials =
      tls || ca ? grpcCredentials.createSsl(ca ?? null, key ?? null, cert ?? null) : grpcCredentials.createInsecure();
    const secrets = new SecretsServiceClient(target, channel, CHANNEL_OPTIONS);
    const shared = { ...CHANNEL_OPTIONS, channelOverride: secrets.getChannel() };
    this.raw = {
      secrets,
      leases: new LeaseServiceClient(target, channel, shared),
      mounts: new MountServiceClient(target, channel, shared),
      tokens: new TokenServiceClient(target, channel, shared),
      policies: new PolicyServiceClient(target, channel, shared),
      sys: new SysServiceClient(target, channel, shared),
      auth: new AuthServiceClient(target, channel, shared),
    };
    this.session = options.auth
      ? new AuthSession(
          options.auth,
          {
            login: (path, data) => this.loginWith(path, data),
            renewSelf: async (token) => infoOf(await this.send(token, "TokenService/RenewToken", this.raw.tokens.renewToken, this.raw.tokens, { token: "", accessor: "", incrementSeconds: 0 }), "TokenService/RenewToken"),
          },
          options.onAuthEvent,
        )
      : undefined;
  }

  /** Metadata for a call: the bearer token (with `auth`, the token of the last login; see `callMetadata`). */
  metadata(): Metadata {
    return bearer(this.token ?? this.session?.peek());
  }

  /** Metadata for a call, logging in first when the client has `auth` and no token yet (for streams and `raw` calls). */
  async callMetadata(): Promise<Metadata> {
    return this.session ? bearer(await this.session.current()) : this.metadata();
  }

  /**
   * Calls any generated unary method with the token and a deadline:
   * `client.invoke("TokenService/CreateToken", client.raw.tokens.createToken, client.raw.tokens, request)`.
   * Failures are LessorClientError.
   */
  invoke<Req, Res>(method: string, fn: Unary<Req, Res>, self: object, request: Req, options?: LessorCallOptions): Promise<Res> {
    return this.call(method, fn, self, request, options);
  }

  /**
   * One call with the client's token. With `auth`: logs in first if need be,
   * and when the server says UNAUTHENTICATED logs in again and tries once
   * more (nothing was done with a refused token).
   */
  private async call<Req, Res>(method: string, fn: Unary<Req, Res>, self: object, request: Req, options: LessorCallOptions = {}): Promise<Res> {
    if (!this.session) return this.send(this.token, method, fn, self, request, options);
    const token = await this.session.current();
    try {
      return await this.send(token, method, fn, self, request, options);
    } catch (err) {
      if (!(err instanceof LessorClientError) || err.code !== Code.UNAUTHENTICATED) throw err;
      return this.send(await this.session.replace(token), method, fn, self, request, options);
    }
  }

  /** One call with a deadline and the token given; idempotent ones are retried on UNAVAILABLE (policy.ts). */
  private send<Req, Res>(token: string | undefined, method: string, fn: Unary<Req, Res>, self: object, request: Req, options: LessorCallOptions = {}): Promise<Res> {
    const idempotent = options.idempotent ?? IDEMPOTENT_METHODS.has(method);
    const deadline = Date.now() + (options.deadlineMs ?? this.deadlineMs);
    return withRetries(method, idempotent, deadline, this.retry, (until) => new Promise<Res>((resolve, reject) => {
      fn.call(self, request, bearer(token), { deadline: until }, (err, res) => {
        if (err) reject(LessorClientError.from(err, method));
        else resolve(res);
      });
    }));
  }

  /** Reads a path. Retried on UNAVAILABLE only when that cannot issue a second secret (`isIdempotentRead`). */
  async read(path: string, data?: Record<string, unknown>, options: LessorCallOptions = {}): Promise<SecretResult> {
    const s = this.raw.secrets;
    const res = await this.call("SecretsService/Read", s.read, s, { path, data }, { idempotent: isIdempotentRead(path), ...options });
    return { lease: res.lease, data: res.data ?? {}, warnings: res.warnings, refreshIntervalSeconds: res.refreshIntervalSeconds };
  }

  async write(path: string, data: Record<string, unknown>): Promise<SecretResult> {
    const s = this.raw.secrets;
    const res = await this.call("SecretsService/Write", s.write, s, { path, data });
    const auth = res.token !== "" && res.tokenInfo ? { token: res.token, info: res.tokenInfo } : undefined;
    return { lease: res.lease, data: res.data ?? {}, warnings: res.warnings, refreshIntervalSeconds: 0, ...(auth ? { auth } : {}) };
  }

  /**
   * Logs in through the auth method mounted at `path` ("jwt", "approle", ...)
   * with its login fields; needs no token. Returns the token the login earned
   * (make a client with it) and what may be known about it.
   */
  async login(path: string, data: Record<string, unknown>): Promise<{ token: string; info: TokenInfo }> {
    return this.loginWith(path, data);
  }

  /** A login sends no token (the path needs none), so it never waits on this client's own session. */
  private async loginWith(path: string, data: Record<string, unknown>): Promise<{ token: string; info: TokenInfo }> {
    const a = this.raw.auth;
    const res = await this.send(undefined, "AuthService/Login", a.login, a, { path, data });
    return { token: res.token, info: infoOf(res, "AuthService/Login") };
  }

  async delete(path: string): Promise<{ warnings: string[] }> {
    const s = this.raw.secrets;
    return this.call("SecretsService/Delete", s.delete, s, { path });
  }

  async list(path: string): Promise<string[]> {
    const s = this.raw.secrets;
    return (await this.call("SecretsService/List", s.list, s, { path })).keys;
  }

  async pathHelp(path: string): Promise<PathHelpResponse> {
    const s = this.raw.secrets;
    return this.call("SecretsService/PathHelp", s.pathHelp, s, { path });
  }

  readonly leases = {
    lookup: async (leaseId: string): Promise<LeaseInfo> => {
      const l = this.raw.leases;
      const res = await this.call("LeaseService/LookupLease", l.lookupLease, l, { leaseId });
      if (!res.lease) throw new LessorClientError(2, "server sent no lease", "LeaseService/LookupLease");
      return res.lease;
    },
    /** Extends a lease by `incrementSeconds` from now (0: its own duration); `clamped` says the max TTL cut it short. */
    renew: async (leaseId: string, incrementSeconds = 0): Promise<RenewLeaseResponse> => {
      const l = this.raw.leases;
      return this.call("LeaseService/RenewLease", l.renewLease, l, { leaseId, incrementSeconds });
    },
    /**
     * Revokes a lease, waiting for its secret to be destroyed. `enqueue`: queue it
     * and return at once. `force` (needs sudo): drop the lease WITHOUT destroying
     * its secret; `warnings` says so.
     */
    revoke: async (leaseId: string, options: { force?: boolean; enqueue?: boolean } = {}): Promise<RevokeLeaseResponse> => {
      const l = this.raw.leases;
      return this.call(
        "LeaseService/RevokeLease",
        l.revokeLease,
        l,
        RevokeLeaseRequest.fromPartial({ leaseId, force: options.force ?? false, enqueue: options.enqueue ?? false }),
      );
    },
    /**
     * Revokes every lease under a path prefix, in batches; yields progress
     * messages, the last with `done`. The job is recorded on the server: if the
     * caller goes away or the server restarts, it still finishes.
     */
    revokePrefix: (
      prefix: string,
      options: { force?: boolean; enqueue?: boolean } = {},
    ): AsyncIterable<RevokeLeasePrefixResponse> => {
      const l = this.raw.leases;
      const method = "LeaseService/RevokeLeasePrefix";
      const request = { prefix, force: options.force ?? false, enqueue: options.enqueue ?? false };
      const metadata = () => this.callMetadata();
      return {
        async *[Symbol.asyncIterator]() {
          // No deadline: a large prefix takes as long as the rate limit says.
          const stream = l.revokeLeasePrefix(request, await metadata(), {});
          try {
            for await (const message of stream) yield message as RevokeLeasePrefixResponse;
          } catch (err) {
            throw LessorClientError.from(err as ServiceError, method);
          } finally {
            stream.cancel();
          }
        },
      };
    },
    /** One page of leases under a prefix (page size default 50, at most 1000). */
    list: async (
      prefix: string,
      options: { pageSize?: number; pageToken?: string; state?: LeaseState } = {},
    ): Promise<ListLeasesResponse> => {
      const l = this.raw.leases;
      return this.call("LeaseService/ListLeases", l.listLeases, l, {
        prefix,
        pageSize: options.pageSize ?? 0,
        pageToken: options.pageToken ?? "",
        state: options.state ?? LeaseState.LEASE_STATE_UNSPECIFIED,
      });
    },
    /** Every lease under a prefix, fetched a page at a time. */
    listAll: (prefix: string, options: { pageSize?: number; state?: LeaseState } = {}): AsyncIterable<LeaseInfo> => {
      const list = this.leases.list;
      return {
        async *[Symbol.asyncIterator]() {
          let pageToken = "";
          do {
            const page = await list(prefix, { ...options, pageToken });
            yield* page.leases;
            pageToken = page.nextPageToken;
          } while (pageToken !== "");
        },
      };
    },
    /** Repairs the lease index and dangling entries; purges old records. */
    tidy: async (): Promise<TidyLeasesResponse> => {
      const l = this.raw.leases;
      return this.call("LeaseService/TidyLeases", l.tidyLeases, l, {});
    },
  };

  readonly mounts = {
    enable: async (
      type: string,
      options: { path?: string; description?: string; defaultLeaseTtlSeconds?: number; maxLeaseTtlSeconds?: number } = {},
    ): Promise<Mount> => {
      const m = this.raw.mounts;
      const res = await this.call("MountService/EnableMount", m.enableMount, m, {
        type,
        path: options.path ?? "",
        description: options.description ?? "",
        defaultLeaseTtlSeconds: options.defaultLeaseTtlSeconds ?? 0,
        maxLeaseTtlSeconds: options.maxLeaseTtlSeconds ?? 0,
      });
      if (!res.mount) throw new LessorClientError(2, "server sent no mount", "MountService/EnableMount");
      return res.mount;
    },
    disable: async (path: string): Promise<{ revokedLeases: number }> => {
      const m = this.raw.mounts;
      return this.call("MountService/DisableMount", m.disableMount, m, { path });
    },
    list: async (): Promise<Mount[]> => {
      const m = this.raw.mounts;
      return (await this.call("MountService/ListMounts", m.listMounts, m, {})).mounts;
    },
  };

  readonly aws = {
    /** Issues AWS credentials for a role (reads `<mount>/creds/<role>`). */
    creds: async (role: string, options: { mount?: string } = {}): Promise<AwsCredentials> => {
      const mount = (options.mount ?? "aws").replace(/\/+$/, "");
      const res = await this.read(`${mount}/creds/${role}`);
      const { access_key, secret_key, security_token } = res.data;
      if (typeof access_key !== "string" || typeof secret_key !== "string" || !res.lease) {
        throw new LessorClientError(2, `${mount}/creds/${role} did not return AWS credentials with a lease`, "SecretsService/Read");
      }
      return {
        accessKeyId: access_key,
        secretAccessKey: secret_key,
        sessionToken: typeof security_token === "string" && security_token !== "" ? security_token : undefined,
        lease: res.lease,
      };
    },
  };

  /** Tokens: create (a child of this client's token unless orphan), look up, renew, revoke. */
  readonly tokens = {
    create: async (options: Partial<CreateTokenRequest> = {}): Promise<{ token: string; info: TokenInfo }> => {
      const t = this.raw.tokens;
      const res = await this.call("TokenService/CreateToken", t.createToken, t, {
        policies: options.policies ?? [],
        ttlSeconds: options.ttlSeconds ?? 0,
        explicitMaxTtlSeconds: options.explicitMaxTtlSeconds ?? 0,
        renewable: options.renewable ?? true,
        numUses: options.numUses ?? 0,
        displayName: options.displayName ?? "",
        orphan: options.orphan ?? false,
        meta: options.meta ?? {},
      });
      if (!res.info) throw new LessorClientError(2, "server sent no token info", "TokenService/CreateToken");
      return { token: res.token, info: res.info };
    },
    /** By token value or accessor; neither: this client's own token. */
    lookup: async (which: { token?: string; accessor?: string } = {}): Promise<TokenInfo> => {
      const t = this.raw.tokens;
      const res = await this.call("TokenService/LookupToken", t.lookupToken, t, { token: which.token ?? "", accessor: which.accessor ?? "" });
      if (!res.info) throw new LessorClientError(2, "server sent no token info", "TokenService/LookupToken");
      return res.info;
    },
    lookupSelf: async (): Promise<TokenInfo> => {
      const t = this.raw.tokens;
      const res = await this.call("TokenService/LookupSelfToken", t.lookupSelfToken, t, {});
      if (!res.info) throw new LessorClientError(2, "server sent no token info", "TokenService/LookupSelfToken");
      return res.info;
    },
    /** Extends by `incrementSeconds` (0: the token's own TTL), never past its max TTL. */
    renew: async (which: { token?: string; accessor?: string; incrementSeconds?: number } = {}): Promise<TokenInfo> => {
      const t = this.raw.tokens;
      const res = await this.call("TokenService/RenewToken", t.renewToken, t, {
        token: which.token ?? "",
        accessor: which.accessor ?? "",
        incrementSeconds: which.incrementSeconds ?? 0,
      });
      if (!res.info) throw new LessorClientError(2, "server sent no token info", "TokenService/RenewToken");
      return res.info;
    },
    /** Revokes a token, its children (unless orphan) and the leases they created. */
    revoke: async (which: { token?: string; accessor?: string; orphan?: boolean } = {}): Promise<RevokeTokenResponse> => {
      const t = this.raw.tokens;
      return this.call("TokenService/RevokeToken", t.revokeToken, t, {
        token: which.token ?? "",
        accessor: which.accessor ?? "",
        orphan: which.orphan ?? false,
      });
    },
  };

  /** ACL policies in Vault's language (HCL or JSON). */
  readonly policies = {
    write: async (name: string, policy: string): Promise<void> => {
      const p = this.raw.policies;
      await this.call("PolicyService/WritePolicy", p.writePolicy, p, { name, policy });
    },
    read: async (name: string): Promise<string> => {
      const p = this.raw.policies;
      return (await this.call("PolicyService/ReadPolicy", p.readPolicy, p, { name })).policy;
    },
    list: async (): Promise<string[]> => {
      const p = this.raw.policies;
      return (await this.call("PolicyService/ListPolicies", p.listPolicies, p, {})).names;
    },
    delete: async (name: string): Promise<void> => {
      const p = this.raw.policies;
      await this.call("PolicyService/DeletePolicy", p.deletePolicy, p, { name });
    },
  };

  /** Operator functions: audit devices, rate limit quotas, encryption keys. */
  readonly sys = {
    enableAudit: async (type: string, options: { path?: string; description?: string; options?: Record<string, string> } = {}): Promise<void> => {
      const s = this.raw.sys;
      await this.call("SysService/EnableAuditDevice", s.enableAuditDevice, s, {
        device: { type, path: options.path ?? "", description: options.description ?? "", options: options.options ?? {} },
      });
    },
    disableAudit: async (path: string): Promise<void> => {
      const s = this.raw.sys;
      await this.call("SysService/DisableAuditDevice", s.disableAuditDevice, s, { path });
    },
    listAudit: async (): Promise<AuditDevice[]> => {
      const s = this.raw.sys;
      return (await this.call("SysService/ListAuditDevices", s.listAuditDevices, s, {})).devices;
    },
    /** The `hmac-sha256:` digest audit records hold for `input`. */
    hashAudit: async (input: string): Promise<string> => {
      const s = this.raw.sys;
      return (await this.call("SysService/HashAuditValue", s.hashAuditValue, s, { input })).hash;
    },
    writeQuota: async (quota: { name: string; rate: number; path?: string; intervalSeconds?: number; perToken?: boolean }): Promise<void> => {
      const s = this.raw.sys;
      await this.call("SysService/WriteRateLimitQuota", s.writeRateLimitQuota, s, {
        quota: { name: quota.name, rate: quota.rate, path: quota.path ?? "", intervalSeconds: quota.intervalSeconds ?? 1, perToken: quota.perToken ?? false },
      });
    },
    readQuota: async (name: string): Promise<RateLimitQuota> => {
      const s = this.raw.sys;
      const res = await this.call("SysService/ReadRateLimitQuota", s.readRateLimitQuota, s, { name });
      if (!res.quota) throw new LessorClientError(2, "server sent no quota", "SysService/ReadRateLimitQuota");
      return res.quota;
    },
    listQuotas: async (): Promise<RateLimitQuota[]> => {
      const s = this.raw.sys;
      return (await this.call("SysService/ListRateLimitQuotas", s.listRateLimitQuotas, s, {})).quotas;
    },
    deleteQuota: async (name: string): Promise<void> => {
      const s = this.raw.sys;
      await this.call("SysService/DeleteRateLimitQuota", s.deleteRateLimitQuota, s, { name });
    },
    /** Adds a new encryption key for new writes; older values are re-encrypted in the background. */
    rotateKey: async (): Promise<number> => {
      const s = this.raw.sys;
      return (await this.call("SysService/RotateEncryptionKey", s.rotateEncryptionKey, s, {})).activeKeyId;
    },
    keyStatus: async (): Promise<GetEncryptionKeyStatusResponse> => {
      const s = this.raw.sys;
      return this.call("SysService/GetEncryptionKeyStatus", s.getEncryptionKeyStatus, s, {});
    },
    pruneKeys: async (): Promise<number[]> => {
      const s = this.raw.sys;
      return (await this.call("SysService/PruneEncryptionKeys", s.pruneEncryptionKeys, s, {})).droppedKeyIds;
    },
  };

  close(): void {
    this.session?.close();
    for (const stub of Object.values(this.raw)) stub.close();
  }
}

function bearer(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

function infoOf(res: { info?: TokenInfo | undefined }, method: string): TokenInfo {
  if (!res.info) throw new LessorClientError(Code.UNKNOWN, "the server answered without the token's details", method);
  return res.info;
}
