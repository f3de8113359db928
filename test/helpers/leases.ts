// Many leases, fast: written straight into a stopped server's store (the
// real store API, SQLite or PostgreSQL as the pass runs, sealed with the
// server's own key), each backed by a real IAM user in the emulator made with
// its bulk `seed`. Issuing thousands of leases through the API would be slow
// and prove nothing more.
import assert from "node:assert/strict";
import { join } from "node:path";
import { LeaseState, type LessorClient } from "@lessor/client";
import { hashToken } from "../../src/auth/tokens.js";
import { INLINE_POLICY_NAME } from "../../src/engines/aws/iam-user.js";
import { Keyring } from "../../src/store/encryption.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/types.js";
import type { AwsEmulator } from "./aws.js";
import { EC2_POLICY } from "./aws.js";
import { storeOptions } from "./store.js";

/** The store of the (stopped) server whose data directory is `dataDir`, as it opens it: SQLite or, on the PostgreSQL pass, its database. */
export async function openServerStore(dataDir: string): Promise<Store> {
  return openStore({ dataDir, ...(await storeOptions(dataDir)), keyring: Keyring.loadOrCreate(join(dataDir, "lessor.key")) });
}

/** The accessor of the mount at `path` (e.g. "aws/"). */
export async function mountAccessor(client: LessorClient, path: string): Promise<string> {
  const mount = (await client.mounts.list()).find((m) => m.path === path);
  assert.ok(mount, `no mount at ${path}`);
  return mount.accessor;
}

export interface SeedLeasesOptions {
  dataDir: string;
  emulator: AwsEmulator;
  mountAccessor: string;
  /** Lease ids are `${idPrefix}<n>`; IAM users `${userPrefix}<n>`. */
  idPrefix: string;
  userPrefix: string;
  count: number;
  /** Expiry from now. */
  ttlMs: number;
}

/** Writes `count` aws leases (server stopped) and makes their IAM users in the emulator. Returns the ids. */
export async function seedAwsLeases(o: SeedLeasesOptions): Promise<string[]> {
  const users = o.emulator.seed({ users: o.count, prefix: o.userPrefix, policyDocument: EC2_POLICY, policyName: INLINE_POLICY_NAME });
  const store = await openServerStore(o.dataDir);
  const ids: string[] = [];
  try {
    const now = Date.now();
    for (let i = 0; i < users.length; i++) {
      const user = users[i] as (typeof users)[number];
      const id = `${o.idPrefix}${String(i).padStart(6, "0")}`;
      ids.push(id);
      await store.leases.insertFromIntent(
        {
          id,
          mountAccessor: o.mountAccessor,
          secretType: "access_keys",
          internal: { username: user.userName, access_key_id: user.accessKeyId, inline_policy: true, policy_arns: [], groups: [] },
          issueTime: now,
          expireTime: now + o.ttlMs,
          maxExpireTime: now + o.ttlMs,
          ttlSeconds: Math.round(o.ttlMs / 1000),
          renewable: true,
          tokenAccessor: null,
        },
        null,
      );
    }
  } finally {
    await store.close();
  }
  return ids;
}

/** Adds a token with the given policies to a stopped server's store. */
export async function addToken(dataDir: string, token: string, policies: string[]): Promise<void> {
  const store = await openServerStore(dataDir);
  try {
    await store.tokens.insert(hashToken(token), {
      accessor: `test-${policies.join("-")}`,
      policies,
      displayName: "test",
      parentAccessor: null,
      createdAt: Date.now(),
      expireTime: null,
      ttlSeconds: 0,
      maxExpireTime: null,
      renewable: false,
      numUses: 0,
      usesLeft: 0,
      meta: {},
      boundCidrs: [],
    });
  } finally {
    await store.close();
  }
}

/** Number of leases under `prefix` in each state, through ListLeases. */
export async function countStates(client: LessorClient, prefix: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = { active: 0, revoking: 0, revoked: 0, irrevocable: 0 };
  const names: Record<number, string> = {
    [LeaseState.LEASE_STATE_ACTIVE]: "active",
    [LeaseState.LEASE_STATE_REVOKING]: "revoking",
    [LeaseState.LEASE_STATE_REVOKED]: "revoked",
    [LeaseState.LEASE_STATE_IRREVOCABLE]: "irrevocable",
  };
  for await (const lease of client.leases.listAll(prefix, { pageSize: 1000 })) {
    const name = names[lease.state] ?? "unspecified";
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Polls `check` until it returns true, or fails after `timeoutMs` with `what` and the last value seen. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T>, check: (value: T) => boolean, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (check(last)) return last;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
