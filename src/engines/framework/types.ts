// The backend contract, shared by secrets engines (aws, kv), auth methods and
// the built-in backends (sys/, auth/token/). A backend declares the paths it
// answers (pattern, typed fields with help, operations) and the kinds of
// secret it issues, each with a revoke and an optional renew. The router,
// input validation, help, ACL capabilities and error messages all come from
// these declarations: a handler gets validated, typed fields and never parses
// a request, touches SQL, tokens or the wire.
import type { Logger } from "pino";
import type { JsonObject, JsonValue } from "../../util/json.js";

export type { JsonObject, JsonValue };

/** What a request does to a path. Writes are "create" or "update" for ACLs. */
export type Operation = "read" | "write" | "delete" | "list";
export const OPERATIONS: readonly Operation[] = ["read", "write", "delete", "list"];

export type FieldType = "string" | "int" | "bool" | "duration" | "list" | "map" | "json";

export interface FieldSpec {
  type: FieldType;
  description: string;
  required?: boolean;
  /** Used when the field is not given. Durations in seconds. */
  default?: FieldValue;
  /** Accepted on write, never returned, logged or audited in clear (a secret). */
  writeOnly?: boolean;
  /** Set for a field kept for compatibility: the warning to give when it is used. */
  deprecated?: string;
  /** For strings: the longest accepted, when not the usual 65536 characters (a document with its own limit). */
  maxLength?: number;
  /** For strings and lists: the only values allowed. */
  allowed?: readonly string[];
  /** Further check on the typed value; returns what is wrong, or undefined. */
  check?: (value: FieldValue) => string | undefined;
}

export type FieldSpecs = Record<string, FieldSpec>;

export type FieldValue = string | number | boolean | string[] | Record<string, string> | JsonValue;

type TypeOf<T extends FieldType> = T extends "string"
  ? string
  : T extends "int" | "duration"
    ? number
    : T extends "bool"
      ? boolean
      : T extends "list"
        ? string[]
        : T extends "map"
          ? Record<string, string>
          : JsonValue;

/** Typed field values: required or defaulted fields are always present. */
export type FieldValues<F extends FieldSpecs> = {
  [K in keyof F]: F[K] extends { required: true } | { default: FieldValue }
    ? TypeOf<F[K]["type"]>
    : TypeOf<F[K]["type"]> | undefined;
};

/** The parameter a pattern segment names: ":name" → "name", "*path" and "*path?" → "path". */
type SegmentParam<S extends string> = S extends `:${infer N}` ? N : S extends `*${infer N}?` ? N : S extends `*${infer N}` ? N : never;
type ParamNames<P extends string> = P extends `${infer Head}/${infer Rest}` ? SegmentParam<Head> | ParamNames<Rest> : SegmentParam<P>;

/** The named parts of a pattern, typed: `PathParams<"roles/:name">` is `{ name: string }`. */
export type PathParams<P extends string> = string extends P ? Record<string, string> : { [K in ParamNames<P>]: string };

/** Per-mount storage for a backend's own configuration and data (sealed at rest). */
export interface EngineStorage {
  get(key: string): Promise<JsonValue | undefined>;
  put(key: string, value: JsonValue): Promise<void>;
  delete(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
  /**
   * Replaces the value at `key` only if it still equals `expected` (undefined:
   * absent), atomically across replicas; `next` undefined deletes it. False
   * when someone changed it first: read again and retry (a bounded loop).
   */
  compareAndSwap(key: string, expected: JsonValue | undefined, next: JsonValue | undefined): Promise<boolean>;
}

/** Who is asking, as much as a backend may know. */
export interface Caller {
  /** Accessor of the caller's token; "" on an unauthenticated path (a login). */
  tokenAccessor: string;
  displayName: string;
  policies: readonly string[];
  /** The token's metadata (what a login recorded about the identity). */
  metadata: Readonly<Record<string, string>>;
}

/** How the request arrived. */
export interface Connection {
  /** "grpc" or "http". */
  transport: string;
  remoteAddress: string;
  remotePort: number | undefined;
  /** The client certificate of an mTLS connection (DER), when the caller presented one. */
  peerCertificate: Buffer | undefined;
}

/** What a backend may know of the mount it serves. */
export interface MountInfo {
  /** With trailing slash: "aws/", "auth/jwt/". */
  path: string;
  accessor: string;
  type: string;
  description: string;
}

export interface Request<F extends FieldSpecs = FieldSpecs, P extends string = string> {
  operation: Operation;
  /** Path inside the mount: "creds/deploy". */
  path: string;
  /** Named parts of the pattern: { name: "deploy" } for "creds/:name". */
  params: PathParams<P>;
  fields: FieldValues<F>;
  /** Names of the fields the caller actually sent (for partial updates). */
  provided: ReadonlySet<string>;
  /** Every field as sent, for free-form paths (kv); declared paths use `fields`. */
  raw: JsonObject;
  mount: MountInfo;
  caller: Caller;
  connection: Connection;
  /** Aborted when the caller has gone (cancelled, disconnected, past its deadline). */
  signal: AbortSignal;
  /** Streaming transports only: sends one message to the caller, resolving when it may take more. */
  stream: ((message: JsonObject) => Promise<void>) | undefined;
  /** The id the lease will have if this request issues a secret. */
  leaseId: string;
  /**
   * Records, durably, that external work for a secret is about to start.
   * Call it before the first external side effect: if the process dies before
   * the lease is recorded, the backend's rollback gets this data.
   */
  recordIntent(secretType: string, data: JsonObject): Promise<void>;
}

/** A dynamic secret a handler issued; the router records its lease. */
export interface IssuedSecret {
  /** Key of the backend's `secrets` entry that can revoke it. */
  type: string;
  /** What revoke needs (IAM user name, key id). Never the secret itself. */
  internal: JsonObject;
  /** Lease duration; defaults to the mount's default TTL. */
  ttlSeconds?: number;
  /** Hard limit on renewals; defaults to the mount's max TTL. */
  maxTtlSeconds?: number;
  renewable: boolean;
}

/** Who a login proved the caller to be; the token authority mints a token from it. */
export interface LoginIdentity {
  /** Shown as the token's display name (prefixed with the mount's name). */
  displayName: string;
  /** Goes on the token: claim mappings, role name, certificate SANs, ARNs. */
  metadata: Record<string, string>;
  /** The role's token settings (Vault's common token fields). */
  policies: string[];
  noDefaultPolicy: boolean;
  ttlSeconds: number;
  maxTtlSeconds: number;
  numUses: number;
  /** CIDR blocks the token may be used from; empty for anywhere. */
  boundCidrs: string[];
}

/** What auth/token/create asks of the token store (the token backend parses it from the request). */
export interface TokenCreateRequest {
  policies: string[];
  ttlSeconds: number;
  explicitMaxTtlSeconds: number;
  renewable: boolean;
  numUses: number;
  displayName: string;
  orphan: boolean;
  meta: Record<string, string>;
}

/** A token a request made (auth/token/create, or a login): returned once, never stored in clear. */
export interface IssuedToken {
  token: string;
  accessor: string;
  policies: string[];
  metadata: Record<string, string>;
  displayName: string;
  ttlSeconds: number;
  renewable: boolean;
  /** Zero for unlimited. */
  numUses: number;
  creationTime: number;
  expireTime: number | null;
  maxExpireTime: number | null;
  parentAccessor: string | null;
}

export interface Response {
  data?: JsonObject;
  warnings?: string[];
  secret?: IssuedSecret;
  /** For data without a lease: how long callers may keep it before reading again. */
  refreshSeconds?: number;
  /** A login: the identity a token is to be minted for. */
  login?: LoginIdentity;
  /** A token the handler made itself (the token store's own paths). */
  token?: IssuedToken;
}

/**
 * Operation handlers are declared with method syntax on purpose: it lets a
 * PathSpec with specific fields stand where PathSpec<FieldSpecs> is expected.
 */
export interface PathOperations<F extends FieldSpecs, P extends string> {
  read?(req: Request<F, P>): Promise<Response>;
  write?(req: Request<F, P>): Promise<Response>;
  delete?(req: Request<F, P>): Promise<Response>;
  list?(req: Request<F, P>): Promise<Response>;
}

export interface PathSpec<F extends FieldSpecs = FieldSpecs, P extends string = string> {
  /** "config/root", "roles/:name", "roles/" (a list), "*path" (the rest), "*path?" (possibly empty). */
  pattern: P;
  fields: F;
  operations: PathOperations<F, P>;
  synopsis: string;
  description?: string;
  /** Accepts any fields, as given (kv stores whatever it is handed). */
  freeForm?: boolean;
  /** For ACLs: does the entry named by these params exist (a write is then "update", else "create")? */
  exists?(params: PathParams<P>): Promise<boolean>;
}

export interface RenewResult {
  /** Lease duration from now; defaults to the requested increment. */
  ttlSeconds?: number;
}

/** What revoking or renewing a secret gets to know of its lease: no more. */
export interface SecretLease {
  id: string;
  /** What the handler recorded when it issued the secret. Parse it (zod) before use. */
  internal: JsonObject;
  issueTime: number;
  expireTime: number;
  maxExpireTime: number;
}

export interface SecretType {
  /** Destroys the secret. Idempotent: "already gone" is success. `signal` ends the attempt when its time is up. */
  revoke(lease: SecretLease, signal: AbortSignal): Promise<void>;
  /** Extends the secret where the owning system needs telling; absent = not renewable beyond the lease. */
  renew?(lease: SecretLease, incrementSeconds: number): Promise<RenewResult>;
}

export interface IntentInfo {
  leaseId: string;
  secretType: string;
  data: JsonObject;
  createdAt: number;
}

export interface Engine {
  readonly paths: readonly PathSpec[];
  readonly secrets: Readonly<Record<string, SecretType>>;
  /** Undoes half-done external work recorded by recordIntent. Idempotent. */
  rollback?(intent: IntentInfo): Promise<void>;
}

/** What an engine may learn about leases: whether one still owns what it issued. */
export interface LeaseView {
  /**
   * True while the lease is not revoked (active, being revoked, or
   * irrevocable), or while the issuance that will record it is still under way.
   */
  isLive(leaseId: string): Promise<boolean>;
}

/** What an engine reports about the outside system it talks to (for metrics). */
export interface EngineTelemetry {
  /** A call failed after its own retries, e.g. ("iam", "CreateUser", "Throttling"). */
  externalError(service: string, operation: string, code: string): void;
}

/** The limits and clock a backend works within (Vault's SystemView). */
export interface SystemView {
  /** The mount's default lease TTL in seconds (its own setting, else the system's). */
  defaultLeaseTtlSeconds(): number;
  /** The longest any lease of this mount may live, in seconds (its own setting, else the system's). */
  maxLeaseTtlSeconds(): number;
  now(): number;
}

export interface EngineContext {
  mount: MountInfo;
  storage: EngineStorage;
  logger: Logger;
  leases: LeaseView;
  telemetry: EngineTelemetry;
  system: SystemView;
}

/**
 * Paths of a backend that the pipeline treats specially (Vault's
 * PathsSpecial), relative to the mount: exact, or a prefix ending in "*".
 */
export interface PathsSpecial {
  /**
   * Root-protected: a caller needs sudo as well as the operation's capability.
   * A path alone covers every operation; with `operations`, only those.
   */
  root?: readonly (string | { path: string; operations: readonly Operation[] })[];
  /** Answered without a token (a login). */
  unauthenticated?: readonly string[];
}

/** A kind of backend that can be mounted: `lessor secrets enable TYPE`, or `lessor auth enable TYPE`. */
export interface EngineFactory {
  type: string;
  /** "secret" mounts anywhere outside sys/ and auth/; "auth" mounts under auth/. Default "secret". */
  kind?: "secret" | "auth";
  synopsis: string;
  create(ctx: EngineContext): Engine;
  special?: PathsSpecial;
}

/** Declares a path, keeping its field and parameter types for the handlers. */
export function definePath<F extends FieldSpecs, P extends string>(spec: PathSpec<F, P>): PathSpec<NoInfer<F>, NoInfer<P>> {
  return spec;
}
