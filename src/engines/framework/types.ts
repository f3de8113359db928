// The engine contract. An engine declares the paths it answers (pattern,
// typed fields with help, operations) and the kinds of secret it issues, each
// with a revoke and an optional renew. The router, input validation, help and
// error messages all come from these declarations: a handler gets validated,
// typed fields and never parses a request, touches SQL, tokens or the wire.
import type { Logger } from "pino";
import type { JsonObject, JsonValue, LeaseRecord, MountRecord } from "../../store/types.js";

export type { JsonObject, JsonValue, LeaseRecord, MountRecord };

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

/** Per-mount storage for an engine's own configuration and data (sealed at rest). */
export interface EngineStorage {
  get<T extends JsonValue = JsonValue>(key: string): Promise<T | undefined>;
  put(key: string, value: JsonValue): Promise<void>;
  delete(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
}

/** Who is asking, as much as an engine may know. */
export interface Caller {
  tokenAccessor: string;
  displayName: string;
}

export interface Request<F extends FieldSpecs = FieldSpecs> {
  operation: Operation;
  /** Path inside the mount: "creds/deploy". */
  path: string;
  /** Named parts of the pattern: { name: "deploy" } for "creds/:name". */
  params: Record<string, string>;
  fields: FieldValues<F>;
  /** Names of the fields the caller actually sent (for partial updates). */
  provided: ReadonlySet<string>;
  /** Every field as sent, for free-form paths (kv); declared paths use `fields`. */
  raw: JsonObject;
  mount: MountRecord;
  caller: Caller;
  /** The id the lease will have if this request issues a secret. */
  leaseId: string;
  /**
   * Records, durably, that external work for a secret is about to start.
   * Call it before the first external side effect: if the process dies before
   * the lease is recorded, the engine's rollback gets this data.
   */
  recordIntent(secretType: string, data: JsonObject): Promise<void>;
}

/** A dynamic secret a handler issued; the router records its lease. */
export interface IssuedSecret {
  /** Key of the engine's `secrets` entry that can revoke it. */
  type: string;
  /** What revoke needs (IAM user name, key id). Never the secret itself. */
  internal: JsonObject;
  /** Lease duration; defaults to the mount's default TTL, else 768h. */
  ttlSeconds?: number;
  /** Hard limit on renewals; defaults to the mount's max TTL, else 768h. */
  maxTtlSeconds?: number;
  renewable: boolean;
}

export interface Response {
  data?: JsonObject;
  warnings?: string[];
  secret?: IssuedSecret;
  /** For data without a lease: how long callers may keep it before reading again. */
  refreshSeconds?: number;
}

/**
 * Operation handlers are declared with method syntax on purpose: it lets a
 * PathSpec with specific fields stand where PathSpec<FieldSpecs> is expected.
 */
export interface PathOperations<F extends FieldSpecs> {
  read?(req: Request<F>): Promise<Response>;
  write?(req: Request<F>): Promise<Response>;
  delete?(req: Request<F>): Promise<Response>;
  list?(req: Request<F>): Promise<Response>;
}

export interface PathSpec<F extends FieldSpecs = FieldSpecs> {
  /** "config/root", "roles/:name", "roles/" (a list), "*path" (the rest). */
  pattern: string;
  fields: F;
  operations: PathOperations<F>;
  synopsis: string;
  description?: string;
  /** Accepts any fields, as given (kv stores whatever it is handed). */
  freeForm?: boolean;
  /** For ACLs: does the entry named by these params exist (a write is then "update", else "create")? */
  exists?(params: Record<string, string>): Promise<boolean>;
}

export interface RenewResult {
  /** Lease duration from now; defaults to the requested increment. */
  ttlSeconds?: number;
}

/** How one revocation attempt runs. */
export interface RevokeOptions {
  /** Aborted when the attempt's time is up: end external calls (the attempt has failed and will be retried). */
  signal?: AbortSignal;
}

export interface SecretType {
  /** Destroys the secret. Idempotent: "already gone" is success. */
  revoke(lease: LeaseRecord, options?: RevokeOptions): Promise<void>;
  /** Extends the secret where the owning system needs telling; absent = not renewable beyond the lease. */
  renew?(lease: LeaseRecord, incrementSeconds: number): Promise<RenewResult>;
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

export interface EngineContext {
  mount: MountRecord;
  storage: EngineStorage;
  logger: Logger;
  leases: LeaseView;
  telemetry: EngineTelemetry;
}

/** A kind of engine that can be mounted (`lessor secrets enable TYPE`). */
export interface EngineFactory {
  type: string;
  synopsis: string;
  create(ctx: EngineContext): Engine;
  /**
   * Root-protected paths inside the mount (Vault's PathsSpecial.Root): a
   * caller needs sudo as well as the operation's capability. Exact, or a
   * prefix ending in "*".
   */
  rootPaths?: readonly string[];
}

/** Declares a path, inferring its field types for the handlers. */
export function definePath<F extends FieldSpecs>(spec: PathSpec<F>): PathSpec {
  return spec as unknown as PathSpec;
}
