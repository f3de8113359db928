#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/cli.js) into one script,
// dist/cli/cli.js, with esbuild, so `lessor read` loads one file instead of
// hundreds of modules: start-up is most of a short command's time. Then it
// runs that script once, reading from a stand-in server, and keeps V8's
// compiled code for it in dist/cli/cli.js.cache (scripts/cli-code-cache.js):
// Node 20 keeps no compiled code of its own between runs, and compiling the
// bundle was the largest part of a short command's start-up.
// src/cli/bundle-loader.ts runs the script with that cache, or compiles it
// afresh when the cache is missing, stale or refused by V8. Run by
// `npm run build` after tsc; bin/lessor.js runs the bundle for every command
// but the agent's (agent, aws), which run the compiled modules as they are.
//
// The script is CommonJS wrapped in a function (the loader gives it require
// and the rest; vm.Script caches code, ES modules cannot without a flag), so
// what a command loads on demand (the server's flags, the agent, the store,
// a progress bar) is in the same script, run only by the commands that need
// it: one bundle, so every class exists once. Packages that load native
// code, start worker threads by file name, or read files next to themselves
// stay outside, found in node_modules at run time.
//
// `lessor server` parses its flags in the bundle, then loads the server
// itself from the compiled modules (dist/src/server/app.js): an engine
// plugin given to `node --import` registers with dist/src/engines/index.js,
// and that must be the registry the server reads, not a copy in the bundle.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "src");
const outdir = join(root, "dist", "cli");

/** The server's modules, imported by `lessor server` once its flags are read, stay the compiled ones. */
const serverUnbundled = {
  name: "server-unbundled",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/\.\.\/(server\/app|store\/open)\.js$/ }, (args) => {
      if (args.kind !== "dynamic-import" || !args.importer.startsWith(join(compiled, "cli", "server"))) return undefined;
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
 * The script's wrapper: what src/cli/bundle-loader.ts passes in, in this
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
  entryPoints: [join(root, "dist", "src", "cli", "cli.js")],
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
  plugins: [serverUnbundled, oneStringWidth, grpcNet],
  logLevel: "warning",
  legalComments: "none",
  minify: true,
  keepNames: true,
});
const [output] = result.outputFiles;
// esbuild keeps import() only for modules outside the bundle (the server's, and
// packages loaded on demand); anything else that reads like one is a surprise to look at.
const keptImport = /^"(\.\.\/src\/[\w/.-]+\.js|pino-pretty|@aws-sdk\/[\w-]+)"$/;
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
