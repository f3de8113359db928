// Tokens: random bearer secrets, stored only as SHA-256 hashes. The accessor
// is a second, non-secret id that names a token in logs, audit and leases.
import { createHash, randomBytes } from "node:crypto";
import { LessorError } from "../errors.js";
import type { Store, TokenRecord } from "../store/types.js";

export const TOKEN_PREFIX = "lsr.";

export interface AuthenticatedToken {
  accessor: string;
  displayName: string;
  policies: string[];
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

export class TokenAuthority {
  constructor(private readonly store: Store) {}

  /** Makes a root token and returns it; the only time it is ever seen in clear. */
  async createRoot(now: number): Promise<string> {
    const token = newToken();
    const record: TokenRecord = {
      accessor: randomBytes(12).toString("base64url"),
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
    };
    await this.store.tokens.insert(hashToken(token), record);
    return token;
  }

  async hasAnyToken(): Promise<boolean> {
    return (await this.store.tokens.count()) > 0;
  }

  /** Resolves a bearer token, or throws UNAUTHENTICATED saying why. */
  async authenticate(token: string | undefined, now: number): Promise<AuthenticatedToken> {
    if (token === undefined || token === "") {
      throw LessorError.unauthenticated(
        "missing token: send `authorization: Bearer <token>` metadata (the CLI reads LESSOR_TOKEN or ~/.lessor-token)",
      );
    }
    const record = await this.store.tokens.getByHash(hashToken(token));
    if (!record) throw LessorError.unauthenticated("invalid token: no such token (it may have been revoked)");
    if (record.expireTime !== null && record.expireTime <= now) {
      throw LessorError.unauthenticated("invalid token: the token has expired");
    }
    if (record.numUses > 0 && (await this.store.tokens.consumeUse(record.accessor)) < 0) {
      throw LessorError.unauthenticated("invalid token: the token has no uses left");
    }
    return { accessor: record.accessor, displayName: record.displayName, policies: record.policies };
  }
}
