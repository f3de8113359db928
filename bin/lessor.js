#!/usr/bin/env node
// The `lessor` command: the compiled CLI under dist/ (built by `npm install`).
import "../dist/src/cli/main.js";
