// What the built-in sys/ backend administers, as the narrow interfaces it
// needs (the server hands it the real components). Declared here, not
// imported, so this backend depends on nothing above the router.
import type { AuditDeviceRecord, LeaseEventRecord, LeaseRecord, LeaseState, MountRecord, QuotaRecord } from "../../store/types.js";
import type { PrefixProgress } from "../../leases/prefix-jobs.js";
import type { RenewOutcome, RevokeOutcome } from "../../leases/manager.js";
import type { TidyReport } from "../../leases/tidy.js";
import type { LeaseListPage } from "../../leases/listing.js";
import type { EnableOptions, MountKind } from "../../mounts/table.js";

export interface MountAdmin {
  engineTypes(kind: MountKind): string[];
  list(kind: MountKind): MountRecord[];
  get(path: string): { mount: MountRecord; builtin: boolean } | undefined;
  enable(kind: MountKind, type: string, path: string, options: EnableOptions, now: number): Promise<MountRecord>;
  remove(path: string): Promise<void>;
}

export interface LeaseAdmin {
  lookup(id: string): Promise<LeaseRecord>;
  renew(id: string, incrementSeconds: number): Promise<RenewOutcome>;
  revoke(id: string): Promise<RevokeOutcome>;
  enqueueRevoke(id: string): Promise<RevokeOutcome>;
  forceRevoke(id: string): Promise<RevokeOutcome>;
  revokeMount(mountAccessor: string, mountPath: string): Promise<number>;
  /** A live lease id that `id` is the start of, when there is exactly one (a truncated paste). */
  completion(id: string): Promise<{ id: string; tokenAccessor: string | null } | undefined>;
}

export interface LeaseLifecycle {
  listing: { page(prefix: string, state: LeaseState | undefined, pageSize: number, pageToken: string): Promise<LeaseListPage> };
  jobs: { run(prefix: string, force: boolean, enqueue: boolean, report: (p: PrefixProgress) => Promise<void>): Promise<PrefixProgress> };
  tidy: { run(): Promise<TidyReport> };
  events: {
    watch(
      prefix: string,
      after: number | "oldest",
      signal: AbortSignal,
      deliver: (event: LeaseEventRecord) => Promise<void>,
      started?: (cursor: number) => void,
    ): Promise<void>;
  };
}

export interface PolicyAdmin {
  write(name: string, text: string, now: number): Promise<string>;
  read(name: string): Promise<{ name: string; text: string }>;
  list(): Promise<string[]>;
  delete(name: string): Promise<void>;
}

export interface AuditAdmin {
  list(): AuditDeviceRecord[];
  enable(input: { path: string; type: string; description: string; options: Record<string, string> }): Promise<AuditDeviceRecord>;
  disable(path: string): Promise<void>;
  hash(value: string): string;
}

export interface QuotaAdmin {
  list(): QuotaRecord[];
  read(name: string): QuotaRecord;
  write(quota: QuotaRecord): Promise<QuotaRecord>;
  delete(name: string): Promise<void>;
}

export interface KeyAdmin {
  rotate(): Promise<number>;
  prune(): Promise<number[]>;
  status(): Promise<{ keys: Array<{ id: number; active: boolean; sealedValues: number }>; reencrypting: boolean; keySource: string }>;
}

/** Who asks: the caller's policies, and the metadata templated rules are filled from. */
export interface Principal {
  policies: readonly string[];
  metadata?: Readonly<Record<string, string>>;
  displayName?: string;
}

/** What policies grant: may they list leases under a path (may a NOT_FOUND name a lease it found?), and everything they grant on a path (sys/capabilities-self). */
export interface Permissions {
  allows(who: Principal, path: string, capability: "list" | "sudo"): boolean;
  capabilities(who: Principal, path: string): string[];
}

/** What sys/health and sys/seal-status say of the server itself. */
export interface ServerInfo {
  version: string;
  /** "sqlite" or "postgresql". */
  storageType: string;
  /** What gRPC health says of the whole server: false while starting, shutting down, or when the store cannot be reached. */
  serving(): boolean;
}

export interface SystemParts {
  mounts: MountAdmin;
  leases: LeaseAdmin;
  lifecycle: LeaseLifecycle;
  policies: PolicyAdmin;
  audit: AuditAdmin;
  quotas: QuotaAdmin;
  keys: KeyAdmin;
  permissions: Permissions;
  server: ServerInfo;
}
