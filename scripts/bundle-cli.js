#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/bundle.js and what it imports) into
// one script, dist/cli/cli.js, with esbuild, so `lessor read` loads one file
// instead of hundreds of modules: start-up is most of a short command's
// time. Then it runs that script once, reading from a stand-in server, and
// keeps V8's compiled code for it in dist/cli/cli.js.cache
// (scripts/cli-code-cache.js): Node 20 keeps no compiled code of its own
// between runs, and compiling the bundle was the largest part of a short
// command's start-up. src/cli/bundle-loader.cts runs the script with that
// cache, or compiles it afresh when the cache is missing, stale or refused
// by V8. Run by `npm run build` after tsc; bin/lessor.js runs the bundle for
// every command but the agent's (agent, aws), which run the compiled
// modules as they are.
//
// The script is CommonJS wrapped in a function (the loader gives it require
// and the rest): vm.Script can use a code cache, ES modules cannot without a
// flag. It holds what every command loads, once, so every class in it exists
// once; what a command loads on demand (the server and its configuration
// file, the store, the agent, zod, a progress bar) is loaded from the
// compiled modules or node_modules (onDemandOutside). Packages that load
// native code, start worker threads by file name, or read files next to
// themselves stay outside too, found in node_modules at run time.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "src");
const outdir = join(root, "dist", "cli");

/**
 * What a command loads on demand stays out of the bundle: Lessor's own
 * modules (the server and its configuration file, the store, the agent)
 * are loaded from the compiled ones under dist/src, packages (zod,
 * cli-progress) from node_modules. The bundle is then only what every
 * command loads, read and checked at every start. For `lessor server`, that
 * also means an engine plugin given to `node --import` registers with the
 * registry the server reads (dist/src/engines/index.js), not a copy. What
 * the bundle's commands take from such a module (ConfigError, say) they
 * take from the module itself, so every class they compare is the one thrown.
 */
const onDemandOutside = {
  name: "on-demand-outside",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== "dynamic-import") return undefined;
      if (!args.path.startsWith(".")) return { path: args.path, external: true };
      if (!args.importer.startsWith(compiled + sep)) return undefined;
      // The bundle is written to dist/cli/, so dist/src/... is ../src/... from it.
      return { path: `../src/${relative(compiled, resolve(dirname(args.importer), args.path))}`, external: true };
    });
  },
};

/**
 * yargs 18 and its cliui bring string-width 7 and 8, which build an
 * Intl.Segmenter and a \p{RGI_Emoji} expression as they load (about 40 ms
 * at every start, before any help is shown); cli-table3 and cli-progress
 * already bring string-width 4, which does neither. The bundle carries that
 * one copy: the CLI's help and tables are ASCII, measured the same by all three.
 */
const oneStringWidth = {
  name: "one-string-width",
  setup(build) {
    const stringWidth = join(root, "node_modules", "string-width", "index.js");
    // The copy at the top of node_modules is the lockfile's choice: say so if it is not 4 any more.
    const { version } = JSON.parse(readFileSync(join(root, "node_modules", "string-width", "package.json"), "utf8"));
    if (!version.startsWith("4.")) throw new Error(`node_modules/string-width is ${version}, not 4: see oneStringWidth in scripts/bundle-cli.js`);
    build.onResolve({ filter: /^string-width$/ }, () => ({ path: stringWidth }));
  },
};

/**
 * The script's wrapper: what src/cli/bundle-loader.cts passes in, in this
 * order. A script has no import(): the few the bundle keeps (modules
 * outside it, loaded on demand) call __lessorImport, which the loader gives.
 * Strict, as the ES modules it was made from.
 */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname, __lessorImportMetaUrl, __lessorImport) {"use strict";';
const WRAPPER_TAIL = "\n})";

/** grpc-js gets node:net from dist/src/cli/grpc-net.js, whose isIPv6 skips Node's regular expression for a host with no colon (why: there). */
const grpcNet = {
  name: "grpc-net",
  setup(build) {
    const grpcJs = join("node_modules", "@grpc", "grpc-js", "");
    build.onResolve({ filter: /^(node:)?net$/ }, (args) =>
      args.importer.includes(grpcJs) ? { path: join(compiled, "cli", "grpc-net.js") } : undefined,
    );
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: [join(root, "dist", "src", "cli", "bundle.js")],
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  write: false,
  outfile: join(outdir, "cli.js"),
  external: [
    // Native code.
    "better-sqlite3",
    "pg-native",
    // Worker threads started by file name.
    "pino",
    "pino-pretty",
    "thread-stream",
    // Proto files read from beside the package (and proto-loader, which grpc-js needs only for channelz).
    "grpc-health-check",
    "@grpc/reflection",
    "@grpc/proto-loader",
    // The AWS SDK (lessor login -method=aws signs with it) resolves parts of
    // itself at run time; it works only loaded as published.
    "@aws-sdk/*",
    "@smithy/*",
    "@aws-crypto/*",
  ],
  // What import.meta.url was in the modules: the bundle's own URL, from the loader.
  define: { "import.meta.url": "__lessorImportMetaUrl" },
  // yargs's `extends` (import.meta.resolve) is not used by the CLI.
  logOverride: { "empty-import-meta": "silent" },
  plugins: [onDemandOutside, oneStringWidth, grpcNet],
  logLevel: "warning",
  legalComments: "none",
  minify: true,
  keepNames: true,
});
const [output] = result.outputFiles;
// esbuild keeps import() only for modules outside the bundle (onDemandOutside);
// anything else that reads like one is a surprise to look at.
const keptImport = /^"(\.\.\/src\/[\w/.-]+\.js|(@[\w.-]+\/)?[\w.-]+)"$/;
const code = output.text.replace(/\bimport\(([^)]*)\)/g, (call, specifier) => {
  if (!keptImport.test(specifier)) throw new Error(`the CLI bundle has ${call}: see keptImport in scripts/bundle-cli.js`);
  return `__lessorImport(${specifier})`;
});
mkdirSync(outdir, { recursive: true });
writeFileSync(join(outdir, "cli.js"), `${WRAPPER_HEAD}${code}${WRAPPER_TAIL}`);

// The code cache, made in a process of its own with Node's default flags (V8 refuses a cache made with other flags).
const env = { ...process.env };
delete env.NODE_OPTIONS;
const made = spawnSync(process.execPath, [join(root, "scripts", "cli-code-cache.js")], { env, encoding: "utf8" });
if (made.status !== 0) throw new Error(`making the CLI's code cache failed (exit ${made.status}):\n${made.stdout}${made.stderr}`);
