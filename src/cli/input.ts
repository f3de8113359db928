// Turning `k=v` arguments into request data, as Vault's CLI does:
// `k=@file` reads a file, `k=-` reads standard input (the heredocs in the
// walkthroughs), a lone `-` reads a JSON object from standard input, and a
// key given twice becomes a list.
import { readFileSync } from "node:fs";

export class UsageError extends Error {}

/**
 * Stands for a lone "-" argument. yargs drops "-" from variadic positionals,
 * so main() swaps it for this before parsing; no real argument can contain NUL.
 */
export const STDIN_ARG = "\u0000-";

function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch {
    throw new UsageError("could not read standard input");
  }
}

export function parseKeyValues(args: readonly string[], stdin: () => string = readStdin): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  let stdinUsed = false;
  const takeStdin = (): string => {
    if (stdinUsed) throw new UsageError("standard input can be read only once (two values use '-')");
    stdinUsed = true;
    return stdin();
  };
  for (const arg of args) {
    if (arg === STDIN_ARG || arg === "-") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(takeStdin());
      } catch {
        throw new UsageError("'-' reads a JSON object from standard input, and that was not valid JSON");
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new UsageError("'-' reads a JSON object from standard input, and that was not an object");
      }
      Object.assign(data, parsed);
      continue;
    }
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new UsageError(`"${arg}" is not key=value (use key=@file for a file, key=- for standard input)`);
    const key = arg.slice(0, eq);
    let value = arg.slice(eq + 1);
    if (value === "-") value = stripFinalNewline(takeStdin());
    else if (value.startsWith("@")) {
      try {
        value = stripFinalNewline(readFileSync(value.slice(1), "utf8"));
      } catch {
        throw new UsageError(`could not read the file ${value.slice(1)} given for ${key}`);
      }
    }
    const previous = data[key];
    data[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return data;
}

function stripFinalNewline(s: string): string {
  return s.endsWith("\n") ? s.slice(0, -1) : s;
}
