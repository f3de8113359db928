#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/main.js) into dist/cli/ with esbuild,
// so `lessor read` loads one file instead of hundreds of modules: start-up is
// most of a short command's time. What a command loads on demand (the
// server, the agent, the store, a progress bar) goes into chunks of the same
// bundle, loaded only by the commands that need them; one bundle, so every
// class exists once. Packages that load native code, start worker threads by
// file name, or read files next to themselves stay outside, found in
// node_modules at run time. Run by `npm run build` after tsc; bin/lessor.js
// runs the bundle for short commands, and the compiled modules as they are
// for the long-running ones (server, agent, aws).
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");

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
  logLevel: "warning",
  legalComments: "none",
  minify: true,
  keepNames: true,
});
