// read, write, delete, list, path-help: the path commands.
import type { Argv } from "yargs";
import { formatValue, columns, secretJson, secretTable, warningsBlock } from "../output.js";
import { parseKeyValues, UsageError } from "../input.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, withClient, type GlobalArgs } from "../context.js";
import type { LessorClient, SecretResult } from "@lessor/client";
import { printAuth } from "./tokens.js";

/** auth/<mount>/login: a write that logs in. */
const LOGIN_PATH = /^\/?auth\/(.+)\/login\/?$/;

function printSecret(res: SecretResult, format: string | undefined, field: string | undefined): void {
  if (field !== undefined) {
    const value =
      field === "lease_id" ? res.lease?.id : field === "lease_duration" ? res.lease?.durationSeconds : res.data[field];
    if (value === undefined) throw new UsageError(`field "${field}" not present in the response`);
    io.raw(typeof value === "string" ? value : formatValue(value));
    return;
  }
  if (asFormat(format) === "json") {
    io.out(secretJson(res.lease, res.data, res.warnings, res.refreshIntervalSeconds));
    return;
  }
  if (res.warnings.length > 0) io.err(warningsBlock(res.warnings));
  io.out(secretTable(res.lease, res.data, res.refreshIntervalSeconds));
}

const pathArgs = (y: Argv<GlobalArgs>) =>
  y
    .positional("path", { type: "string", demandOption: true, describe: "Path, e.g. aws/creds/my-role" })
    .positional("data", { type: "string", array: true, describe: "key=value fields: key=@file reads a file, key=- standard input, - a JSON object on standard input" })
    .option("format", FORMAT_OPTION)
    .option("field", { type: "string", describe: "Print only this field's value" });

export const readCommand = defineCommand({
  command: "read <path> [data..]",
  describe: "Read a path (reading aws/creds/<role> issues credentials)",
  builder: pathArgs,
  handler: (argv) =>
    withClient(argv, `reading ${argv.path}`, async (c) => {
      const res = await c.read(argv.path, parseKeyValues(argv.data ?? [], io.stdin));
      if (Object.keys(res.data).length === 0 && !res.lease && argv.field === undefined) {
        io.out(`No value found at ${argv.path}`);
        return;
      }
      printSecret(res, argv.format, argv.field);
    }),
});

export const writeCommand = defineCommand({
  command: "write <path> [data..]",
  describe: "Write fields to a path: key=value, key=@file, key=- (stdin), or - (a JSON object on stdin)",
  builder: (y) =>
    pathArgs(y).option("force", {
      type: "boolean",
      alias: "f",
      default: false,
      describe: "Write even with no data (for paths that take none, e.g. aws/config/rotate-root)",
    }),
  handler: (argv) =>
    withClient(argv, `writing to ${argv.path}`, async (c) => {
      const data = parseKeyValues(argv.data ?? [], io.stdin);
      // As Vault: a write with nothing to write is a mistake unless -force says it is meant.
      if (Object.keys(data).length === 0 && !argv.force) {
        throw new UsageError("must supply data (key=value fields) or use -force");
      }
      // A login answers with a token (printed, not stored, as Vault's `write auth/.../login`).
      const login = LOGIN_PATH.exec(argv.path);
      if (login?.[1] !== undefined) {
        const { token, info } = await c.login(login[1], data);
        printAuth(token, info, argv.format, argv.field);
        return;
      }
      const res = await c.write(argv.path, data);
      if (Object.keys(res.data).length === 0 && !res.lease) {
        if (asFormat(argv.format) === "json") io.out(secretJson(undefined, {}, res.warnings));
        else {
          if (res.warnings.length > 0) io.err(warningsBlock(res.warnings));
          io.out(`Success! Data written to: ${argv.path}`);
        }
        return;
      }
      printSecret(res, argv.format, argv.field);
    }),
});

export const deleteCommand = defineCommand({
  command: "delete <path>",
  describe: "Delete a path",
  builder: (y) => y.positional("path", { type: "string", demandOption: true }),
  handler: (argv) =>
    withClient(argv, `deleting ${argv.path}`, async (c) => {
      const res = await c.delete(argv.path);
      if (res.warnings.length > 0) io.err(warningsBlock(res.warnings));
      io.out(`Success! Data deleted (if it existed) at: ${argv.path}`);
    }),
});

export const listCommand = defineCommand({
  command: "list <path>",
  describe: "List the keys under a path",
  builder: (y) => y.positional("path", { type: "string", demandOption: true }).option("format", FORMAT_OPTION),
  handler: (argv) =>
    withClient(argv, `listing ${argv.path}`, async (c) => {
      const keys = await c.list(argv.path);
      if (asFormat(argv.format) === "json") io.out(JSON.stringify(keys, null, 2));
      else if (keys.length === 0) io.out(`No value found at ${argv.path}`);
      else io.out(columns(["Keys"], keys.map((k) => [k])));
    }),
});

export const pathHelpCommand = defineCommand({
  command: "path-help <path>",
  describe: "Show what a path accepts (from the engine's declarations)",
  builder: (y) => y.positional("path", { type: "string", demandOption: true }).option("format", FORMAT_OPTION),
  handler: (argv) => withClient(argv, `retrieving help for ${argv.path}`, (c) => printHelp(c, argv.path, argv.format)),
});

async function printHelp(c: LessorClient, path: string, format: string | undefined): Promise<void> {
  const help = await c.pathHelp(path);
  if (asFormat(format) === "json") {
    io.out(JSON.stringify(help, null, 2));
    return;
  }
  const lines = [`Request:        ${path}`, `Matching Route: ${help.pattern}`, "", help.synopsis];
  if (help.fields.length > 0) {
    lines.push("", "## PARAMETERS", "");
    for (const f of help.fields) {
      const notes = [f.type, f.required ? "required" : "", f.writeOnly ? "write-only" : "", f.defaultValue ? `default: ${f.defaultValue}` : ""]
        .filter(Boolean)
        .join(", ");
      lines.push(`    ${f.name} (${notes})`, `        ${f.description}`);
      if (f.deprecation) lines.push(`        Deprecated: ${f.deprecation}`);
      lines.push("");
    }
  } else lines.push("");
  lines.push("## OPERATIONS", "", `    ${help.operations.join(", ")}`, "");
  if (help.description) lines.push("## DESCRIPTION", "", ...wrap(help.description, 76).map((l) => `    ${l}`), "");
  lines.push(`## PATHS OF THIS ${help.engineType.toUpperCase()} ENGINE`, "", ...help.enginePaths.map((p) => `    ${p}`));
  io.out(lines.join("\n"));
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
