// Which store the suite runs against. `npm test` (test/run-suite.ts) runs
// every test file twice: with LESSOR_TEST_STORE=sqlite, then with
// LESSOR_TEST_STORE=postgres and LESSOR_TEST_POSTGRES_URL pointing at one
// PostgreSQL the runner started. On the PostgreSQL pass, each server data
// directory gets a database of its own, named from the directory: a restart
// of "the same server" (same data dir) reaches the same database, and tests
// that open a stopped server's store (openServerStore) open the same one.
// The key file stays in the data directory on both stores.
import { createHash } from "node:crypto";
import { basename, resolve } from "node:path";
import { attachPostgres, databaseName, TEST_POSTGRES_URL_ENV, type Postgres } from "./postgres.js";

export const TEST_STORE_ENV = "LESSOR_TEST_STORE";
export type TestStoreKind = "sqlite" | "postgres";

/** The store this pass runs against (sqlite unless LESSOR_TEST_STORE=postgres). */
export function testStore(): TestStoreKind {
  const kind = process.env[TEST_STORE_ENV] ?? "sqlite";
  if (kind !== "sqlite" && kind !== "postgres") throw new Error(`${TEST_STORE_ENV}=${kind}: expected sqlite or postgres`);
  return kind;
}

export const onPostgres = (): boolean => testStore() === "postgres";

/**
 * For `test(name, { skip: sqliteOnly("why") }, fn)`: skipped on the PostgreSQL
 * pass, with the reason, for checks that are about SQLite's own files.
 */
export function sqliteOnly(reason: string): string | false {
  return onPostgres() ? `SQLite only: ${reason}` : false;
}

let cluster: Postgres | undefined;

/** The PostgreSQL of this pass (the runner's). Throws on the SQLite pass or without the runner's URL. */
export function testCluster(): Postgres {
  if (!onPostgres()) throw new Error("testCluster(): this pass runs on SQLite");
  const url = process.env[TEST_POSTGRES_URL_ENV];
  if (!url) {
    throw new Error(
      `${TEST_STORE_ENV}=postgres needs ${TEST_POSTGRES_URL_ENV}; run files through the runner: node dist/test/run-suite.js --store=postgres dist/test/<file>.test.js`,
    );
  }
  return (cluster ??= attachPostgres(url));
}

/** The database of the server whose data directory is `dataDir` (same name for the same directory). */
export function databaseFor(dataDir: string): string {
  const dir = resolve(dataDir);
  const hash = createHash("sha256").update(dir).digest("hex").slice(0, 12);
  return databaseName(`t_${basename(dir).replace(/^lessor-test-/, "")}`.slice(0, 40) + `_${hash}`);
}

/** On the PostgreSQL pass, the URL of `dataDir`'s database (created on first use); on SQLite, undefined. */
export async function storageUrlFor(dataDir: string): Promise<string | undefined> {
  if (!onPostgres()) return undefined;
  return testCluster().ensureDatabase(databaseFor(dataDir));
}

/** `lessor server` / `lessor operator ...` flags that select `dataDir`'s store: none on SQLite. */
export async function storageArgs(dataDir: string): Promise<string[]> {
  const url = await storageUrlFor(dataDir);
  return url === undefined ? [] : [`-storage-url=${url}`];
}

/** startLessor()/openStore() options that select `dataDir`'s store: none on SQLite. */
export async function storeOptions(dataDir: string): Promise<{ storageUrl?: string }> {
  const url = await storageUrlFor(dataDir);
  return url === undefined ? {} : { storageUrl: url };
}
