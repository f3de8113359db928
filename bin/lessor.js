#!/usr/bin/env node
// The `lessor` command: the CLI bundled under dist/cli (built by `npm install`,
// `npm run build`): one file to load, so short commands start fast.
import "../dist/cli/main.js";
