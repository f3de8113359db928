// `lessor version` (and `lessor --version`, `-version`, `-v`): "Lessor v0.1.0",
// as Vault prints its own, from the package's manifest.
import { readFileSync } from "node:fs";
import { defineCommand, processIo as io } from "../context.js";

/**
 * The version in Lessor's package.json: the nearest one up from this module
 * named "lessor" (the module may be compiled under dist/src/cli/commands/ or
 * bundled under dist/cli/).
 */
export function lessorVersion(): string {
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
  throw new Error("Lessor's package.json was not found above the CLI");
}

export const versionCommand = defineCommand({
  command: "version",
  describe: "Print Lessor's version",
  builder: (y) => y,
  handler: () => io.out(`Lessor v${lessorVersion()}`),
});
