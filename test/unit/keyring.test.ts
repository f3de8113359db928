import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "../../src/store/encryption.js";

test("sealed values open only with the same key and the same row", () => {
  const ring = Keyring.generate();
  const sealed = ring.sealJson({ secret_key: "s3cr3t" }, "leases:a");
  assert.ok(!sealed.toString("latin1").includes("s3cr3t"));
  assert.deepEqual(ring.openJson(sealed, "leases:a"), { secret_key: "s3cr3t" });
  assert.throws(() => ring.openJson(sealed, "leases:b"), /failed authentication/);
  assert.throws(() => Keyring.generate().openJson(sealed, "leases:a"), /failed authentication/);
  const tampered = Buffer.from(sealed);
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
  assert.throws(() => ring.open(tampered, "leases:a"), /failed authentication/);
});

test("the key file is created owner-only and read back", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "lessor-key-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "lessor.key");
  const first = Keyring.loadOrCreate(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const second = Keyring.loadOrCreate(path);
  assert.equal(first.fingerprint(), second.fingerprint());
  assert.ok(JSON.parse(readFileSync(path, "utf8")).keys["1"]);
});
