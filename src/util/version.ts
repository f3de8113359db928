// Lessor's version, from the package's manifest (what sys/health and
// sys/seal-status report, as Vault reports its own).
import { readFileSync } from "node:fs";
import { z } from "zod";

let cached: string | undefined;

/** The version in package.json (dist/src/util/ is three levels below the package). */
export function lessorVersion(): string {
  cached ??= z.object({ version: z.string() }).parse(JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"))).version;
  return cached;
}
