// The `lessor` command as compiled modules (bin/lessor.js runs it for the
// agent's commands; every other command runs the same CLI bundled, through
// bundle-loader.cts).
import { run } from "./cli.js";

await run();
