// Runs the CLI bundle (dist/cli/cli.js, made by scripts/bundle-cli.js) with
// the V8 code cache the build made beside it (dist/cli/cli.js.cache): Node 20
// keeps no compiled code between runs, for ES modules or CommonJS, and
// compiling the bundle was the largest part of `lessor read`'s start-up.
//
// The cache is used only when it was made from the bundle as it is now (a
// CRC-32 of the script, kept at its head); V8 then refuses one made by another
// Node version or with other V8 flags. Missing, stale or refused, the bundle
// is compiled from its source as it would be without a cache: slower, the
// same result. Nothing is written here at run time; `npm run build` makes
// the cache (scripts/cli-code-cache.js runs the bundle once to make it).
//
// CommonJS, as bin/lessor.js (bin/package.json): a short command then never
// starts Node's ES module loader, which costs a few milliseconds of its own.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Script } from "node:vm";
import { crc32 as zlibCrc32 } from "node:zlib";

/** The bundle: dist/cli/cli.js, from this module's dist/src/cli/. */
const BUNDLE = join(__dirname, "..", "..", "cli", "cli.js");
const BUNDLE_URL = pathToFileURL(BUNDLE);
const CACHE = `${BUNDLE}.cache`;
/** The cache file: the bundle's CRC-32 (4 bytes, big-endian), then V8's data. */
const CRC_BYTES = 4;

/** What the bundle is: a function taking what a CommonJS module gets, and import.meta.url and import() (see scripts/bundle-cli.js). */
type BundleWrapper = (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string,
  importMetaUrl: string,
  dynamicImport: (specifier: string) => Promise<unknown>,
) => void;

interface BundleExports {
  run(): Promise<void>;
}

function isWrapper(value: unknown): value is BundleWrapper {
  return typeof value === "function";
}

function isBundleExports(value: object): value is BundleExports {
  return "run" in value && typeof value.run === "function";
}

/** zlib.crc32 came with Node 20.15; without it, no cache (it could not be checked). */
function crc32(data: Buffer): number | undefined {
  return typeof zlibCrc32 === "function" ? zlibCrc32(data) : undefined;
}

/** The cached data for this exact bundle, if the build left one. */
function cachedDataFor(source: Buffer): Buffer | undefined {
  const crc = crc32(source);
  if (crc === undefined) return undefined;
  let cache: Buffer;
  try {
    cache = readFileSync(CACHE);
  } catch {
    return undefined;
  }
  if (cache.length <= CRC_BYTES || cache.readUInt32BE(0) !== crc) return undefined;
  return cache.subarray(CRC_BYTES);
}

/** Modules outside the bundle: relative ones from the bundle's directory (dist/src/...), packages from node_modules as usual. */
function dynamicImport(specifier: string): Promise<unknown> {
  return import(specifier.startsWith(".") ? new URL(specifier, BUNDLE_URL).href : specifier);
}

/**
 * Loads the bundle and runs the command line. With `makeCache`, it compiles
 * afresh and, once the command has run (so the code it ran is compiled
 * too), writes the cache: for the build only.
 */
export async function runBundle(options: { makeCache?: boolean } = {}): Promise<void> {
  const source = readFileSync(BUNDLE);
  const script = new Script(source.toString("utf8"), {
    filename: BUNDLE,
    cachedData: options.makeCache ? undefined : cachedDataFor(source),
  });
  const wrapper: unknown = script.runInThisContext();
  if (!isWrapper(wrapper)) throw new Error(`${BUNDLE} is not the CLI bundle: run npm run build`);
  const module = { exports: {} };
  wrapper(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE), BUNDLE_URL.href, dynamicImport);
  if (!isBundleExports(module.exports)) throw new Error(`${BUNDLE} exports no run(): run npm run build`);
  await module.exports.run();
  if (options.makeCache) writeCache(source, script);
}

/** Keeps the code V8 compiled for the bundle so far, under the bundle's CRC-32. */
function writeCache(source: Buffer, script: Script): void {
  const crc = crc32(source);
  if (crc === undefined) return;
  const head = Buffer.alloc(CRC_BYTES);
  head.writeUInt32BE(crc);
  writeFileSync(CACHE, Buffer.concat([head, script.createCachedData()]));
}
