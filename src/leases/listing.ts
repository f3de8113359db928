// Listing leases under a prefix, a page at a time. Paging is keyset on the
// lease id (ids never change), so leases added or removed between pages
// neither shift nor repeat the others. The page token is the last id seen,
// sealed with the store's key and bound to the prefix and state filter: it
// is opaque, cannot be edited, and cannot be replayed on another listing.
import { LessorError } from "../errors.js";
import type { Keyring } from "../store/encryption.js";
import type { LeaseRecord, LeaseState, Store } from "../store/types.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export interface LeaseListPage {
  leases: LeaseRecord[];
  /** Empty on the last page. */
  nextPageToken: string;
}

export class LeaseListing {
  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring,
  ) {}

  /** Validates the page size: 0 means the default; beyond the maximum is refused, naming the field. */
  static pageSize(requested: number): number {
    if (!Number.isInteger(requested) || requested < 0) {
      throw LessorError.invalidField("page_size", `must be between 0 (the default, ${DEFAULT_PAGE_SIZE}) and ${MAX_PAGE_SIZE}`);
    }
    if (requested > MAX_PAGE_SIZE) {
      throw LessorError.invalidField("page_size", `must be at most ${MAX_PAGE_SIZE} (got ${requested}); page through with page_token`);
    }
    return requested === 0 ? DEFAULT_PAGE_SIZE : requested;
  }

  async page(prefix: string, state: LeaseState | undefined, pageSize: number, pageToken: string): Promise<LeaseListPage> {
    const limit = LeaseListing.pageSize(pageSize);
    const after = pageToken === "" ? null : this.openToken(pageToken, prefix, state);
    const page =
      state === undefined
        ? await this.store.leases.page(prefix, after, limit)
        : await this.store.leases.pageInState(prefix, state, after, limit);
    return { leases: page.leases, nextPageToken: page.next === null ? "" : this.sealToken(page.next, prefix, state) };
  }

  private aad(prefix: string, state: LeaseState | undefined): string {
    return `lease-page-token\u0000${prefix}\u0000${state ?? ""}`;
  }

  private sealToken(after: string, prefix: string, state: LeaseState | undefined): string {
    return this.keyring.seal(Buffer.from(after, "utf8"), this.aad(prefix, state)).toString("base64url");
  }

  private openToken(token: string, prefix: string, state: LeaseState | undefined): string {
    try {
      if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error("not base64url");
      return this.keyring.open(Buffer.from(token, "base64url"), this.aad(prefix, state)).toString("utf8");
    } catch {
      throw LessorError.invalidField(
        "page_token",
        "is not a token this server issued for this prefix and state filter (it was altered, or belongs to another listing); start again without page_token",
      );
    }
  }
}
