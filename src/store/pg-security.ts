// The PostgreSQL side of the security tables (as sqlite-security.ts):
// policies, quotas, audit devices, sealed settings, the token tree,
// re-encryption for key rotation; and what replicas know of each other.
import { Keyring } from "./encryption.js";
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
import type { PgDb, Tx } from "./pg-db.js";
import type {
  AuditDeviceRecord,
  AuditDeviceStore,
  ClusterStore,
  IntentRecord,
  KeyUsage,
  PolicyRecord,
  PolicyStore,
  QuotaRecord,
  QuotaStore,
  SealedDataStore,
  SealedSettingStore,
  TokenTreeStore,
} from "./types.js";

/** Shared configuration changed: bumped in the same transaction as the change. */
export async function bumpConfig(tx: Tx): Promise<void> {
  await tx.query({ name: "config_bump", text: "UPDATE config_version SET version = version + 1" });
}

/** Deletes one configuration row by its key; bumps the version when a row went. */
async function deleteConfig(db: PgDb, sql: string, key: string): Promise<boolean> {
  return db.tx(async (tx) => {
    const r = await tx.query(sql, [key]);
    if (r.rowCount > 0) await bumpConfig(tx);
    return r.rowCount > 0;
  });
}

export class PgPolicies implements PolicyStore {
  constructor(private readonly db: PgDb) {}

  async get(name: string): Promise<PolicyRecord | undefined> {
    const { rows } = await this.db.query<PolicyRow>(
      { name: "policy_get", text: "SELECT name, text, updated_at FROM policies WHERE name = $1" },
      [name],
    );
    const r = rows[0];
    return r ? policyRecord(r) : undefined;
  }

  async list(): Promise<PolicyRecord[]> {
    const { rows } = await this.db.query<PolicyRow>("SELECT name, text, updated_at FROM policies ORDER BY name");
    return rows.map(policyRecord);
  }

  async put(policy: PolicyRecord): Promise<void> {
    await this.db.tx(async (tx) => {
      await tx.query(
        `INSERT INTO policies (name, text, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at`,
        [policy.name, policy.text, policy.updatedAt],
      );
      await bumpConfig(tx);
    });
  }

  async delete(name: string): Promise<boolean> {
    return deleteConfig(this.db, "DELETE FROM policies WHERE name = $1", name);
  }
}

export class PgQuotas implements QuotaStore {
  constructor(private readonly db: PgDb) {}

  async list(): Promise<QuotaRecord[]> {
    const { rows } = await this.db.query<{ name: string; config: string }>("SELECT name, config FROM quotas ORDER BY name");
    return rows.map((r) => quotaRecord(r.name, r.config));
  }

  async put(quota: QuotaRecord): Promise<void> {
    await this.db.tx(async (tx) => {
      await tx.query("INSERT INTO quotas (name, config) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET config = excluded.config", [
        quota.name,
        quotaConfigJson(quota),
      ]);
      await bumpConfig(tx);
    });
  }

  async delete(name: string): Promise<boolean> {
    return deleteConfig(this.db, "DELETE FROM quotas WHERE name = $1", name);
  }
}

export class PgAuditDevices implements AuditDeviceStore {
  constructor(
    private readonly db: PgDb,
    private readonly keyring: Keyring,
  ) {}

  async list(): Promise<AuditDeviceRecord[]> {
    const { rows } = await this.db.query<{ path: string; config: Buffer }>("SELECT path, config FROM audit_devices ORDER BY path");
    return rows.map((r) => auditDeviceRecord(r.path, r.config, this.keyring));
  }

  async insert(device: AuditDeviceRecord): Promise<void> {
    const sealed = sealAuditDeviceConfig(device, this.keyring);
    await this.db.tx(async (tx) => {
      await tx.query("INSERT INTO audit_devices (path, config) VALUES ($1, $2)", [device.path, sealed]);
      await bumpConfig(tx);
    });
  }

  async delete(path: string): Promise<boolean> {
    return deleteConfig(this.db, "DELETE FROM audit_devices WHERE path = $1", path);
  }
}

/** Settings live in the meta table, sealed, under settingKey(name) (as in SQLite, but BYTEA, not base64). */
export class PgSettings implements SealedSettingStore {
  constructor(
    private readonly db: PgDb,
    private readonly keyring: Keyring,
  ) {}

  async get(name: string): Promise<Buffer | undefined> {
    const key = settingKey(name);
    const { rows } = await this.db.query<{ value: Buffer }>("SELECT value FROM meta WHERE key = $1", [key]);
    const row = rows[0];
    return row ? this.keyring.open(row.value, aad.meta(key)) : undefined;
  }

  async putIfAbsent(name: string, value: Buffer): Promise<Buffer> {
    const key = settingKey(name);
    // Of two replicas racing here, one insert wins; both read back the winner's value.
    await this.db.query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [
      key,
      this.keyring.seal(value, aad.meta(key)),
    ]);
    return (await this.get(name)) as Buffer;
  }
}

export class PgTokenTree implements TokenTreeStore {
  constructor(private readonly db: PgDb) {}

  async children(parentAccessor: string): Promise<string[]> {
    const { rows } = await this.db.query<{ accessor: string }>("SELECT accessor FROM tokens WHERE parent_accessor = $1", [parentAccessor]);
    return rows.map((r) => r.accessor);
  }

  async orphanChildren(parentAccessor: string): Promise<number> {
    return (await this.db.query("UPDATE tokens SET parent_accessor = NULL WHERE parent_accessor = $1", [parentAccessor])).rowCount;
  }

  async setExpireTime(accessor: string, expireTime: number): Promise<void> {
    await this.db.query("UPDATE tokens SET expire_time = $2 WHERE accessor = $1", [accessor, expireTime]);
  }

  async dead(now: number, limit: number): Promise<string[]> {
    const expired = await this.db.query<{ accessor: string }>(
      "SELECT accessor FROM tokens WHERE expire_time <= $1 ORDER BY expire_time LIMIT $2",
      [now, limit],
    );
    const usedUp = await this.db.query<{ accessor: string }>("SELECT accessor FROM tokens WHERE num_uses > 0 AND uses_left = 0 LIMIT $1", [
      limit,
    ]);
    return [...new Set([...expired.rows, ...usedUp.rows].map((r) => r.accessor))].slice(0, limit);
  }

  async leaseIds(accessor: string, after: string | null, limit: number): Promise<string[]> {
    const { rows } =
      after === null
        ? await this.db.query<{ id: string }>(
            "SELECT id FROM leases WHERE token_accessor = $1 AND state != 'revoked' ORDER BY id LIMIT $2",
            [accessor, limit],
          )
        : await this.db.query<{ id: string }>(
            "SELECT id FROM leases WHERE token_accessor = $1 AND id > $2 AND state != 'revoked' ORDER BY id LIMIT $3",
            [accessor, after, limit],
          );
    return rows.map((r) => r.id);
  }
}

type Row = Record<string, string>;

/** Every sealed column: the common ones, and meta's key check and sealed settings. */
const PG_SEALED_COLUMNS: ReadonlyArray<{ table: string; column: string; keys: readonly string[]; where: string; aad: (r: Row) => string }> = [
  ...SEALED_COLUMNS.map((c) => ({ ...c, where: "TRUE" })),
  { table: "meta", column: "value", keys: ["key"], where: `(key = '${KEY_CHECK}' OR key LIKE '${settingKey("%")}')`, aad: (r: Row) => aad.meta(String(r.key)) },
];

export class PgSealedData implements SealedDataStore {
  constructor(
    private readonly db: PgDb,
    private readonly keyring: Keyring,
  ) {}

  async usage(): Promise<KeyUsage> {
    const byKey: Record<number, number> = {};
    for (const c of PG_SEALED_COLUMNS) {
      const { rows } = await this.db.query<{ k: Buffer; n: number }>(
        `SELECT substring(${c.column} from 2 for 4) AS k, COUNT(*) AS n FROM ${c.table} WHERE ${c.where} GROUP BY k`,
      );
      for (const r of rows) {
        const id = r.k.readUInt32BE(0);
        byKey[id] = (byKey[id] ?? 0) + r.n;
      }
    }
    return { byKey };
  }

  async resealBatch(limit: number): Promise<number> {
    const active = Buffer.alloc(4);
    active.writeUInt32BE(this.keyring.activeId, 0);
    let done = 0;
    for (const c of PG_SEALED_COLUMNS) {
      if (done >= limit) break;
      const { rows } = await this.db.query<Row & { sealed: Buffer }>(
        `SELECT ${c.keys.join(", ")}, ${c.column} AS sealed FROM ${c.table}
         WHERE ${c.where} AND substring(${c.column} from 2 for 4) <> $1 LIMIT $2`,
        [active, limit - done],
      );
      if (rows.length === 0) continue;
      const where = c.keys.map((k, i) => `${k} = $${i + 2}`).join(" AND ");
      // Compare-and-set on the old value: a write that landed meanwhile (already under the new key) is kept.
      const update = `UPDATE ${c.table} SET ${c.column} = $1 WHERE ${where} AND ${c.column} = $${c.keys.length + 2}`;
      await this.db.tx(async (tx) => {
        for (const r of rows) {
          const bound = c.aad(r);
          const fresh = this.keyring.seal(this.keyring.open(r.sealed, bound), bound);
          await tx.query(update, [fresh, ...c.keys.map((k) => r[k]), r.sealed]);
        }
      });
      done += rows.length;
    }
    return done;
  }
}

export class PgCluster implements ClusterStore {
  constructor(
    private readonly db: PgDb,
    /** The intents store answers (it opens sealed intents). */
    readonly orphanedIntents: (limit: number) => Promise<IntentRecord[]>,
    readonly revokeClaimTimeoutMs: number,
  ) {}

  async heartbeat(replicaId: string, now: number): Promise<void> {
    await this.db.query(
      {
        name: "replica_heartbeat",
        text: `INSERT INTO replicas (id, last_heartbeat) VALUES ($1, $2)
               ON CONFLICT (id) DO UPDATE SET last_heartbeat = GREATEST(replicas.last_heartbeat, excluded.last_heartbeat)`,
      },
      [replicaId, now],
    );
  }

  async otherLiveReplicas(replicaId: string, since: number): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      { name: "replica_others", text: "SELECT id FROM replicas WHERE id <> $1 AND last_heartbeat >= $2 ORDER BY id" },
      [replicaId, since],
    );
    return rows.map((r) => r.id);
  }

  async leave(replicaId: string): Promise<void> {
    await this.db.query("DELETE FROM replicas WHERE id = $1", [replicaId]);
  }

  async configVersion(): Promise<number> {
    const { rows } = await this.db.query<{ version: number }>({ name: "config_version", text: "SELECT version FROM config_version" });
    return rows[0]?.version ?? 0;
  }
}
