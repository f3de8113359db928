// Where the jwt method's verification keys come from: PEM keys in the
// configuration, a JWKS URL, or an OIDC discovery document (whose jwks_uri
// is then fetched). Remote sets are cached; a token whose kid is unknown
// makes one refresh, at most one such refresh per cooldown per mount, so a
// stream of made-up kids cannot make Lessor hammer the provider. Only the
// configured URLs (and the discovery document's jwks_uri) are ever fetched,
// never a URL taken from a token.
import { createPublicKey, type KeyObject } from "node:crypto";
// jose is loaded at the first key set or login (import() below), not when the server starts.
import type { CryptoKey, LocalJWKSet, ProtectedHeaderParameters } from "jose";
import type { Logger } from "pino";
import { z } from "zod";
import { fetchJson, FetchError } from "./fetch.js";

/** The asymmetric algorithms a JWT may be signed with (and Vault's default for jwt roles). Never HS* or none. */
export const ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

export const KEY_CACHE = {
  /** A fetched key set is used this long before it is fetched again. */
  maxAgeMs: 10 * 60_000,
  /** At most one refresh for an unknown kid in this time. */
  unknownKidCooldownMs: 10_000,
  /** After a failed fetch, logins fail at once for this long instead of fetching again. */
  failureBackoffMs: 5_000,
} as const;

export type VerificationKey = KeyObject | CryptoKey;

/** Why keys could not be had: the provider is unreachable or sent something unusable (not the caller's fault). */
export class KeySourceError extends Error {}

export interface KeySource {
  /** The keys that may have signed a token with this header (after one refresh, if none did). */
  candidates(header: ProtectedHeaderParameters): Promise<VerificationKey[]>;
  /** The issuer a discovery document names; undefined for the other sources. */
  issuer(): Promise<string | undefined>;
  /** Fetches now (a configuration being written is checked this way). */
  prime(): Promise<void>;
}

/** Parses a PEM public key or certificate; a private or secret key is an error (what is wrong, as text). */
export function parsePublicKeyPem(pem: string): KeyObject | string {
  if (/PRIVATE KEY-----/.test(pem)) return "is a private key; give the public key (or a certificate)";
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return "is not a PEM public key or certificate";
  }
  if (!["rsa", "rsa-pss", "ec", "ed25519", "ed448"].includes(key.asymmetricKeyType ?? "")) return `holds a ${key.asymmetricKeyType ?? "unknown"} key, which signs no JWT algorithm`;
  return key;
}

export function staticKeys(pems: readonly string[]): KeySource {
  const keys = pems.map(parsePublicKeyPem).filter((k): k is KeyObject => typeof k !== "string");
  return { candidates: async () => keys, issuer: async () => undefined, prime: async () => undefined };
}

/** A JWKS as far as Lessor looks at it (jose checks each key); at most this many keys. */
const MAX_JWKS_KEYS = 100;
const jwksSchema = z.object({ keys: z.array(z.looseObject({ kty: z.string() })).max(MAX_JWKS_KEYS) });

const discoverySchema = z.object({ issuer: z.string().min(1), jwks_uri: z.string().min(1) });
type Discovery = z.infer<typeof discoverySchema>;

/** A JSON document fetched on demand and kept for KEY_CACHE.maxAgeMs; refreshes are shared and failures back off. */
class Cached<T> {
  private value: { data: T; fetchedAt: number } | undefined;
  private loading: Promise<T> | undefined;
  private failed: { at: number; error: KeySourceError } | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly now: () => number,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  /** The cached value, fetched first when there is none or it is old (an old one is kept if the refresh fails). */
  async get(): Promise<T> {
    const cached = this.value;
    if (cached && this.now() - cached.fetchedAt < KEY_CACHE.maxAgeMs) return cached.data;
    try {
      return await this.refresh();
    } catch (err) {
      if (!cached) throw err;
      this.logger.warn({ err: (err as Error).message }, `could not refresh the ${this.what}; using the one fetched before`);
      return cached.data;
    }
  }

  /** Fetches now (shared with a fetch under way), unless the last fetch failed moments ago. */
  async refresh(): Promise<T> {
    if (this.failed && this.now() - this.failed.at < KEY_CACHE.failureBackoffMs) throw this.failed.error;
    this.loading ??= this.load()
      .then((data) => {
        this.value = { data, fetchedAt: this.now() };
        this.failed = undefined;
        return data;
      })
      .catch((err: unknown) => {
        const error = err instanceof KeySourceError ? err : new KeySourceError(`the ${this.what} could not be used: ${(err as Error).message}`);
        this.failed = { at: this.now(), error };
        throw error;
      })
      .finally(() => (this.loading = undefined));
    return this.loading;
  }
}

/** Keys from a JWKS document; `url` names where (fixed, or the discovery document's jwks_uri). */
class RemoteKeys implements KeySource {
  private readonly set: Cached<LocalJWKSet>;
  private lastKidRefresh = Number.NEGATIVE_INFINITY;

  constructor(
    url: () => Promise<string>,
    ca: string | undefined,
    private readonly now: () => number,
    logger: Logger,
    private readonly discovered: Cached<Discovery> | undefined,
  ) {
    this.set = new Cached(async () => await jwksFrom(await fetched(await url(), ca)), now, logger, "JWKS");
  }

  async candidates(header: ProtectedHeaderParameters): Promise<VerificationKey[]> {
    const found = await pick(await this.set.get(), header);
    if (found.length > 0 || this.now() - this.lastKidRefresh < KEY_CACHE.unknownKidCooldownMs) return found;
    this.lastKidRefresh = this.now();
    return pick(await this.set.refresh(), header);
  }

  async issuer(): Promise<string | undefined> {
    return this.discovered ? (await this.discovered.get()).issuer : undefined;
  }

  async prime(): Promise<void> {
    await this.discovered?.refresh();
    await this.set.refresh();
  }
}

export function jwksKeys(url: string, ca: string | undefined, now: () => number, logger: Logger): KeySource {
  return new RemoteKeys(async () => url, ca, now, logger, undefined);
}

/** Keys named by an OIDC discovery document (`<url>/.well-known/openid-configuration`), which must name `url` as its issuer. */
export function discoveryKeys(url: string, ca: string | undefined, now: () => number, logger: Logger): KeySource {
  const base = url.replace(/\/+$/, "");
  const document = new Cached(
    async () => {
      const parsed = discoverySchema.safeParse(await fetched(`${base}/.well-known/openid-configuration`, ca));
      if (!parsed.success) throw new KeySourceError("the discovery document has no issuer or jwks_uri");
      if (parsed.data.issuer.replace(/\/+$/, "") !== base) throw new KeySourceError(`the discovery document names another issuer (${parsed.data.issuer.slice(0, 200)})`);
      if (!/^https?:\/\//.test(parsed.data.jwks_uri)) throw new KeySourceError("the discovery document's jwks_uri is not an http(s) URL");
      return parsed.data;
    },
    now,
    logger,
    "OIDC discovery document",
  );
  return new RemoteKeys(async () => (await document.get()).jwks_uri, ca, now, logger, document);
}

async function fetched(url: string, ca: string | undefined): Promise<unknown> {
  try {
    return await fetchJson(url, ca);
  } catch (err) {
    throw new KeySourceError(err instanceof FetchError ? err.message : `${url}: ${(err as Error).message}`);
  }
}

async function jwksFrom(document: unknown): Promise<LocalJWKSet> {
  const parsed = jwksSchema.safeParse(document);
  if (!parsed.success) throw new KeySourceError(`the JWKS is not a JSON Web Key Set of at most ${MAX_JWKS_KEYS} keys`);
  const { createLocalJWKSet } = await import("jose");
  try {
    return createLocalJWKSet(parsed.data);
  } catch {
    throw new KeySourceError("the JWKS is not a JSON Web Key Set");
  }
}

/** The keys of a set that fit the header (kid, alg, key type); none when nothing fits. */
async function pick(set: LocalJWKSet, header: ProtectedHeaderParameters): Promise<VerificationKey[]> {
  const { errors } = await import("jose");
  try {
    return [await set(header, undefined)];
  } catch (err) {
    if (err instanceof errors.JWKSMultipleMatchingKeys) {
      const keys: VerificationKey[] = [];
      for await (const key of err) keys.push(key);
      return keys;
    }
    if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JOSENotSupported || err instanceof errors.JWKSInvalid) return [];
    throw err;
  }
}
