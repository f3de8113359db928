// Configuration files in the HCL Vault's configuration is written in
// (`lessor server -config`, `lessor agent -config`): read with a size bound,
// parsed by the same bounded parser as policies, turned into plain objects
// (a block `listener "tcp" { ... }` becomes `listener: { type: "tcp", ... }`)
// and checked against a zod schema. Every error names the file, the line and
// the key.
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { HclError, parseHcl, type HclBody, type HclValue } from "./hcl.js";

/** Largest configuration file read (a real one is a few hundred bytes). */
export const MAX_CONFIG_BYTES = 64 * 1024;

export class ConfigError extends Error {}

/** A configuration file's text; ConfigError when it cannot be read or is too large. */
export function readConfigText(path: string): string {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read the configuration file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (raw.length > MAX_CONFIG_BYTES) throw new ConfigError(`${path}: the configuration file is larger than ${MAX_CONFIG_BYTES} bytes`);
  return raw.toString("utf8");
}

/**
 * Parses configuration text against `schema` (`name` is what messages call
 * the file). Returns the checked data and the line of every key ("listener",
 * "listener.address").
 */
export function parseHclConfig<S extends z.ZodType>(source: string, name: string, schema: S): { data: z.infer<S>; lines: Map<string, number> } {
  let body: HclBody;
  try {
    body = parseHcl(source);
  } catch (err) {
    if (err instanceof HclError) throw new ConfigError(`${name}:${err.line}: ${err.message.replace(/^line \d+, column \d+: /, "")} (column ${err.column})`);
    throw err;
  }
  const lines = new Map<string, number>();
  const parsed = schema.safeParse(toPlain(body, "", lines, name));
  if (parsed.success) return { data: parsed.data, lines };
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const key = issue.path.join(".");
  const unknown = issue.code === "unrecognized_keys" ? issue.keys[0] : undefined;
  const at = unknown !== undefined ? (key ? `${key}.${unknown}` : unknown) : key;
  const line = lineOf(lines, at);
  const where = `${name}${line !== undefined ? `:${line}` : ""}`;
  if (unknown !== undefined) throw new ConfigError(`${where}: unknown setting "${at}"`);
  // A missing key has no line of its own: the message points at its block.
  const message = lines.has(at) || issue.code !== "invalid_type" ? issue.message : "is required";
  throw new ConfigError(`${where}: ${at || "the file"}: ${message}`);
}

/** The line of a key, else of the closest block around it. */
function lineOf(lines: Map<string, number>, key: string): number | undefined {
  for (let k = key; k !== ""; k = k.includes(".") ? k.slice(0, k.lastIndexOf(".")) : "") {
    const line = lines.get(k);
    if (line !== undefined) return line;
  }
  return undefined;
}

/** The file as plain objects: a block `listener "tcp" { ... }` becomes `listener: { type: "tcp", ... }`. */
function toPlain(body: HclBody, prefix: string, lines: Map<string, number>, name: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of body.items) {
    const key = prefix ? `${prefix}.${item.key}` : item.key;
    const earlier = lines.get(key);
    if (earlier !== undefined) throw new ConfigError(`${name}:${item.line}: "${key}" is given again (first at line ${earlier}); Lessor takes one`);
    if (item.labels.length > 1) throw new ConfigError(`${name}:${item.line}: "${key}" takes one label, e.g. ${item.key} "${item.labels[0]}" { ... }`);
    lines.set(key, item.line);
    const value = plainValue(item.value, key, lines, name);
    if (item.labels.length === 1) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`${name}:${item.line}: "${key}" must be a block`);
      out[item.key] = { type: item.labels[0], ...value };
      lines.set(`${key}.type`, item.line);
    } else out[item.key] = value;
  }
  return out;
}

function plainValue(value: HclValue, key: string, lines: Map<string, number>, name: string): unknown {
  if (Array.isArray(value)) return value.map((v) => plainValue(v, key, lines, name));
  if (typeof value === "object") return toPlain(value, key, lines, name);
  return value;
}
