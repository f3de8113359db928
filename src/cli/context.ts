// What every client command shares: the connection, the output format, and
// turning failures into the walkthroughs' error block and exit status.
import { LessorClient } from "@lessor/client";
import { apiErrorText, EXIT_API_ERROR, EXIT_USAGE, type Format } from "./output.js";
import { UsageError } from "./input.js";

export interface GlobalOptions {
  address?: string;
  format: Format;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  stdin(): string;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  stdin: () => {
    throw new Error("replaced in main");
  },
};

/** Runs a command against the server; `what` completes "Error <what>: ...". */
export async function withClient(
  options: GlobalOptions,
  what: string,
  run: (client: LessorClient) => Promise<void>,
): Promise<void> {
  const client = new LessorClient(options.address ? { address: options.address } : {});
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
