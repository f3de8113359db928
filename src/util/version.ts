// Lessor's version, from the package's manifest (what `lessor version`,
// sys/health and sys/seal-status report, as Vault reports its own).
import { readFileSync } from "node:fs";

let cached: string | undefined;

/**
 * The version in Lessor's package.json: the nearest one up from this module
 * named "lessor" (the module is compiled under dist/src/util/, or bundled
 * into the CLI under dist/cli/).
 */
export function lessorVersion(): string {
  cached ??= findVersion();
  return cached;
}

function findVersion(): string {
  for (let dir = new URL(".", import.meta.url); dir.pathname !== "/"; dir = new URL("..", dir)) {
    let manifest: unknown;
    try {
      manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8"));
    } catch {
      continue;
    }
    if (typeof manifest === "object" && manifest !== null && "name" in manifest && manifest.name === "lessor" && "version" in manifest && typeof manifest.version === "string") {
      return manifest.version;
    }
  }
  throw new Error("Lessor's package.json was not found above the code");
}
