// What every client command shares: the global flags, the connection, the
// output format, and turning failures into the walkthroughs' error block and
// exit status.
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { LessorClient } from "@lessor/client";
import type { CommandModule } from "yargs";
import { apiErrorText, EXIT_API_ERROR, EXIT_USAGE, type Format } from "./output.js";
import { UsageError } from "./input.js";

/** Flags every command accepts (declared once, in main.ts). */
export interface GlobalArgs {
  address?: string;
}

/**
 * One command as a yargs command module. Declaring it through this function
 * lets the handler's argument types follow from the builder.
 */
export function defineCommand<U>(module: CommandModule<GlobalArgs, U>): CommandModule<GlobalArgs, U> {
  return module;
}

export interface Io {
  out(text: string): void;
  /** One raw value (-field): as Vault prints it, with no newline when piped, so `$(...)` and files get the value alone. */
  raw(text: string): void;
  err(text: string): void;
  stdin(): string;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  raw: (text) => process.stdout.write(process.stdout.isTTY ? `${text}\n` : text),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  stdin: () => {
    throw new Error("replaced in main");
  },
};

/** Runs a command against the server; `what` completes "Error <what>: ...". */
export async function withClient(argv: GlobalArgs, what: string, run: (client: LessorClient) => Promise<void>): Promise<void> {
  const client = new LessorClient(argv.address ? { address: argv.address } : {});
  try {
    await run(client);
  } catch (err) {
    if (err instanceof UsageError) {
      processIo.err(`Error ${what}: ${err.message}`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    processIo.err(apiErrorText(what, err, client.address));
    process.exitCode = EXIT_API_ERROR;
  } finally {
    client.close();
  }
}

export function asFormat(value: unknown): Format {
  if (value === undefined || value === "table") return "table";
  if (value === "json") return "json";
  throw new UsageError(`-format must be table or json, not "${String(value)}"`);
}

/** The -format option most commands take. */
export const FORMAT_OPTION = { type: "string", describe: "Output format: table or json" } as const;

/** Where the CLI keeps its token (the client reads it when LESSOR_TOKEN is not set). */
export function tokenFile(): string {
  return join(process.env.HOME ?? homedir(), ".lessor-token");
}

/** Saves the token for later commands, readable by its owner only (written aside, then renamed into place). */
export function saveToken(token: string): void {
  const file = tokenFile();
  const aside = `${file}.${process.pid}.tmp`;
  writeFileSync(aside, `${token}\n`, { mode: 0o600 });
  chmodSync(aside, 0o600);
  renameSync(aside, file);
}
