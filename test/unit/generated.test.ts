// Generated code is generated once: one tree (clients/ts/src/gen), imported by
// the server as @lessor/client/gen/...; src/gen holds only what is the
// server's own (the reflection descriptor set).
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** Every file under `root`, as paths relative to it. */
function files(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(root, path) : [relative(root, path)];
  });
}

test("no generated file exists twice: the server keeps only its descriptor set", () => {
  assert.deepEqual(files(join(REPO_ROOT, "src/gen")), ["descriptor_set.ts"]);
  const shared = files(join(REPO_ROOT, "clients/ts/src/gen"));
  assert.ok(shared.includes(join("lessor", "v1", "secrets.ts")), "the shared tree holds the API's stubs");
  assert.ok(!shared.includes("descriptor_set.ts"), "the client package carries no server-only code");
});
