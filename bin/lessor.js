#!/usr/bin/env node
// The `lessor` command. Every command but the agent's runs the CLI bundled
// into dist/cli/cli.js: one file to load, with the code V8 compiled for it
// kept beside it, so it starts fast (dist/src/cli/bundle-loader.cjs);
// `lessor server` then loads the server from the compiled modules under
// dist/src (an engine plugin given to `node --import` registers there). The
// agent's commands (agent, aws exec and credential-process) run the compiled
// modules as they are. Both are built by `npm install` (`npm run build`).
// CommonJS (bin/package.json): a short command never starts Node's ES module loader.
"use strict";
const UNBUNDLED = new Set(["agent", "aws"]);
const command = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
// A failure rejects, and Node reports it and exits 1, as an uncaught exception.
void (UNBUNDLED.has(command ?? "") ? import("../dist/src/cli/main.js") : require("../dist/src/cli/bundle-loader.cjs").runBundle());
