// Which store a server uses: the SQLite file <dataDir>/lessor.db by default,
// PostgreSQL (shared by several replicas) when a storage URL is given.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Keyring } from "./encryption.js";
import { describeStorageUrl } from "./pg-connect.js";
import type { Store } from "./types.js";

export interface OpenStoreOptions {
  /** Holds lessor.db when there is no storage URL. */
  dataDir: string;
  /** postgres://user:password@host:port/database?sslmode=... */
  storageUrl?: string;
  /** CA bundle (PEM) for the PostgreSQL server's certificate. */
  storageCaFile?: string;
  keyring: Keyring;
  logger?: Logger;
  /** SQLite: told every statement run, values inlined (for diagnosis). */
  trace?: (sql: string) => void;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.storageUrl !== undefined && options.storageUrl !== "") {
    const { openPgStore } = await import("./pg.js");
    return openPgStore({ url: options.storageUrl, caFile: options.storageCaFile, keyring: options.keyring, logger: options.logger });
  }
  const { openSqliteStore } = await import("./sqlite.js");
  return openSqliteStore({ path: join(options.dataDir, "lessor.db"), keyring: options.keyring, trace: options.trace });
}

/** What the banner says of the storage: "sqlite (<path>)" or "postgresql (host:port/db)", never a password. */
export function describeStorage(options: { dataDir: string; storageUrl?: string }): string {
  if (options.storageUrl !== undefined && options.storageUrl !== "") return `postgresql (${describeStorageUrl(options.storageUrl)})`;
  return `sqlite (${join(options.dataDir, "lessor.db")})`;
}
