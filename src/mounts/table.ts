// The mount table: which backend answers which path prefix. Secrets engines
// mount anywhere outside sys/ and auth/; auth methods under auth/; the
// built-in backends (sys/, auth/token/) are installed at start and never
// stored. Loaded from the store at start-up and kept in memory (it changes
// rarely); resolving a path picks the longest mount prefix. It sits below
// the router and the lease manager, which both look mounts up here.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { LessorError } from "../errors.js";
import { compilePaths, type CompiledPath } from "../engines/framework/paths.js";
import type { Engine, EngineFactory, EngineStorage, EngineTelemetry, LeaseView, PathsSpecial } from "../engines/framework/types.js";
import type { EngineEntryStore, MountRecord, MountStore } from "../store/types.js";
import { systemView } from "./system-view.js";

export interface MountedEngine {
  mount: MountRecord;
  engine: Engine;
  paths: CompiledPath[];
  special: PathsSpecial;
  /** sys/ and auth/token/: part of the server, not in the store, never listed or disabled. */
  builtin: boolean;
}

export type MountKind = "secret" | "auth";

/** Where auth methods mount. */
export const AUTH_PREFIX = "auth/";
/** Prefixes no secrets engine may take: they name Lessor's own APIs. */
const RESERVED = ["sys/", AUTH_PREFIX, "token/", "leases/"];
const MOUNT_PATH = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*\/$/;

export interface EnableOptions {
  description?: string;
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
}

/** What every mounted backend is handed besides its own mount. */
export interface BackendServices {
  entries: EngineEntryStore;
  leases: LeaseView;
  logger: Logger;
  telemetry: EngineTelemetry;
  now?: () => number;
}

export class MountTable {
  private byPath = new Map<string, MountedEngine>();
  private byAccessor = new Map<string, MountedEngine>();
  private readonly factories: Map<string, EngineFactory>;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly store: MountStore,
    factories: readonly EngineFactory[],
    private readonly services: BackendServices,
    /** Replicas share the store: a miss may be a mount another replica just made (see `fresh`). */
    private readonly shared = false,
  ) {
    // By kind and type: "aws" is both a secrets engine and an auth method, as in Vault.
    this.factories = new Map(factories.map((f) => [factoryKey(f.kind ?? "secret", f.type), f]));
  }

  /**
   * Installs a built-in backend (sys/, auth/token/) at a fixed path. It is
   * routed like any mount but not stored, listed or disabled.
   */
  installBuiltin(path: string, type: string, create: (ctx: { mount: MountRecord }) => Engine, special: PathsSpecial = {}): void {
    const mount: MountRecord = { path, accessor: `${type}_builtin`, type, description: `built-in ${type} backend`, defaultTtlSeconds: 0, maxTtlSeconds: 0, createdAt: 0 };
    const engine = create({ mount });
    this.register({ mount, engine, paths: compilePaths(engine.paths), special, builtin: true });
  }

  /**
   * Makes the table match the store: at start-up, and when another replica
   * enabled or disabled a mount. Mounts still present keep their engine
   * instance: a mount's record never changes after it is made, only whether
   * it exists.
   */
  async load(): Promise<void> {
    const stored = await this.store.list();
    const present = new Set(stored.map((m) => m.accessor));
    for (const mounted of [...this.byAccessor.values()]) {
      if (mounted.builtin || present.has(mounted.mount.accessor)) continue;
      this.forget(mounted);
    }
    for (const mount of stored) {
      if (this.byAccessor.has(mount.accessor)) continue;
      const factory = this.factories.get(factoryKey(kindOf(mount.path), mount.type));
      if (factory) this.add(mount, factory);
      else this.services.logger.error({ mount: mount.path, type: mount.type }, "mount uses a backend type this build does not have; skipped");
    }
  }

  /** The types that can be mounted as `kind`. */
  engineTypes(kind: MountKind = "secret"): string[] {
    return [...this.factories.values()].filter((f) => (f.kind ?? "secret") === kind).map((f) => f.type).sort();
  }

  /** Mounts of one kind, by path (built-ins left out). */
  list(kind: MountKind = "secret"): MountRecord[] {
    return [...this.byPath.values()]
      .filter((m) => !m.builtin && kindOf(m.mount.path) === kind)
      .map((m) => m.mount)
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  /** The mount a full path belongs to, and the rest of the path inside it. */
  resolve(fullPath: string): { mounted: MountedEngine; rest: string } | undefined {
    // Longest prefix wins; "aws" and "aws/..." both belong to the mount "aws/".
    const asFolder = fullPath.endsWith("/") ? fullPath : `${fullPath}/`;
    let best: MountedEngine | undefined;
    for (const [prefix, mounted] of this.byPath) {
      if (asFolder.startsWith(prefix) && (!best || prefix.length > best.mount.path.length)) best = mounted;
    }
    return best ? { mounted: best, rest: fullPath.slice(best.mount.path.length) } : undefined;
  }

  /**
   * As `lookup`, but when it finds nothing on a store replicas share, reloads
   * the table once and looks again: a mount another replica enabled a moment
   * ago is then served here at once, not after the next configuration poll.
   * Concurrent misses share one reload.
   */
  async fresh<T>(lookup: () => T | undefined): Promise<T | undefined> {
    const found = lookup();
    if (found !== undefined || !this.shared) return found;
    this.refreshing ??= this.load().finally(() => (this.refreshing = undefined));
    await this.refreshing;
    return lookup();
  }

  byMountAccessor(accessor: string): MountedEngine | undefined {
    return this.byAccessor.get(accessor);
  }

  get(path: string): MountedEngine | undefined {
    return this.byPath.get(normalizeMountPath(path));
  }

  async enable(kind: MountKind, type: string, path: string, options: EnableOptions, now: number): Promise<MountRecord> {
    const factory = this.factories.get(factoryKey(kind, type));
    if (!factory) {
      const what = kind === "auth" ? "auth method" : "secrets engine";
      throw LessorError.invalidField("type", `unknown ${what} type "${type.slice(0, 64)}"; available: ${this.engineTypes(kind).join(", ")}`);
    }
    const mountPath = checkMountPath(kind, normalizeMountPath(path === "" ? (kind === "auth" ? `${AUTH_PREFIX}${type}` : type) : path));
    for (const existing of this.byPath.keys()) {
      if (existing === mountPath) {
        throw LessorError.alreadyExists(`path is already in use at ${existing}`, "MOUNT_EXISTS", { path: existing });
      }
      if (existing.startsWith(mountPath) || mountPath.startsWith(existing)) {
        throw LessorError.alreadyExists(`path ${mountPath} overlaps the existing mount at ${existing}`, "MOUNT_OVERLAPS", {
          path: existing,
        });
      }
    }
    const ttl = options.defaultTtlSeconds ?? 0;
    const maxTtl = options.maxTtlSeconds ?? 0;
    if (maxTtl > 0 && ttl > maxTtl) {
      throw LessorError.invalidField("default_lease_ttl", "must not be longer than max_lease_ttl");
    }
    const mount: MountRecord = {
      path: mountPath,
      accessor: `${kind === "auth" ? "auth_" : ""}${type}_${randomBytes(4).toString("hex")}`,
      type,
      description: options.description ?? "",
      defaultTtlSeconds: ttl,
      maxTtlSeconds: maxTtl,
      createdAt: now,
    };
    await this.store.insert(mount);
    this.add(mount, factory);
    return mount;
  }

  /** Forgets a mount and its engine's data. Its leases must be revoked first. */
  async remove(path: string): Promise<void> {
    const mounted = this.get(path);
    if (!mounted || mounted.builtin) return;
    await this.store.delete(mounted.mount.path);
    this.forget(mounted);
  }

  private add(mount: MountRecord, factory: EngineFactory): void {
    const { entries, leases, logger, telemetry, now } = this.services;
    const engine = factory.create({
      mount,
      storage: storageFor(entries, mount.accessor),
      logger: logger.child({ mount: mount.path, engine: mount.type }),
      leases,
      telemetry,
      system: systemView(mount, now),
    });
    this.register({ mount, engine, paths: compilePaths(engine.paths), special: factory.special ?? {}, builtin: false });
  }

  private register(mounted: MountedEngine): void {
    this.byPath.set(mounted.mount.path, mounted);
    this.byAccessor.set(mounted.mount.accessor, mounted);
  }

  private forget(mounted: MountedEngine): void {
    this.byPath.delete(mounted.mount.path);
    this.byAccessor.delete(mounted.mount.accessor);
  }
}

function storageFor(entries: EngineEntryStore, accessor: string): EngineStorage {
  return {
    get: (key) => entries.get(accessor, key),
    put: (key, value) => entries.put(accessor, key, value),
    delete: (key) => entries.delete(accessor, key),
    list: (prefix) => entries.list(accessor, prefix),
  };
}

function factoryKey(kind: MountKind, type: string): string {
  return `${kind}:${type}`;
}

function kindOf(path: string): MountKind {
  return path.startsWith(AUTH_PREFIX) ? "auth" : "secret";
}

function checkMountPath(kind: MountKind, mountPath: string): string {
  if (!MOUNT_PATH.test(mountPath) || mountPath.length > 128) {
    throw LessorError.invalidField("path", "must be segments of letters, digits, '_', '.' or '-' separated by '/', at most 128 characters");
  }
  if (kind === "auth") {
    if (!mountPath.startsWith(AUTH_PREFIX) || mountPath === AUTH_PREFIX || mountPath === `${AUTH_PREFIX}token/`) {
      throw LessorError.invalidField("path", `an auth method mounts under ${AUTH_PREFIX} (and auth/token/ is the token store's)`);
    }
    return mountPath;
  }
  if (RESERVED.some((r) => mountPath.startsWith(r))) {
    throw LessorError.invalidField("path", `"${mountPath}" is reserved; choose another path`);
  }
  return mountPath;
}

export function normalizeMountPath(path: string): string {
  const trimmed = path.replace(/^\/+/, "");
  return trimmed.endsWith("/") ? trimmed : `${trimmed}/`;
}
