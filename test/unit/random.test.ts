// Pooled random bytes and time-ordered ids: fresh bytes every time (across
// refills of the pool), and ids that are UUIDv7, unique, and in the order of
// the milliseconds they were made in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pooledRandomBytes, timeOrderedId } from "../../src/util/random.js";

test("pooled random bytes are never handed out twice, across refills", () => {
  const seen = new Set<string>();
  // 12-byte draws (GCM IVs) over several 4 KiB refills, one that straddles the pool's end included.
  for (let i = 0; i < 2_000; i++) {
    const iv = pooledRandomBytes(12).toString("hex");
    assert.ok(!seen.has(iv), `IV ${iv} came twice`);
    seen.add(iv);
  }
  assert.throws(() => pooledRandomBytes(4097), RangeError);
});

test("time-ordered ids are UUIDv7, unique, and sort in the order they were made", async () => {
  const first = Array.from({ length: 5_000 }, () => timeOrderedId());
  assert.equal(new Set(first).size, first.length);
  // In the order they were made, several to a millisecond as they are here.
  assert.deepEqual([...first].sort(), first);
  for (const id of first) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = timeOrderedId();
  // Every id made before the pause sorts before one made after it.
  assert.ok(first.every((id) => id < later));
  const msOf = (id: string) => parseInt(id.replace(/-/g, "").slice(0, 12), 16);
  assert.ok(Math.abs(msOf(later) - Date.now()) < 1_000);
});
