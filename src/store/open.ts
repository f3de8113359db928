// Which store a server uses: the SQLite file <dataDir>/lessor.db by default,
// PostgreSQL (shared by several replicas) when a storage URL is given.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { KeyMismatchError } from "./common.js";
import { Keyring } from "./encryption.js";
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
export async function describeStorage(options: { dataDir: string; storageUrl?: string }): Promise<string> {
  // The pg modules are loaded only for a PostgreSQL store.
  if (options.storageUrl !== undefined && options.storageUrl !== "") return `postgresql (${(await import("./pg-connect.js")).describeStorageUrl(options.storageUrl)})`;
  return `sqlite (${join(options.dataDir, "lessor.db")})`;
}

/** The database file, its write-ahead log and shared memory: all owner-only. */
const SQLITE_FILES = ["lessor.db", "lessor.db-wal", "lessor.db-shm"];

export interface OpenKeyedStoreOptions extends Omit<OpenStoreOptions, "keyring"> {
  /** Default <dataDir>/lessor.key. */
  keyFile?: string;
  /** Base64 key (LESSOR_SEAL_KEY), instead of a key file. */
  sealKey?: string;
}

/**
 * Opens the store with its key, as a server starts: the data directory is
 * created if missing and made owner-only, SQLite's files too, whatever the umask; the key
 * file is read, or made for a new store. A missing key file for an existing
 * store is an error naming the file, and nothing is created or changed.
 */
export async function openKeyedStore(options: OpenKeyedStoreOptions): Promise<{ store: Store; keyring: Keyring; keyFile: string | undefined }> {
  prepareDataDir(options.dataDir);
  const sqlite = options.storageUrl === undefined || options.storageUrl === "";
  if (options.sealKey) {
    if (sqlite) prepareSqliteFiles(options.dataDir);
    const keyring = Keyring.fromBase64(options.sealKey);
    return { store: await openStore({ ...options, keyring }), keyring, keyFile: undefined };
  }
  const keyFile = options.keyFile ?? join(options.dataDir, "lessor.key");
  const missingKey = (store: string) =>
    new Error(
      `the key file ${keyFile} is missing, but ${store} exists and was sealed with it: restore the key file (or give its path with -key-file, or the key in LESSOR_SEAL_KEY); nothing was changed`,
    );
  let keyring: Keyring;
  let created = false;
  if (existsSync(keyFile)) {
    keyring = Keyring.load(keyFile);
  } else {
    const dbPath = join(options.dataDir, "lessor.db");
    if (sqlite && existsSync(dbPath) && statSync(dbPath).size > 0) throw missingKey(`the database ${dbPath}`);
    keyring = Keyring.create(keyFile);
    created = true;
  }
  if (sqlite) prepareSqliteFiles(options.dataDir);
  try {
    return { store: await openStore({ ...options, keyring }), keyring, keyFile };
  } catch (err) {
    // A new key refused by an existing (shared) database: the key file was lost. Take back the one just made.
    if (created) rmSync(keyFile, { force: true });
    if (created && err instanceof KeyMismatchError) {
      // A shared database: the key file of this data directory was lost, or this is a new replica's.
      throw new Error(
        `the key file ${keyFile} is missing, and the encryption key does not match this database (it was sealed with another key): copy the key file the other replicas use (or this data directory's own, if it was lost) to ${keyFile}, or give the key with -key-file or LESSOR_SEAL_KEY; nothing was changed`,
      );
    }
    throw err;
  }
}

/** Creates the data directory if needed, and makes it owner-only. */
function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
  } catch (err) {
    throw new Error(`cannot use the data directory ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * Makes SQLite's files owner-only. The database file is created here when it
 * does not exist yet, owner-only, since SQLite gives its log and shared memory
 * files the database file's permissions.
 */
function prepareSqliteFiles(dataDir: string): void {
  closeSync(openSync(join(dataDir, "lessor.db"), "a", 0o600));
  for (const name of SQLITE_FILES) {
    const path = join(dataDir, name);
    if (existsSync(path)) chmodSync(path, 0o600);
  }
}
