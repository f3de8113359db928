// What the approle method keeps, and how: roles, the role_id index, and
// secret_ids stored only as an HMAC under a per-mount key (the value itself
// is shown once, when made). Spending a secret_id's use is a compare-and-swap,
// so two replicas serving logins at once never spend the same last use twice.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { z } from "zod";
import { Code, LessorError } from "../../errors.js";
import type { EngineStorage } from "../../engines/framework/types.js";
import { tokenSettingsSchema } from "../common.js";

export const roleSchema = tokenSettingsSchema.extend({
  role_id: z.string(),
  bind_secret_id: z.boolean().default(true),
  /** Seconds; 0: secret_ids never expire. */
  secret_id_ttl: z.number().default(0),
  /** 0: unlimited. */
  secret_id_num_uses: z.number().default(0),
  secret_id_bound_cidrs: z.array(z.string()).default([]),
});
export type Role = z.infer<typeof roleSchema>;

export const secretIdSchema = z.object({
  secret_id_accessor: z.string(),
  /** Unix milliseconds. */
  creation_time: z.number(),
  /** Unix milliseconds; 0: never. */
  expiration_time: z.number(),
  /** Uses it was made with; 0: unlimited. */
  num_uses: z.number(),
  /** Uses left (meaningful when num_uses > 0). */
  uses_left: z.number(),
  cidr_list: z.array(z.string()).default([]),
  token_bound_cidrs: z.array(z.string()).default([]),
  metadata: z.record(z.string(), z.string()).default({}),
});
export type SecretIdEntry = z.infer<typeof secretIdSchema>;

const saltSchema = z.object({ key: z.string() });
const roleIdIndexSchema = z.object({ name: z.string() });
const accessorSchema = z.object({ hmac: z.string() });

/** Attempts at a compare-and-swap before giving up on a value others keep changing. */
const SWAP_ATTEMPTS = 16;

export type SpendResult = "spent" | "gone";

export class AppRoleStore {
  private salt: Buffer | undefined;

  constructor(private readonly storage: EngineStorage) {}

  async role(name: string): Promise<Role | undefined> {
    const stored = await this.storage.get(`role/${name}`);
    return stored === undefined ? undefined : roleSchema.parse(stored);
  }

  async roleNames(): Promise<string[]> {
    return this.storage.list("role/");
  }

  /** Stores a role, moving its role_id index when the role_id changed; ALREADY_EXISTS when another role has the role_id. */
  async putRole(name: string, role: Role, previousRoleId: string | undefined): Promise<void> {
    if (previousRoleId !== role.role_id) {
      const key = `role_id/${await this.hmac(role.role_id)}`;
      const claimed = await this.storage.compareAndSwap(key, undefined, { name });
      if (!claimed) {
        const owner = roleIdIndexSchema.safeParse(await this.storage.get(key));
        if (!owner.success || owner.data.name !== name) throw LessorError.invalidField("role_id", "is already the role_id of another role");
      }
      if (previousRoleId !== undefined) await this.storage.delete(`role_id/${await this.hmac(previousRoleId)}`);
    }
    await this.storage.put(`role/${name}`, role);
  }

  /** Deletes a role, its role_id index and every secret_id it has. */
  async deleteRole(name: string): Promise<void> {
    const role = await this.role(name);
    if (role === undefined) return;
    for (const accessor of await this.storage.list(`accessor/${name}/`)) await this.destroyByAccessor(name, accessor);
    await this.storage.delete(`role_id/${await this.hmac(role.role_id)}`);
    await this.storage.delete(`role/${name}`);
  }

  /** The name of the role with this role_id, if any. */
  async roleNameFor(roleId: string): Promise<string | undefined> {
    const stored = await this.storage.get(`role_id/${await this.hmac(roleId)}`);
    const parsed = roleIdIndexSchema.safeParse(stored);
    return parsed.success ? parsed.data.name : undefined;
  }

  /** Makes a secret_id for a role: the value (shown once) and what is stored of it. */
  async createSecretId(roleName: string, entry: Omit<SecretIdEntry, "secret_id_accessor">): Promise<{ secretId: string; entry: SecretIdEntry }> {
    const secretId = randomUUID();
    const full: SecretIdEntry = { ...entry, secret_id_accessor: randomUUID() };
    const hmac = await this.hmac(secretId);
    await this.storage.put(`secret_id/${roleName}/${hmac}`, full);
    await this.storage.put(`accessor/${roleName}/${full.secret_id_accessor}`, { hmac });
    return { secretId, entry: full };
  }

  async secretId(roleName: string, secretId: string): Promise<SecretIdEntry | undefined> {
    return this.entryAt(`secret_id/${roleName}/${await this.hmac(secretId)}`);
  }

  async secretIdByAccessor(roleName: string, accessor: string): Promise<SecretIdEntry | undefined> {
    const hmac = await this.accessorHmac(roleName, accessor);
    return hmac === undefined ? undefined : this.entryAt(`secret_id/${roleName}/${hmac}`);
  }

  async accessors(roleName: string): Promise<string[]> {
    return this.storage.list(`accessor/${roleName}/`);
  }

  /** Destroys a secret_id by its value; false when there was none. */
  async destroySecretId(roleName: string, secretId: string): Promise<boolean> {
    const entry = await this.secretId(roleName, secretId);
    return entry !== undefined && this.destroyByAccessor(roleName, entry.secret_id_accessor);
  }

  /** Destroys a secret_id by its accessor; false when there was none. */
  async destroyByAccessor(roleName: string, accessor: string): Promise<boolean> {
    const hmac = await this.accessorHmac(roleName, accessor);
    await this.storage.delete(`accessor/${roleName}/${accessor}`);
    return hmac !== undefined && (await this.storage.delete(`secret_id/${roleName}/${hmac}`));
  }

  /**
   * Spends one use of a secret_id, atomically across replicas: the last use
   * deletes it. "gone" when it no longer exists (used up, destroyed or
   * expired meanwhile). `entry` is the value the caller read.
   */
  async spend(roleName: string, secretId: string, entry: SecretIdEntry): Promise<SpendResult> {
    const key = `secret_id/${roleName}/${await this.hmac(secretId)}`;
    let current: SecretIdEntry | undefined = entry;
    for (let attempt = 0; attempt < SWAP_ATTEMPTS; attempt++) {
      if (current === undefined) return "gone";
      if (current.num_uses === 0) return "spent";
      const last = current.uses_left <= 1;
      if (await this.storage.compareAndSwap(key, current, last ? undefined : { ...current, uses_left: current.uses_left - 1 })) {
        if (last) await this.storage.delete(`accessor/${roleName}/${current.secret_id_accessor}`);
        return "spent";
      }
      current = await this.entryAt(key);
    }
    throw new LessorError(Code.ABORTED, "too many logins at once with this secret_id; try again", { reason: "SECRET_ID_CONTENDED" });
  }

  /** Deletes a secret_id that has expired (as a login or a tidy finds it). */
  async expire(roleName: string, secretId: string, entry: SecretIdEntry): Promise<void> {
    const key = `secret_id/${roleName}/${await this.hmac(secretId)}`;
    if (await this.storage.compareAndSwap(key, entry, undefined)) await this.storage.delete(`accessor/${roleName}/${entry.secret_id_accessor}`);
  }

  /** Deletes every expired secret_id of every role; returns how many. */
  async tidy(now: number): Promise<number> {
    let removed = 0;
    for (const name of await this.roleNames()) {
      for (const accessor of await this.accessors(name)) {
        const entry = await this.secretIdByAccessor(name, accessor);
        if (entry === undefined || (entry.expiration_time > 0 && entry.expiration_time <= now)) {
          await this.destroyByAccessor(name, accessor);
          removed++;
        }
      }
    }
    return removed;
  }

  private async entryAt(key: string): Promise<SecretIdEntry | undefined> {
    const stored = await this.storage.get(key);
    return stored === undefined ? undefined : secretIdSchema.parse(stored);
  }

  private async accessorHmac(roleName: string, accessor: string): Promise<string | undefined> {
    const parsed = accessorSchema.safeParse(await this.storage.get(`accessor/${roleName}/${accessor}`));
    return parsed.success ? parsed.data.hmac : undefined;
  }

  /** HMAC-SHA256 under the mount's own key, made at first use (once, whichever replica is first). */
  private async hmac(value: string): Promise<string> {
    if (this.salt === undefined) {
      const fresh = { key: randomBytes(32).toString("base64") };
      await this.storage.compareAndSwap("salt", undefined, fresh);
      this.salt = Buffer.from(saltSchema.parse(await this.storage.get("salt")).key, "base64");
    }
    return createHmac("sha256", this.salt).update(value).digest("hex");
  }
}
