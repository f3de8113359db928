#!/usr/bin/env node
// The `lessor` command. Every command but the agent's runs the CLI bundled
// under dist/cli: one file to load, so it starts fast; `lessor server` then
// loads the server from the compiled modules under dist/src (an engine
// plugin given to `node --import` registers there). The agent's commands
// (agent, aws exec and credential-process) run the compiled modules as they
// are. Both are built by `npm install` (`npm run build`).
const UNBUNDLED = new Set(["agent", "aws"]);
const command = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
await import(UNBUNDLED.has(command ?? "") ? "../dist/src/cli/main.js" : "../dist/cli/main.js");
