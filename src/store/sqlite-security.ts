// The SQLite side of the security tables: policies, quotas, audit devices,
// sealed settings, the token tree, and re-encryption for key rotation.
import type { Database as SqliteDatabase, Statement } from "better-sqlite3";
import { Keyring } from "./encryption.js";
import type { GroupCommit } from "./sqlite-group-commit.js";
import {
  aad,
  auditDeviceRecord,
  KEY_CHECK,
  policyRecord,
  quotaConfigJson,
  quotaRecord,
  sealAuditDeviceConfig,
  SEALED_COLUMNS,
  settingKey,
  type PolicyRow,
} from "./common.js";
import type {
  AuditDeviceRecord,
  AuditDeviceStore,
  KeyUsage,
  PolicyRecord,
  PolicyStore,
  QuotaRecord,
  QuotaStore,
  SealedDataStore,
  SealedSettingStore,
  TokenTreeStore,
} from "./types.js";

export class SqlitePolicies implements PolicyStore {
  private readonly getOne: Statement;
  private readonly all: Statement;
  private readonly upsert: Statement;
  private readonly deleteOne: Statement;

  constructor(db: SqliteDatabase) {
    this.getOne = db.prepare("SELECT name, text, updated_at FROM policies WHERE name = ?");
    this.all = db.prepare("SELECT name, text, updated_at FROM policies ORDER BY name");
    this.upsert = db.prepare(
      `INSERT INTO policies (name, text, updated_at) VALUES (@name, @text, @updatedAt)
       ON CONFLICT (name) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`,
    );
    this.deleteOne = db.prepare("DELETE FROM policies WHERE name = ?");
  }

  async get(name: string): Promise<PolicyRecord | undefined> {
    const r = this.getOne.get(name) as PolicyRow | undefined;
    return r ? policyRecord(r) : undefined;
  }

  async list(): Promise<PolicyRecord[]> {
    return (this.all.all() as PolicyRow[]).map(policyRecord);
  }

  async put(policy: PolicyRecord): Promise<void> {
    this.upsert.run(policy);
  }

  async delete(name: string): Promise<boolean> {
    return this.deleteOne.run(name).changes > 0;
  }
}

export class SqliteQuotas implements QuotaStore {
  private readonly all: Statement;
  private readonly upsert: Statement;
  private readonly deleteOne: Statement;

  constructor(db: SqliteDatabase) {
    this.all = db.prepare("SELECT name, config FROM quotas ORDER BY name");
    this.upsert = db.prepare(
      "INSERT INTO quotas (name, config) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET config = excluded.config",
    );
    this.deleteOne = db.prepare("DELETE FROM quotas WHERE name = ?");
  }

  async list(): Promise<QuotaRecord[]> {
    return (this.all.all() as Array<{ name: string; config: string }>).map((r) => quotaRecord(r.name, r.config));
  }

  async put(quota: QuotaRecord): Promise<void> {
    this.upsert.run(quota.name, quotaConfigJson(quota));
  }

  async delete(name: string): Promise<boolean> {
    return this.deleteOne.run(name).changes > 0;
  }
}

export class SqliteAuditDevices implements AuditDeviceStore {
  private readonly all: Statement;
  private readonly insertOne: Statement;
  private readonly deleteOne: Statement;

  constructor(
    db: SqliteDatabase,
    private readonly keyring: Keyring,
  ) {
    this.all = db.prepare("SELECT path, config FROM audit_devices ORDER BY path");
    this.insertOne = db.prepare("INSERT INTO audit_devices (path, config) VALUES (?, ?)");
    this.deleteOne = db.prepare("DELETE FROM audit_devices WHERE path = ?");
  }

  async list(): Promise<AuditDeviceRecord[]> {
    return (this.all.all() as Array<{ path: string; config: Buffer }>).map((r) => auditDeviceRecord(r.path, r.config, this.keyring));
  }

  async insert(device: AuditDeviceRecord): Promise<void> {
    this.insertOne.run(device.path, sealAuditDeviceConfig(device, this.keyring));
  }

  async delete(path: string): Promise<boolean> {
    return this.deleteOne.run(path).changes > 0;
  }
}

/** Settings live in the meta table as base64 of a sealed value, under "sealed:<name>". */
export class SqliteSettings implements SealedSettingStore {
  private readonly getOne: Statement;
  private readonly insertOne: Statement;

  constructor(
    db: SqliteDatabase,
    private readonly keyring: Keyring,
  ) {
    this.getOne = db.prepare("SELECT value FROM meta WHERE key = ?");
    this.insertOne = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING");
  }

  async get(name: string): Promise<Buffer | undefined> {
    const key = settingKey(name);
    const row = this.getOne.get(key) as { value: string } | undefined;
    return row ? this.keyring.open(Buffer.from(row.value, "base64"), aad.meta(key)) : undefined;
  }

  async putIfAbsent(name: string, value: Buffer): Promise<Buffer> {
    const key = settingKey(name);
    this.insertOne.run(key, this.keyring.seal(value, aad.meta(key)).toString("base64"));
    return (await this.get(name)) as Buffer;
  }
}

export class SqliteTokenTree implements TokenTreeStore {
  private readonly childRows: Statement;
  private readonly orphan: Statement;
  private readonly setExpire: Statement;
  private readonly expired: Statement;
  private readonly usedUp: Statement;
  private readonly leasesFirst: Statement;
  private readonly leasesAfter: Statement;

  constructor(db: SqliteDatabase) {
    this.childRows = db.prepare("SELECT accessor FROM tokens WHERE parent_accessor = ?");
    this.orphan = db.prepare("UPDATE tokens SET parent_accessor = NULL WHERE parent_accessor = ?");
    this.setExpire = db.prepare("UPDATE tokens SET expire_time = ? WHERE accessor = ?");
    this.expired = db.prepare("SELECT accessor FROM tokens WHERE expire_time <= ? ORDER BY expire_time LIMIT ?");
    this.usedUp = db.prepare("SELECT accessor FROM tokens WHERE num_uses > 0 AND uses_left = 0 LIMIT ?");
    this.leasesFirst = db.prepare(
      "SELECT id FROM leases WHERE token_accessor = ? AND state != 'revoked' ORDER BY id LIMIT ?",
    );
    this.leasesAfter = db.prepare(
      "SELECT id FROM leases WHERE token_accessor = ? AND id > ? AND state != 'revoked' ORDER BY id LIMIT ?",
    );
  }

  async children(parentAccessor: string): Promise<string[]> {
    return (this.childRows.all(parentAccessor) as Array<{ accessor: string }>).map((r) => r.accessor);
  }

  async orphanChildren(parentAccessor: string): Promise<number> {
    return this.orphan.run(parentAccessor).changes;
  }

  async setExpireTime(accessor: string, expireTime: number): Promise<void> {
    this.setExpire.run(expireTime, accessor);
  }

  async dead(now: number, limit: number): Promise<string[]> {
    const rows = [...(this.expired.all(now, limit) as Array<{ accessor: string }>), ...(this.usedUp.all(limit) as Array<{ accessor: string }>)];
    return [...new Set(rows.map((r) => r.accessor))].slice(0, limit);
  }

  async leaseIds(accessor: string, after: string | null, limit: number): Promise<string[]> {
    const rows = (after === null ? this.leasesFirst.all(accessor, limit) : this.leasesAfter.all(accessor, after, limit)) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }
}

type Row = Record<string, string>;

export class SqliteSealedData implements SealedDataStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly keyring: Keyring,
    /** Re-sealing rewrites lease rows too: through the group commit, as every lease write. */
    private readonly writes: GroupCommit,
  ) {}

  private sealedMeta(): Array<{ key: string; value: string; aad: string }> {
    const rows = this.db.prepare("SELECT key, value FROM meta WHERE key = ? OR key LIKE 'sealed:%'").all(KEY_CHECK) as Array<{
      key: string;
      value: string;
    }>;
    return rows.map((r) => ({ ...r, aad: aad.meta(r.key) }));
  }

  async usage(): Promise<KeyUsage> {
    const byKey: Record<number, number> = {};
    for (const c of SEALED_COLUMNS) {
      const rows = this.db
        .prepare(`SELECT substr(${c.column}, 2, 4) AS k, COUNT(*) AS n FROM ${c.table} GROUP BY k`)
        .all() as Array<{ k: Buffer; n: number }>;
      for (const r of rows) {
        const id = Buffer.from(r.k).readUInt32BE(0);
        byKey[id] = (byKey[id] ?? 0) + r.n;
      }
    }
    for (const m of this.sealedMeta()) {
      const id = Keyring.keyIdOf(Buffer.from(m.value, "base64"));
      byKey[id] = (byKey[id] ?? 0) + 1;
    }
    return { byKey };
  }

  async resealBatch(limit: number): Promise<number> {
    const active = Buffer.alloc(4);
    active.writeUInt32BE(this.keyring.activeId, 0);
    let done = 0;
    for (const c of SEALED_COLUMNS) {
      if (done >= limit) break;
      const keyCols = c.keys.join(", ");
      const rows = this.db
        .prepare(`SELECT ${keyCols}, ${c.column} AS sealed FROM ${c.table} WHERE substr(${c.column}, 2, 4) != ? LIMIT ?`)
        .all(active, limit - done) as Array<Row & { sealed: Buffer }>;
      const where = c.keys.map((k) => `${k} = ?`).join(" AND ");
      // Compare-and-set on the old value: a write that landed meanwhile (already under the new key) is kept.
      const update = this.db.prepare(`UPDATE ${c.table} SET ${c.column} = ? WHERE ${where} AND ${c.column} = ?`);
      await this.writes.run(() => {
        for (const r of rows) {
          const bound = c.aad(r);
          const fresh = this.keyring.seal(this.keyring.open(r.sealed, bound), bound);
          update.run(fresh, ...c.keys.map((k) => r[k]), r.sealed);
        }
      });
      done += rows.length;
    }
    if (done < limit) {
      const update = this.db.prepare("UPDATE meta SET value = ? WHERE key = ? AND value = ?");
      for (const m of this.sealedMeta()) {
        const sealed = Buffer.from(m.value, "base64");
        if (Keyring.keyIdOf(sealed) === this.keyring.activeId) continue;
        update.run(this.keyring.seal(this.keyring.open(sealed, m.aad), m.aad).toString("base64"), m.key, m.value);
        done++;
      }
    }
    return done;
  }
}
