#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/main.js) into one file,
// dist/cli/main.js, with esbuild: `lessor read` then loads one file instead
// of hundreds of modules, and start-up is most of a short command's time.
// Only what every command needs at start goes in: whatever a command loads
// on demand (the server, the agent, the store, a progress bar) is imported
// at run time from the compiled tree and node_modules as usual, so files
// those packages read next to themselves are where they expect.
// Run by `npm run build` after tsc; bin/lessor.js runs the bundle.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");

/** Leaves every dynamic import() out of the bundle, pointing it at the compiled file. */
const onDemandStaysOut = {
  name: "on-demand-stays-out",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== "dynamic-import") return undefined;
      if (!args.path.startsWith(".")) return { path: args.path, external: true };
      const target = resolve(args.resolveDir, args.path);
      return { path: `./${relative(outdir, target).split("\\").join("/")}`, external: true };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, "dist", "src", "cli", "main.js")],
  outfile: join(outdir, "main.js"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  plugins: [onDemandStaysOut],
  // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
  banner: { js: "import { createRequire as __lessorCreateRequire } from 'node:module'; const require = __lessorCreateRequire(import.meta.url);" },
  logLevel: "warning",
  legalComments: "none",
});
