#!/usr/bin/env node
// Regenerates every generated file from proto/ (the only way they change):
//   npm run generate          rewrite src/gen and clients/ts/src/gen
//   npm run check-generated   fail if the committed files differ from a fresh run
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readdirSync, readFileSync, statSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const targets = ["src/gen", "clients/ts/src/gen"];
const check = process.argv.includes("--check");

const out = mkdtempSync(join(tmpdir(), "lessor-gen-"));
try {
  execFileSync(join(root, "node_modules/.bin/buf"), ["generate", "--template", "buf.gen.yaml", "-o", out], {
    cwd: root,
    stdio: "inherit",
  });
  if (check) {
    const stale = targets.flatMap((t) => compareTrees(join(out, t), join(root, t)));
    if (stale.length > 0) {
      console.error(`Generated code is stale; run \`npm run generate\` and commit:\n  ${stale.join("\n  ")}`);
      process.exit(1);
    }
    console.log("Generated code is up to date.");
  } else {
    for (const t of targets) {
      rmSync(join(root, t), { recursive: true, force: true });
      cpSync(join(out, t), join(root, t), { recursive: true });
    }
    console.log(`Regenerated ${targets.join(", ")} from proto/.`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

function listFiles(dir) {
  let files = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return files;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files = files.concat(listFiles(p));
    else files.push(p);
  }
  return files;
}

function compareTrees(fresh, committed) {
  const a = new Map(listFiles(fresh).map((f) => [relative(fresh, f), f]));
  const b = new Map(listFiles(committed).map((f) => [relative(committed, f), f]));
  const differ = [];
  for (const [rel, f] of a) {
    const g = b.get(rel);
    if (!g || !readFileSync(f).equals(readFileSync(g))) differ.push(join(relative(root, committed), rel));
  }
  for (const rel of b.keys()) if (!a.has(rel)) differ.push(`${join(relative(root, committed), rel)} (not generated any more)`);
  return differ;
}
