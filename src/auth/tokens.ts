// Tokens: random bearer secrets, stored only as SHA-256 hashes. The accessor
// is a second, non-secret id that names a token in logs, audit and leases.
import { hash as oneShotHash, randomBytes } from "node:crypto";
import { BlockList, isIPv6 } from "node:net";
import type { IssuedToken, LoginIdentity, TokenCreateRequest } from "../engines/framework/types.js";
import { LessorError } from "../errors.js";
import type { Store, TokenRecord } from "../store/types.js";
import { MAX_DURATION_SECONDS } from "../util/duration.js";
import { POLICY_NAME } from "./policy.js";

export const TOKEN_PREFIX = "lsr.";

export interface AuthenticatedToken {
  accessor: string;
  displayName: string;
  policies: string[];
  /** What the token was made with (a login's identity: role, claims, SANs). */
  metadata: Record<string, string>;
  /** When the token expires (ms), null for never: a stream it opened ends then. */
  expireTime: number | null;
}

export function hashToken(token: string): Buffer {
  return oneShotHash("sha256", token, "buffer");
}

/**
 * How long a successful authentication is remembered. Within this process the
 * memory is exact (every token write here clears it); the bound is for writes
 * made elsewhere on a shared store, which `forgetAuthentications()` also
 * serves when another replica says so.
 */
export const AUTH_MEMORY_MS = 1_000;
const AUTH_MEMORY_ENTRIES = 10_000;

interface RememberedAuth {
  token: AuthenticatedToken;
  expireTime: number | null;
  boundCidrs: readonly string[];
  at: number;
}

/**
 * A token accessor: never starting with "-", so that `lessor token lookup
 * -accessor <accessor>` (Vault's spelling, a separate argument) is not read
 * as another flag, which one accessor in 64 would otherwise be.
 */
function newAccessor(): string {
  for (;;) {
    const accessor = randomBytes(12).toString("base64url");
    if (!accessor.startsWith("-")) return accessor;
  }
}

function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

export class TokenAuthority {
  /**
   * Tokens authenticated in the last second, by the hash of the token: what
   * every request needs (accessor, policies, expiry) without a store lookup.
   * It holds no secret. Tokens with a use limit are never remembered: each
   * use must be counted in the store.
   */
  private readonly recent = new Map<string, RememberedAuth>();
  /** Bumped by every forget, so a lookup that raced a revocation is not remembered. */
  private generation = 0;

  /**
   * `remember`: keep the memory above. Off when replicas share the store:
   * a token revoked on another replica must stop working here at once, not
   * up to a second later, and one indexed lookup per call is cheap.
   */
  constructor(
    private readonly store: Store,
    private readonly remember = true,
  ) {}

  /** Told the accessor of every token revoked here (streams it opened end at once). */
  private readonly revocationListeners = new Set<(accessor: string) => void>();

  /** Calls `listener` with each token revoked in this process; returns the way to stop. */
  onRevoked(listener: (accessor: string) => void): () => void {
    this.revocationListeners.add(listener);
    return () => this.revocationListeners.delete(listener);
  }

  /** Whether the token still works (not revoked, expired or used up): for long-lived streams it opened. */
  async isLive(accessor: string, now: number): Promise<boolean> {
    const record = await this.store.tokens.getByAccessor(accessor);
    return record !== undefined && !isDead(record, now);
  }

  /** Forgets every remembered authentication (a token was revoked, renewed or changed). */
  forgetAuthentications(): void {
    this.generation++;
    this.recent.clear();
  }

  /**
   * Makes a root token and returns it; the only time it is ever seen in clear.
   * `chosen` (dev mode's -dev-root-token-id) is taken as the token instead of a random one.
   */
  async createRoot(now: number, chosen?: string): Promise<string> {
    const token = chosen ?? newToken();
    const record: TokenRecord = {
      accessor: newAccessor(),
      policies: ["root"],
      displayName: "root",
      parentAccessor: null,
      createdAt: now,
      expireTime: null,
      ttlSeconds: 0,
      maxExpireTime: null,
      renewable: false,
      numUses: 0,
      usesLeft: 0,
      meta: {},
      boundCidrs: [],
    };
    await this.store.tokens.insert(hashToken(token), record);
    return token;
  }

  async hasAnyToken(): Promise<boolean> {
    return this.store.tokens.any();
  }

  /** Resolves a bearer token, or throws UNAUTHENTICATED saying why. */
  /** `from`: where the call came from, read only for a token bound to CIDR blocks. */
  async authenticate(token: string | undefined, now: number, from?: { readonly remoteAddress: string }): Promise<AuthenticatedToken> {
    return this.authenticateSoon(token, now, from);
  }

  /**
   * As authenticate(), but a remembered authentication is answered at once,
   * without a promise (the request pipeline's hot path); errors may be thrown
   * synchronously as well as rejected.
   */
  authenticateSoon(token: string | undefined, now: number, from?: { readonly remoteAddress: string }): AuthenticatedToken | Promise<AuthenticatedToken> {
    if (token === undefined || token === "") {
      throw LessorError.unauthenticated(
        "missing token: send `authorization: Bearer <token>` metadata (the CLI reads LESSOR_TOKEN or ~/.lessor-token)",
      );
    }
    const hash = hashToken(token);
    const key = hash.toString("base64");
    const remembered = this.recent.get(key);
    if (remembered && now - remembered.at < AUTH_MEMORY_MS && now >= remembered.at) {
      if (remembered.expireTime !== null && remembered.expireTime <= now) {
        this.recent.delete(key);
        throw LessorError.unauthenticated("invalid token: the token has expired");
      }
      checkBoundCidrs(remembered.boundCidrs, from);
      return remembered.token;
    }
    return this.lookUp(hash, key, now, from);
  }

  /** Authenticates from the store, and remembers the authentication when it may. */
  private async lookUp(hash: Buffer, key: string, now: number, from: { readonly remoteAddress: string } | undefined): Promise<AuthenticatedToken> {
    const generation = this.generation;
    const record = await this.store.tokens.getByHash(hash);
    if (!record) throw LessorError.unauthenticated("invalid token: no such token (it may have been revoked)");
    if (record.expireTime !== null && record.expireTime <= now) {
      throw LessorError.unauthenticated("invalid token: the token has expired");
    }
    checkBoundCidrs(record.boundCidrs, from);
    if (record.numUses > 0) {
      const left = await this.store.tokens.consumeUse(record.accessor);
      if (left < 0) throw LessorError.unauthenticated("invalid token: the token has no uses left");
      // Its last use: the token is done, and so is every token under it, from now (the sweep revokes them).
      if (left === 0) await this.expireDescendants(record.accessor, now);
    }
    const authenticated = { accessor: record.accessor, displayName: record.displayName, policies: record.policies, metadata: record.meta, expireTime: record.expireTime };
    if (this.remember && record.numUses === 0 && generation === this.generation) {
      if (this.recent.size >= AUTH_MEMORY_ENTRIES) this.recent.clear();
      this.recent.set(key, { token: authenticated, expireTime: record.expireTime, boundCidrs: record.boundCidrs, at: now });
    }
    return authenticated;
  }

  /** Makes a token for `caller`; the token is returned here and never again. */
  async create(caller: TokenParent, request: TokenCreateRequest, now: number): Promise<{ token: string; record: TokenRecord }> {
    const policies = childPolicies(caller, request.policies);
    const ttl = checkSeconds("ttl", request.ttlSeconds);
    const explicitMax = checkSeconds("explicit_max_ttl", request.explicitMaxTtlSeconds);
    if (!Number.isSafeInteger(request.numUses) || request.numUses < 0) {
      throw LessorError.invalidField("num_uses", "must be zero (unlimited) or a positive number of uses");
    }
    const displayName = checkText("display_name", request.displayName, 256);
    const meta = checkMeta(request.meta);
    // A child never outlives its parent: its expiry and max expiry are the parent's at the latest
    // (the parent's own already fold in its ancestors'), so checking a token's own expiry covers them all.
    const parent = request.orphan ? undefined : await this.store.tokens.getByAccessor(caller.accessor);
    if (!request.orphan && (!parent || (parent.expireTime !== null && parent.expireTime <= now))) {
      throw LessorError.unauthenticated("invalid token: no such token (it may have been revoked)");
    }
    if (parent && parent.numUses > 0 && parent.usesLeft <= 0) {
      throw LessorError.permissionDenied(
        "a token on its last use cannot create child tokens: they would end with it at once (create an orphan, or use a token with uses left)",
        "PARENT_LAST_USE",
      );
    }
    const parentExpire = parent?.expireTime ?? null;
    const parentMax = parent?.maxExpireTime ?? parentExpire;
    const neverExpires = policies.includes("root") && ttl === 0 && explicitMax === 0 && parentExpire === null;
    const maxTtl = explicitMax > 0 ? Math.min(explicitMax, MAX_TOKEN_TTL_SECONDS) : MAX_TOKEN_TTL_SECONDS;
    const effectiveTtl = Math.min(ttl > 0 ? ttl : DEFAULT_TOKEN_TTL_SECONDS, maxTtl);
    const expireTime = atMost(now + effectiveTtl * 1000, parentExpire);
    const maxExpireTime = atMost(now + maxTtl * 1000, parentMax);
    const token = newToken();
    const record: TokenRecord = {
      accessor: newAccessor(),
      policies,
      displayName: displayName === "" ? "token" : displayName.startsWith("token-") ? displayName : `token-${displayName}`,
      parentAccessor: request.orphan ? null : caller.accessor,
      createdAt: now,
      expireTime: neverExpires ? null : expireTime,
      // Capped by the parent, the token's TTL is what it got (as Vault reports it), also for its renewals.
      ttlSeconds: neverExpires ? 0 : Math.min(effectiveTtl, Math.ceil((expireTime - now) / 1000)),
      maxExpireTime: neverExpires ? null : maxExpireTime,
      renewable: neverExpires ? false : request.renewable,
      numUses: request.numUses,
      usesLeft: request.numUses,
      meta,
      boundCidrs: [],
    };
    await this.store.tokens.insert(hashToken(token), record);
    return { token, record };
  }

  /**
   * Makes the token a login earned: no parent (its life is its own), the
   * role's policies (and `default` unless the role says not), TTLs, use limit
   * and CIDR binding, and the identity's metadata. The method proves who the
   * caller is; the token is made here, as every other token is.
   */
  async mintForLogin(identity: LoginIdentity, mount: { path: string }, now = Date.now()): Promise<IssuedToken> {
    const named = identity.policies.map((p) => p.trim().toLowerCase()).filter((p) => p !== "" && p !== "root" && POLICY_NAME.test(p));
    const policies = [...new Set(identity.noDefaultPolicy ? named : ["default", ...named])].sort();
    const maxTtl = Math.min(identity.maxTtlSeconds > 0 ? identity.maxTtlSeconds : MAX_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS);
    const ttl = Math.min(identity.ttlSeconds > 0 ? identity.ttlSeconds : DEFAULT_TOKEN_TTL_SECONDS, maxTtl);
    const method = mount.path.replace(/^auth\//, "").replace(/\/$/, "").replaceAll("/", "-");
    const name = identity.displayName.replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 200);
    const token = newToken();
    const record: TokenRecord = {
      accessor: newAccessor(),
      policies,
      displayName: name === "" ? method : `${method}-${name}`,
      parentAccessor: null,
      createdAt: now,
      expireTime: now + ttl * 1000,
      ttlSeconds: ttl,
      maxExpireTime: now + maxTtl * 1000,
      renewable: true,
      numUses: identity.numUses,
      usesLeft: identity.numUses,
      meta: checkMeta(identity.metadata),
      boundCidrs: identity.boundCidrs,
    };
    await this.store.tokens.insert(hashToken(token), record);
    return issuedToken(token, record);
  }

  /** The live token with this value, or NOT_FOUND. */
  async lookupByToken(token: string, now: number): Promise<TokenRecord> {
    const record = token === "" ? undefined : await this.store.tokens.getByHash(hashToken(token));
    if (!record || isDead(record, now)) throw LessorError.notFound("token not found (it may have expired or been revoked)", "TOKEN_NOT_FOUND");
    return record;
  }

  /** The live token with this accessor, or NOT_FOUND. */
  async lookupByAccessor(accessor: string, now: number): Promise<TokenRecord> {
    const record = accessor === "" ? undefined : await this.store.tokens.getByAccessor(accessor);
    if (!record || isDead(record, now)) {
      throw LessorError.notFound("no token has this accessor (it may have expired or been revoked)", "TOKEN_NOT_FOUND", {
        accessor: accessor.slice(0, 64),
      });
    }
    return record;
  }

  /** The caller's own token record (its last allowed use included). */
  async lookupSelf(accessor: string): Promise<TokenRecord> {
    const record = await this.store.tokens.getByAccessor(accessor);
    if (!record) throw LessorError.unauthenticated("invalid token: no such token (it may have been revoked)");
    return record;
  }

  /** Extends a token by `incrementSeconds` (0: its own TTL) from now, never past its max TTL. */
  async renew(record: TokenRecord, incrementSeconds: number, now: number): Promise<{ record: TokenRecord; clamped: boolean }> {
    const increment = checkSeconds("increment", incrementSeconds);
    if (record.expireTime === null) return { record, clamped: false };
    if (!record.renewable) {
      throw LessorError.failedPrecondition("the token is not renewable", "TOKEN_NOT_RENEWABLE", { accessor: record.accessor });
    }
    const wanted = now + (increment > 0 ? increment : record.ttlSeconds) * 1000;
    let expireTime = wanted;
    if (record.maxExpireTime !== null && expireTime > record.maxExpireTime) expireTime = Math.max(record.maxExpireTime, record.expireTime);
    // Never past the parent's expiry (which folds in every ancestor's).
    if (record.parentAccessor !== null) {
      const parent = await this.store.tokens.getByAccessor(record.parentAccessor);
      if (!parent || isDead(parent, now)) throw LessorError.failedPrecondition("the token's parent has expired or was revoked; the token is ending with it", "TOKEN_PARENT_GONE");
      expireTime = atMost(expireTime, parent.expireTime);
    }
    await this.store.tokenTree.setExpireTime(record.accessor, expireTime);
    // A renewal can shorten a token: its descendants then end no later than it.
    if (expireTime < record.expireTime) await this.capDescendants(record.accessor, expireTime);
    this.forgetAuthentications();
    return { record: { ...record, expireTime }, clamped: expireTime < wanted };
  }

  /**
   * Revokes a token and, unless `orphan`, every token under it; each token's
   * leases are revoked before the token itself is forgotten.
   */
  async revoke(accessor: string, leases: LeaseRevoker, orphan: boolean): Promise<{ tokens: number; leases: number }> {
    const order: string[] = [];
    if (orphan) order.push(accessor);
    else {
      // Depth first, children before parents: a crash midway leaves no orphan behind.
      const visit = async (a: string, depth: number): Promise<void> => {
        if (depth > 10_000) return;
        for (const child of await this.store.tokenTree.children(a)) await visit(child, depth + 1);
        order.push(a);
      };
      await visit(accessor, 0);
    }
    // Refused from this moment, all of them: revoking leases takes a while, and a
    // token whose ancestor is being revoked must not issue anything meanwhile.
    // (Should this process die midway, the sweep of dead tokens finishes the job.)
    const now = Date.now();
    for (const a of order) await this.store.tokenTree.setExpireTime(a, now);
    this.forgetAuthentications();
    let leaseCount = 0;
    for (const a of order) {
      leaseCount += await leases.revokeByToken(a);
      if (orphan) await this.store.tokenTree.orphanChildren(a);
      await this.store.tokens.delete(a);
      this.forgetAuthentications();
      for (const listener of this.revocationListeners) listener(a);
    }
    return { tokens: order.length, leases: leaseCount };
  }

  /** Ends every token under `accessor` at `now` (its last use is spent); the sweep revokes them with their leases. */
  private async expireDescendants(accessor: string, now: number): Promise<void> {
    await this.capDescendants(accessor, now);
    this.forgetAuthentications();
  }

  /**
   * Makes every token under `accessor` expire by `expireTime`. A child that
   * already ends by then needs no visit below it: its own children end no
   * later than it does.
   */
  private async capDescendants(accessor: string, expireTime: number, depth = 0): Promise<void> {
    if (depth > 10_000) return;
    for (const child of await this.store.tokenTree.children(accessor)) {
      const record = await this.store.tokens.getByAccessor(child);
      if (!record || (record.expireTime !== null && record.expireTime <= expireTime)) continue;
      await this.store.tokenTree.setExpireTime(child, expireTime);
      await this.capDescendants(child, expireTime, depth + 1);
    }
  }

  /** Revokes tokens that expired or ran out of uses (and their trees and leases); returns how many. */
  async revokeDead(leases: LeaseRevoker, now: number): Promise<number> {
    let revoked = 0;
    for (;;) {
      const batch = await this.store.tokenTree.dead(now, 100);
      if (batch.length === 0) return revoked;
      for (const accessor of batch) revoked += (await this.revoke(accessor, leases, false)).tokens;
      if (batch.length < 100) return revoked;
    }
  }
}

/** What revoking a token needs from the lease manager. */
export interface LeaseRevoker {
  revokeByToken(accessor: string): Promise<number>;
}


/** Vault's defaults: tokens live 768h unless told otherwise, and never longer. */
export const DEFAULT_TOKEN_TTL_SECONDS = 768 * 3600;
export const MAX_TOKEN_TTL_SECONDS = 768 * 3600;

/** `time`, or `limit` if that is earlier; null is no limit. */
function atMost(time: number, limit: number | null): number {
  return limit === null ? time : Math.min(time, limit);
}

/** What a request that made a token returns (once: the token is never stored in clear). */
export function issuedToken(token: string, record: TokenRecord): IssuedToken {
  return {
    token,
    accessor: record.accessor,
    policies: record.policies,
    metadata: record.meta,
    displayName: record.displayName,
    ttlSeconds: record.ttlSeconds,
    renewable: record.renewable,
    numUses: record.numUses,
    creationTime: record.createdAt,
    expireTime: record.expireTime,
    maxExpireTime: record.maxExpireTime,
    parentAccessor: record.parentAccessor,
  };
}

/** UNAUTHENTICATED when a token bound to CIDR blocks is used from elsewhere. */
function checkBoundCidrs(cidrs: readonly string[], from: { readonly remoteAddress: string } | undefined): void {
  if (cidrs.length === 0) return;
  const remoteAddress = from?.remoteAddress;
  if (remoteAddress !== undefined && cidrBlocks(cidrs).check(remoteAddress.replace(/^::ffff:/, ""), isIPv6(remoteAddress.replace(/^::ffff:/, "")) ? "ipv6" : "ipv4")) return;
  throw LessorError.unauthenticated("invalid token: it may not be used from this address (token_bound_cidrs)");
}

/** A BlockList of CIDR blocks ("10.0.0.0/8", "2001:db8::/32", or a single address). */
export function cidrBlocks(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", bits] = cidr.split("/");
    const type = isIPv6(address) ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

function isDead(record: TokenRecord, now: number): boolean {
  return (record.expireTime !== null && record.expireTime <= now) || (record.numUses > 0 && record.usesLeft <= 0);
}

/** A child's policies: as asked (plus default), else the caller's; never more than the caller holds. */
/** What a child token is made from: its creator's accessor and policies. */
export type TokenParent = Pick<AuthenticatedToken, "accessor"> & { policies: readonly string[] };

function childPolicies(caller: TokenParent, requested: readonly string[]): string[] {
  if (requested.length > 64) throw LessorError.invalidField("policies", "has more than 64 policies");
  const asked = [...new Set(requested.map((p) => p.trim().toLowerCase()).filter((p) => p !== ""))];
  for (const p of asked) {
    if (!POLICY_NAME.test(p)) throw LessorError.invalidField("policies", `"${p.slice(0, 64).replace(/[^\x20-\x7e]/g, "?")}" is not a policy name`);
  }
  if (asked.length === 0) return [...caller.policies];
  const isRoot = caller.policies.includes("root");
  if (!isRoot) {
    const missing = asked.filter((p) => p !== "default" && !caller.policies.includes(p));
    if (missing.length > 0) {
      throw LessorError.permissionDenied(
        `a token can be given only policies its creator holds; the caller lacks [${missing.join(", ")}]`,
        "CHILD_POLICIES_NOT_SUBSET",
        { policies: missing.join(",") },
      );
    }
  }
  if (asked.includes("root")) return ["root"];
  return [...new Set(["default", ...asked])].sort();
}

function checkSeconds(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw LessorError.invalidField(field, "must be zero or a positive whole number of seconds");
  if (value > MAX_DURATION_SECONDS) throw LessorError.invalidField(field, "is longer than 100 years");
  return value;
}

function checkText(field: string, value: string, max: number): string {
  if (value.length > max) throw LessorError.invalidField(field, `is longer than ${max} characters`);
  if (/[\u0000-\u001f\u007f\uFFFD]/.test(value)) throw LessorError.invalidField(field, "contains control characters or invalid UTF-8");
  return value;
}

function checkMeta(meta: Record<string, string>): Record<string, string> {
  const entries = Object.entries(meta);
  if (entries.length > 64) throw LessorError.invalidField("meta", "has more than 64 entries");
  for (const [k, v] of entries) {
    if (k === "" || k.length > 128 || /[\u0000-\u001f\u007f\uFFFD]/.test(k)) {
      throw LessorError.invalidField("meta", "keys must be 1-128 printable characters");
    }
    checkText(`meta.${k}`, v, 512);
  }
  return { ...meta };
}
