// The cache `lessor aws credential-process` keeps between runs, so an SDK
// refreshing its credentials gets the same lease again instead of a new IAM
// user: one file per (Lessor address, mount, role), sealed with AES-256-GCM
// under a key in an owner-only file beside it (the store's Keyring), in an
// owner-only directory. The entry's identity is the sealed value's associated
// data, so an entry copied over another's fails to open. Runs of the command
// take turns through a lock, so concurrent SDKs share one issuance.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { z } from "zod";
import { Keyring } from "../store/encryption.js";
import { writePrivateFile } from "./files.js";
import type { IssuedLease } from "./issue.js";

/** Largest cache entry read. */
const MAX_ENTRY_BYTES = 64 * 1024;
/** A lock not refreshed for this long belongs to a run that died. */
const LOCK_STALE_MS = 30_000;

/** The cache directory: $XDG_CACHE_HOME/lessor, else ~/.cache/lessor. */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME ?? homedir(), ".cache"), "lessor");
}

const entrySchema = z.object({
  lease_id: z.string(),
  access_key_id: z.string(),
  secret_access_key: z.string(),
  session_token: z.string().optional(),
  account_id: z.string().optional(),
  issued_at: z.number(),
  updated_at: z.number(),
  expire_at: z.number(),
  /** null: not known yet (renewable without a known max TTL). */
  max_expire_at: z.number().nullable(),
  renewable: z.boolean(),
});

export interface CacheKey {
  address: string;
  mount: string;
  role: string;
}

export class CredentialCache {
  private readonly keyring: Keyring;

  private constructor(private readonly dir: string) {
    this.keyring = Keyring.loadOrCreate(join(dir, "credentials.key"));
  }

  /**
   * Runs `work` holding the cache's lock (waiting for another run to finish
   * with it, for at most about 30 s), with the cache open.
   */
  static async withLock<T>(dir: string, work: (cache: CredentialCache) => Promise<T>): Promise<T> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const release = await lockfile.lock(join(dir, "cache"), {
      realpath: false,
      stale: LOCK_STALE_MS,
      retries: { retries: 60, minTimeout: 100, maxTimeout: 500 },
    });
    try {
      return await work(new CredentialCache(dir));
    } finally {
      await release();
    }
  }

  private where(key: CacheKey): { path: string; aad: string } {
    const identity = `${key.address}|${key.mount}|${key.role}`;
    const digest = createHash("sha256").update(identity).digest("hex").slice(0, 32);
    return { path: join(this.dir, `aws-${digest}.sealed`), aad: `lessor-credential-cache:v1:${identity}` };
  }

  /** The cached lease, or undefined when there is none or it cannot be opened (it is then replaced). */
  read(key: CacheKey): IssuedLease | undefined {
    const { path, aad } = this.where(key);
    let sealed: Buffer;
    try {
      if (statSync(path).size > MAX_ENTRY_BYTES) return undefined;
      sealed = readFileSync(path);
    } catch {
      return undefined;
    }
    let entry: z.infer<typeof entrySchema>;
    try {
      entry = entrySchema.parse(JSON.parse(this.keyring.open(sealed, aad).toString("utf8")));
    } catch {
      return undefined;
    }
    return {
      id: entry.lease_id,
      key: { accessKeyId: entry.access_key_id, secretAccessKey: entry.secret_access_key, ...(entry.session_token ? { sessionToken: entry.session_token } : {}) },
      accountId: entry.account_id,
      times: {
        issuedAt: entry.issued_at,
        updatedAt: entry.updated_at,
        expireAt: entry.expire_at,
        maxExpireAt: entry.max_expire_at ?? Number.POSITIVE_INFINITY,
        renewable: entry.renewable,
      },
      verification: undefined,
    };
  }

  write(key: CacheKey, lease: IssuedLease): void {
    const { path, aad } = this.where(key);
    const entry: z.infer<typeof entrySchema> = {
      lease_id: lease.id,
      access_key_id: lease.key.accessKeyId,
      secret_access_key: lease.key.secretAccessKey,
      ...(lease.key.sessionToken ? { session_token: lease.key.sessionToken } : {}),
      ...(lease.accountId ? { account_id: lease.accountId } : {}),
      issued_at: lease.times.issuedAt,
      updated_at: lease.times.updatedAt,
      expire_at: lease.times.expireAt,
      max_expire_at: Number.isFinite(lease.times.maxExpireAt) ? lease.times.maxExpireAt : null,
      renewable: lease.times.renewable,
    };
    writePrivateFile(path, this.keyring.sealJson(entry, aad));
  }
}
