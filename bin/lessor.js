#!/usr/bin/env node
// The `lessor` command. Short commands (read, write, lease, token, ...) run
// the CLI bundled under dist/cli: one file to load, so they start fast. The
// long-running ones (server, agent, aws exec and credential-process) run the
// compiled modules under dist/src as they are: they load the AWS SDK, the
// store and the server, whose packages expect their own files around them,
// and a fraction of a second at start-up does not matter to them. Both are
// built by `npm install` (`npm run build`).
const UNBUNDLED = new Set(["server", "agent", "aws"]);
const command = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
await import(UNBUNDLED.has(command ?? "") ? "../dist/src/cli/main.js" : "../dist/cli/main.js");
