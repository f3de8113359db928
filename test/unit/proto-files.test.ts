// What proto/README.md promises about the protos: googleapis' files are
// byte-identical to the upstream release named there, and gRPC's are the ones
// their packages serve.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const PROTO = join(REPO_ROOT, "proto");

test("proto/google/rpc is googleapis' release as proto/README.md names it, byte for byte", () => {
  const readme = readFileSync(join(PROTO, "README.md"), "utf8");
  const listed = new Map([...readme.matchAll(/^\| `(google\/rpc\/[a-z_]+\.proto)` \| `([0-9a-f]{64})` \|$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const onDisk = readdirSync(join(PROTO, "google", "rpc")).map((f) => `google/rpc/${f}`);
  assert.deepEqual([...listed.keys()].sort(), onDisk.sort(), "proto/README.md lists every file of proto/google/rpc");
  for (const [file, sha256] of listed) {
    assert.equal(createHash("sha256").update(readFileSync(join(PROTO, file))).digest("hex"), sha256, `${file} differs from upstream`);
  }
});

test("proto/grpc holds the very files gRPC's health and reflection packages serve", () => {
  const require = createRequire(import.meta.url);
  const health = dirname(require.resolve("grpc-health-check/package.json"));
  const reflection = dirname(require.resolve("@grpc/reflection/package.json"));
  const copies: Record<string, string> = {
    "grpc/health/v1/health.proto": join(health, "proto/health/v1/health.proto"),
    "grpc/reflection/v1/reflection.proto": join(reflection, "build/proto/grpc/reflection/v1/reflection.proto"),
    "grpc/reflection/v1alpha/reflection.proto": join(reflection, "build/proto/grpc/reflection/v1alpha/reflection.proto"),
  };
  for (const [file, upstream] of Object.entries(copies)) {
    assert.ok(readFileSync(join(PROTO, file)).equals(readFileSync(upstream)), `${file} differs from ${upstream}`);
  }
});
