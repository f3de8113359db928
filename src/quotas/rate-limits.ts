// Rate limit quotas: `rate` requests per `interval`, on every path under a
// prefix, for all callers together or for each token. The most specific
// (longest) matching prefix applies, as in Vault. Token buckets in memory:
// a bucket holds `rate` and refills continuously. The quota paths themselves
// are exempt, so a quota can never lock an operator out of removing it.
import { LessorError, Code } from "../errors.js";
import { normalizeRequestPath } from "../router/paths.js";
import type { QuotaRecord, QuotaStore } from "../store/types.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const EXEMPT = "sys/quotas/";
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  private quotas: QuotaRecord[] = [];
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly store: QuotaStore) {}

  async load(): Promise<void> {
    this.install(await this.store.list());
  }

  get active(): boolean {
    return this.quotas.length > 0;
  }

  list(): QuotaRecord[] {
    return [...this.quotas].sort((a, b) => a.name.localeCompare(b.name));
  }

  read(name: string): QuotaRecord {
    const quota = this.quotas.find((q) => q.name === name);
    if (!quota) throw LessorError.notFound(`no rate limit quota named "${name.slice(0, 128)}"`, "QUOTA_NOT_FOUND", { name: name.slice(0, 128) });
    return quota;
  }

  async write(input: QuotaRecord): Promise<QuotaRecord> {
    const quota = validateQuota(input);
    await this.store.put(quota);
    this.install([...this.quotas.filter((q) => q.name !== quota.name), quota]);
    return quota;
  }

  async delete(name: string): Promise<void> {
    if (!NAME.test(name)) throw LessorError.invalidField("name", "must be 1-128 letters, digits, '_', '.' or '-'");
    await this.store.delete(name);
    this.install(this.quotas.filter((q) => q.name !== name));
  }

  /** Counts one request; RESOURCE_EXHAUSTED with a retry delay when the quota is spent. */
  take(path: string, accessor: string | undefined, now: number): void {
    if (path.startsWith(EXEMPT)) return;
    const quota = this.quotas.find((q) => path.startsWith(q.path));
    if (!quota) return;
    const key = quota.perToken ? `${quota.name}\u0000${accessor ?? ""}` : quota.name;
    const perMs = quota.rate / (quota.intervalSeconds * 1000);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.prune(now);
      bucket = { tokens: quota.rate, updated: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(quota.rate, bucket.tokens + (now - bucket.updated) * perMs);
    bucket.updated = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const retryDelayMs = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs));
    throw new LessorError(
      Code.RESOURCE_EXHAUSTED,
      `rate limit quota "${quota.name}" exceeded (${quota.rate} requests per ${quota.intervalSeconds}s${quota.perToken ? " per token" : ""} on "${quota.path || "every path"}"); retry in ${retryDelayMs} ms`,
      { reason: "RATE_LIMITED", retryDelayMs, metadata: { quota: quota.name, path: quota.path } },
    );
  }

  private install(quotas: QuotaRecord[]): void {
    // Longest prefix first: the first match is the most specific.
    const before = new Map(this.quotas.map((q) => [q.name, q]));
    this.quotas = quotas.sort((a, b) => b.path.length - a.path.length || a.name.localeCompare(b.name));
    // A reload (a change on another replica) keeps the counts of quotas it did not change.
    const unchanged = new Set(this.quotas.filter((q) => sameQuota(q, before.get(q.name))).map((q) => q.name));
    for (const key of this.buckets.keys()) {
      if (!unchanged.has(key.split("\u0000")[0] as string)) this.buckets.delete(key);
    }
  }

  /** Drops full buckets (they hold no state a fresh one would not). */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const quota = this.quotas.find((q) => key === q.name || key.startsWith(`${q.name}\u0000`));
      if (!quota || bucket.tokens + (now - bucket.updated) * (quota.rate / (quota.intervalSeconds * 1000)) >= quota.rate) {
        this.buckets.delete(key);
      }
    }
    if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
  }
}

function validateQuota(q: QuotaRecord): QuotaRecord {
  if (!NAME.test(q.name)) throw LessorError.invalidField("name", "must be 1-128 letters, digits, '_', '.' or '-'");
  if (!Number.isFinite(q.rate) || q.rate <= 0 || q.rate > 1_000_000) {
    throw LessorError.invalidField("rate", "must be a number of requests greater than 0 and at most 1000000");
  }
  if (!Number.isSafeInteger(q.intervalSeconds) || q.intervalSeconds < 0 || q.intervalSeconds > 86_400) {
    throw LessorError.invalidField("interval", "must be a whole number of seconds from 1 to 86400 (0: 1 second)");
  }
  const path = q.path === "" ? "" : normalizeRequestPath(q.path);
  if (path.startsWith(EXEMPT)) throw LessorError.invalidField("path", `${EXEMPT} is exempt from quotas`);
  return { name: q.name, path, rate: q.rate, intervalSeconds: q.intervalSeconds === 0 ? 1 : q.intervalSeconds, perToken: q.perToken };
}

function sameQuota(a: QuotaRecord, b: QuotaRecord | undefined): boolean {
  return b !== undefined && a.path === b.path && a.rate === b.rate && a.intervalSeconds === b.intervalSeconds && a.perToken === b.perToken;
}
