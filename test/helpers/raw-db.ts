// Raw access to a server's database, below the store API, on whichever store
// this pass runs (test/helpers/store.ts): the SQLite file in the data
// directory, or the data directory's PostgreSQL database. For drift a crash or
// a hand edit could leave, and for "is this secret stored in clear".
//
// SQL is written once for both: `?` placeholders (numbered for PostgreSQL
// here), plain SELECT/UPDATE on the tables both schemas share. BLOB and BYTEA
// come back as Buffers and BIGINT as numbers on both.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { databaseFor, onPostgres, storageUrlFor, testCluster, type TestStoreKind } from "./store.js";

export type Row = Record<string, unknown>;

export interface RawDb {
  readonly kind: TestStoreKind;
  /** The rows of one statement; `?` placeholders on both stores. */
  all<R extends Row = Row>(sql: string, ...params: unknown[]): Promise<R[]>;
  /** One statement, no rows. */
  run(sql: string, ...params: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** `?` placeholders as PostgreSQL's $1, $2, ... (outside quoted strings). */
function numbered(sql: string): string {
  let n = 0;
  let quoted = false;
  let out = "";
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === "?" && !quoted ? `$${++n}` : ch;
  }
  return out;
}

const BIGINT_OID = 20;

function pgClient(url: string): pg.Client {
  return new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === BIGINT_OID && format !== "binary" ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
}

/** Opens the database of the server whose data directory is `dataDir` (SQLite: lessor.db, which must exist). */
export async function openRawDb(dataDir: string, options: { readonly?: boolean } = {}): Promise<RawDb> {
  if (!onPostgres()) {
    const db = new Database(join(dataDir, "lessor.db"), { readonly: options.readonly ?? false, fileMustExist: true });
    return {
      kind: "sqlite",
      all: <R extends Row>(sql: string, ...params: unknown[]) => Promise.resolve(db.prepare(sql).all(...params) as R[]),
      run: (sql, ...params) => {
        db.prepare(sql).run(...params);
        return Promise.resolve();
      },
      close: () => Promise.resolve(void db.close()),
    };
  }
  const client = pgClient((await storageUrlFor(dataDir)) as string);
  await client.connect();
  if (options.readonly) await client.query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
  return {
    kind: "postgres",
    all: async <R extends Row>(sql: string, ...params: unknown[]) => (await client.query<R>(numbered(sql), params)).rows,
    run: async (sql, ...params) => void (await client.query(numbered(sql), params)),
    close: () => client.end(),
  };
}

/**
 * Everything the store holds for `dataDir`, as one latin1 string to search for
 * secrets in clear. SQLite: the bytes of lessor.db and its WAL. PostgreSQL:
 * every row of every table, BYTEA as its raw bytes (so a value stored unsealed
 * in a BYTEA column is found, not hidden by hex), and then, after a
 * CHECKPOINT, the bytes of every file of the database in the cluster's data
 * directory (heap, TOAST and index files: old row versions too, as SQLite's
 * free pages and WAL are read above).
 */
export async function storedBytes(dataDir: string): Promise<string> {
  if (!onPostgres()) {
    return ["lessor.db", "lessor.db-wal"]
      .map((f) => join(dataDir, f))
      .filter(existsSync)
      .map((f) => readFileSync(f).toString("latin1"))
      .join("");
  }
  const parts: string[] = [];
  const db = await openRawDb(dataDir, { readonly: true });
  try {
    const tables = await db.all<{ schema: string; name: string }>(
      "SELECT table_schema AS schema, table_name AS name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    );
    if (tables.length === 0) throw new Error(`database ${databaseFor(dataDir)} has no tables: wrong database?`);
    for (const { schema, name } of tables) {
      parts.push(`\n-- ${schema}.${name}\n`);
      for (const row of await db.all(`SELECT * FROM "${schema}"."${name}"`)) {
        for (const value of Object.values(row)) {
          parts.push(Buffer.isBuffer(value) ? value.toString("latin1") : typeof value === "object" && value !== null ? JSON.stringify(value) : String(value), "\t");
        }
        parts.push("\n");
      }
    }
  } finally {
    await db.close();
  }
  // The files: the cluster is on this machine (the runner started it).
  const cluster = testCluster();
  await cluster.query("CHECKPOINT");
  const [setting] = await cluster.query<{ dir: string; oid: number }>(
    "SELECT current_setting('data_directory') AS dir, (SELECT oid FROM pg_database WHERE datname = $1)::int AS oid",
    [databaseFor(dataDir)],
  );
  const dir = join(setting?.dir ?? "", "base", String(setting?.oid));
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    if (statSync(path).isFile()) parts.push(readFileSync(path).toString("latin1"));
  }
  return parts.join("");
}

/**
 * PostgreSQL's write-ahead log as one latin1 string: the segments of the
 * cluster's pg_wal written since `since` (after a CHECKPOINT, so what was
 * committed is in them). Every change a database makes passes through it,
 * row data included, whatever happens to the tables afterwards.
 */
export async function walBytes(since: number): Promise<string> {
  const cluster = testCluster();
  await cluster.query("CHECKPOINT");
  const [setting] = await cluster.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
  const dir = join(setting?.dir ?? "", "pg_wal");
  const parts: string[] = [];
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    const stat = statSync(path);
    // Segment files are named by 24 hex digits; a second of slack for file times.
    if (/^[0-9A-F]{24}$/.test(file) && stat.isFile() && stat.mtimeMs >= since - 1_000) parts.push(readFileSync(path).toString("latin1"));
  }
  if (parts.length === 0) throw new Error(`no WAL segment in ${dir} was written since the test began`);
  return parts.join("");
}
