// The CLI bundle (dist/cli/cli.js) and the code cache the build keeps beside
// it: the cache is one V8 takes from a plain `node`, and a CLI whose cache V8
// refuses (other V8 flags) or that has none prints the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LESSOR_BIN, REPO_ROOT, tempDir } from "../helpers/processes.js";

/** Runs node with these arguments, without NODE_OPTIONS (whose V8 flags would make V8 refuse the cache). */
function node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const base = { ...process.env, ...env };
    delete base.NODE_OPTIONS;
    const proc = spawn(process.execPath, args, { env: base, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

// What src/cli/bundle-loader.cts checks, then what V8 says of the cache.
const CHECK_CACHE = `
const { readFileSync } = require("node:fs");
const { Script } = require("node:vm");
const { crc32 } = require("node:zlib");
const [bundle] = process.argv.slice(1);
const source = readFileSync(bundle);
const cache = readFileSync(bundle + ".cache");
if (cache.readUInt32BE(0) !== crc32(source)) { console.log("stale"); process.exit(); }
const script = new Script(source.toString("utf8"), { filename: bundle, cachedData: cache.subarray(4) });
console.log(script.cachedDataRejected ? "refused" : "taken");
`;

test("the CLI bundle's code cache is taken by V8, and the CLI is the same without it", async () => {
  const bundle = join(REPO_ROOT, "dist", "cli", "cli.js");
  const check = await node(["-e", CHECK_CACHE, bundle]);
  assert.deepEqual([check.code, check.stdout, check.stderr], [0, "taken\n", ""]);

  const home = tempDir("home");
  // Nothing listens on port 1: the read fails to connect, after the whole client has run.
  const env = { HOME: home, LESSOR_ADDR: "127.0.0.1:1", LESSOR_TOKEN: "" };
  const version = `Lessor v${(JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version}\n`;
  for (const args of [["version"], ["read", "secret/x"], ["raed", "secret/x"]]) {
    const withCache = await node([LESSOR_BIN, ...args], env);
    // Another stack size is another set of V8 flags: V8 refuses the cache, the bundle is compiled from its source.
    const refused = await node(["--stack-size=2000", LESSOR_BIN, ...args], env);
    assert.deepEqual(refused, withCache, args.join(" "));
    if (args[0] === "version") assert.deepEqual([withCache.code, withCache.stdout], [0, version]);
    else assert.notEqual(withCache.code, 0);
  }
});
