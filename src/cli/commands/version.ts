// `lessor version` (and `lessor --version`, `-version`, `-v`): "Lessor v0.1.0",
// as Vault prints its own, from the package's manifest.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { defineCommand, processIo as io } from "../context.js";

/** The version in package.json (dist/src/cli/commands/ is four levels below the package). */
export function lessorVersion(): string {
  const manifest = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")));
  return manifest.version;
}

export const versionCommand = defineCommand({
  command: "version",
  describe: "Print Lessor's version",
  builder: (y) => y,
  handler: () => io.out(`Lessor v${lessorVersion()}`),
});
