#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/main.js) into dist/cli/ with esbuild,
// so `lessor read` loads one file instead of hundreds of modules: start-up is
// most of a short command's time. What a command loads on demand (the
// server, the agent, the store, a progress bar) goes into chunks of the same
// bundle, loaded only by the commands that need them; one bundle, so every
// class exists once. Packages that load native code, start worker threads by
// file name, or read files next to themselves stay outside, found in
// node_modules at run time. Run by `npm run build` after tsc; bin/lessor.js
// runs the bundle for every command but the agent's (agent, aws), which run
// the compiled modules as they are.
//
// `lessor server` parses its flags in the bundle, then loads the server
// itself from the compiled modules (dist/src/server/app.js): an engine
// plugin given to `node --import` registers with dist/src/engines/index.js,
// and that must be the registry the server reads, not a copy in a chunk.
import { build } from "esbuild";
import { readFileSync, rmSync } from "node:fs";
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
      // Chunks are written to dist/cli/, so dist/src/... is ../src/... from every one of them.
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

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, "dist", "src", "cli", "main.js")],
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
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
  // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
  banner: { js: "import { createRequire as __lessorCreateRequire } from 'node:module'; const require = __lessorCreateRequire(import.meta.url);" },
  plugins: [serverUnbundled, oneStringWidth],
  logLevel: "warning",
  legalComments: "none",
  minify: true,
  keepNames: true,
});
