// The mount table: which engine answers which path prefix. Loaded from the
// store at start-up and kept in memory (it changes rarely); resolving a path
// picks the longest mount prefix.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { LessorError } from "../errors.js";
import { compilePaths, type CompiledPath } from "../engines/framework/paths.js";
import type { Engine, EngineFactory, EngineStorage, EngineTelemetry, JsonValue } from "../engines/framework/types.js";
import type { MountRecord, Store } from "../store/types.js";
import { leaseView } from "../leases/view.js";

export interface MountedEngine {
  mount: MountRecord;
  factory: EngineFactory;
  engine: Engine;
  paths: CompiledPath[];
}

/** Prefixes no engine may take: they name Lessor's own APIs. */
const RESERVED = ["sys/", "auth/", "token/", "leases/"];
const MOUNT_PATH = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*\/$/;

export interface EnableOptions {
  description?: string;
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
}

export class MountTable {
  private byPath = new Map<string, MountedEngine>();
  private byAccessor = new Map<string, MountedEngine>();
  private readonly factories: Map<string, EngineFactory>;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    factories: readonly EngineFactory[],
    private readonly logger: Logger,
    private readonly telemetry: EngineTelemetry = { externalError() {} },
  ) {
    this.factories = new Map(factories.map((f) => [f.type, f]));
  }

  /**
   * Makes the table match the store: at start-up, and when another replica
   * enabled or disabled a mount. Mounts still present keep their engine
   * instance: a mount's record never changes after it is made, only whether
   * it exists.
   */
  async load(): Promise<void> {
    const stored = await this.store.mounts.list();
    const present = new Set(stored.map((m) => m.accessor));
    for (const mounted of [...this.byAccessor.values()]) {
      if (present.has(mounted.mount.accessor)) continue;
      this.byPath.delete(mounted.mount.path);
      this.byAccessor.delete(mounted.mount.accessor);
    }
    for (const mount of stored) {
      if (this.byAccessor.has(mount.accessor)) continue;
      const factory = this.factories.get(mount.type);
      if (factory) this.add(mount, factory);
      else this.logger.error({ mount: mount.path, type: mount.type }, "mount uses an engine type this build does not have; skipped");
    }
  }

  engineTypes(): string[] {
    return [...this.factories.keys()].sort();
  }

  list(): MountRecord[] {
    return [...this.byPath.values()].map((m) => m.mount).sort((a, b) => a.path.localeCompare(b.path));
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
    if (found !== undefined || !this.store.cluster) return found;
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

  async enable(type: string, path: string, options: EnableOptions, now: number): Promise<MountRecord> {
    const factory = this.factories.get(type);
    if (!factory) {
      throw LessorError.invalidField("type", `unknown secrets engine type "${type.slice(0, 64)}"; available: ${this.engineTypes().join(", ")}`);
    }
    const mountPath = normalizeMountPath(path === "" ? type : path);
    if (!MOUNT_PATH.test(mountPath) || mountPath.length > 128) {
      throw LessorError.invalidField(
        "path",
        "must be segments of letters, digits, '_', '.' or '-' separated by '/', at most 128 characters",
      );
    }
    if (RESERVED.some((r) => mountPath.startsWith(r))) {
      throw LessorError.invalidField("path", `"${mountPath}" is reserved; choose another path`);
    }
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
      accessor: `${type}_${randomBytes(4).toString("hex")}`,
      type,
      description: options.description ?? "",
      defaultTtlSeconds: ttl,
      maxTtlSeconds: maxTtl,
      createdAt: now,
    };
    await this.store.mounts.insert(mount);
    this.add(mount, factory);
    return mount;
  }

  /** Forgets a mount and its engine's data. Its leases must be revoked first. */
  async remove(path: string): Promise<void> {
    const mounted = this.get(path);
    if (!mounted) return;
    await this.store.mounts.delete(mounted.mount.path);
    this.byPath.delete(mounted.mount.path);
    this.byAccessor.delete(mounted.mount.accessor);
  }

  private add(mount: MountRecord, factory: EngineFactory): void {
    const engine = factory.create({
      mount,
      storage: this.storageFor(mount.accessor),
      logger: this.logger.child({ mount: mount.path, engine: mount.type }),
      leases: leaseView(this.store),
      telemetry: this.telemetry,
    });
    const mounted: MountedEngine = { mount, factory, engine, paths: compilePaths(engine.paths) };
    this.byPath.set(mount.path, mounted);
    this.byAccessor.set(mount.accessor, mounted);
  }

  private storageFor(accessor: string): EngineStorage {
    const entries = this.store.entries;
    return {
      get: async <T extends JsonValue>(key: string) => (await entries.get(accessor, key)) as T | undefined,
      put: (key, value) => entries.put(accessor, key, value),
      delete: (key) => entries.delete(accessor, key),
      list: (prefix) => entries.list(accessor, prefix),
    };
  }
}

export function normalizeMountPath(path: string): string {
  const trimmed = path.replace(/^\/+/, "");
  return trimmed.endsWith("/") ? trimmed : `${trimmed}/`;
}
