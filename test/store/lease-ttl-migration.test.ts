// Upgrading a store whose leases were recorded before a lease's own TTL was
// kept (SQLite schema 3, PostgreSQL schema 1): the migration leaves their TTL
// unknown, and renewing one with no increment extends it by its last
// extension, as before; leases issued after the upgrade renew by their TTL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import pino from "pino";
import { LeaseManager } from "../../src/leases/manager.js";
import { mountTableFor } from "../helpers/mounts.js";
import { aad } from "../../src/store/common.js";
import { Keyring } from "../../src/store/encryption.js";
import { SQLITE_MIGRATIONS } from "../../src/store/migrations.js";
import { openStore } from "../../src/store/open.js";
import { PG_MIGRATIONS } from "../../src/store/pg-migrations.js";
import { tempDir } from "../helpers/processes.js";
import { onPostgres, storeOptions } from "../helpers/store.js";

const MINUTE = 60_000;

/** A lease row as the schema before migration 4 (SQLite) / 2 (PostgreSQL) held it. */
function oldLease(keyring: Keyring, id: string, issued: number): unknown[] {
  // Issued for 10 minutes, last extended by 30.
  return [id, "aws_1", "access_keys", keyring.sealJson({ user: "u" }, aad.lease(id)), issued, issued + 32 * MINUTE, issued + 60 * MINUTE, issued + 2 * MINUTE, issued + 32 * MINUTE];
}

/** Writes a store at the schema before the TTL column, holding one lease. */
async function writeOldStore(dataDir: string, keyring: Keyring, id: string, issued: number): Promise<void> {
  const insert = `INSERT INTO leases (id, mount_accessor, secret_type, internal, issue_time, expire_time, max_expire_time, last_renewal_time,
                                      renewable, state, due_time)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, 'active', $9)`;
  const { storageUrl } = await storeOptions(dataDir);
  if (storageUrl === undefined) {
    const db = new Database(join(dataDir, "lessor.db"));
    for (const migration of SQLITE_MIGRATIONS.slice(0, 3)) db.exec(migration);
    db.pragma("user_version = 3");
    db.prepare(insert.replace(/\$\d/g, "?").replace("TRUE", "1")).run(...oldLease(keyring, id, issued));
    db.close();
    return;
  }
  const client = new pg.Client({ connectionString: storageUrl });
  await client.connect();
  try {
    await client.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    await client.query(PG_MIGRATIONS[0] as string);
    await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)");
    await client.query(insert, oldLease(keyring, id, issued));
  } finally {
    await client.end();
  }
}

test(`leases recorded before their TTL was kept renew by their last extension (${onPostgres() ? "postgres" : "sqlite"})`, async (t) => {
  const dataDir = tempDir("ttl-migration");
  const keyring = Keyring.generate();
  const now = Date.now();
  await writeOldStore(dataDir, keyring, "aws/creds/old/1", now - 2 * MINUTE);
  const store = await openStore({ dataDir, ...(await storeOptions(dataDir)), keyring });
  t.after(() => store.close());
  const logger = pino({ level: "silent" });
  const leases = new LeaseManager(store, mountTableFor(store, [], logger), logger);

  assert.equal((await leases.lookup("aws/creds/old/1")).ttlSeconds, null);
  const renewed = await leases.renew("aws/creds/old/1", 0);
  assert.equal(renewed.durationSeconds, 30 * 60, "its last extension: 30 minutes");

  await store.leases.insertFromIntent(
    { id: "aws/creds/new/1", mountAccessor: "aws_1", secretType: "access_keys", internal: {}, issueTime: now, expireTime: now + 10 * MINUTE, maxExpireTime: now + 60 * MINUTE, ttlSeconds: 600, renewable: true, tokenAccessor: null },
    null,
  );
  await leases.renew("aws/creds/new/1", 30 * 60);
  assert.equal((await leases.renew("aws/creds/new/1", 0)).durationSeconds, 600, "its own TTL, not its last extension");
});
