// What the CLI says when the command line itself is wrong: yargs reports the
// failure as a bare message ("Not enough non-option arguments: got 0, need at
// least 1", "Unknown arguments: raed, x"); this turns it into what a user can
// act on: the command's usage line, which argument is missing, which word is
// not a command and which command was probably meant.
import { Parser } from "yargs/helpers";

/** The message main.ts gives demandCommand: no command (or subcommand) was given. */
export const NO_COMMAND = "no command given";

/** Flags Vault accepts for its version; `lessor --version` runs `lessor version`. */
export const VERSION_FLAGS = ["--version", "-version", "-v"];

export interface Failure {
  /** What yargs said. */
  message: string;
  /** The help text of the command being parsed (its first line is the usage line, e.g. "lessor lease renew <id>"). */
  help: string;
  /** The arguments as given (after main's "-" substitution). */
  args: readonly string[];
}

/** The text printed for a command-line mistake (on standard error, exit status 1). */
export function failureText({ message, help, args }: Failure): string {
  const usage = (help.split("\n")[0] ?? "lessor").replace(/^Usage: /, "");
  const context = commandWords(usage);
  const group = takesCommand(help);
  const helpHint = `Run "${["lessor", ...context].join(" ")} --help" for ${group ? "the commands" : "its options"}.`;
  if (message === NO_COMMAND) return help;

  const missing = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(message);
  if (missing) {
    const wanted = usage.match(/<[^>]+>/g) ?? [];
    const absent = wanted.slice(Number(missing[1]));
    const what = absent.length > 0 ? absent.join(" ") : `${Number(missing[2]) - Number(missing[1])} more argument(s)`;
    return `Error: missing ${what}\nUsage: ${usage}\n${helpHint}`;
  }

  const positionals = positionalWords(args);
  const word = positionals[context.length];
  const suggestion = /^Did you mean (.+)\?$/.exec(message)?.[1];
  const unknown = /^Unknown arguments?: (.+)$/.exec(message)?.[1]?.split(", ");
  // The word where a command belongs matches none: name it (yargs names only its guess).
  if (word !== undefined && (suggestion !== undefined || (group && unknown?.includes(word)))) {
    const guess = suggestion === undefined ? "" : `; did you mean ${suggestion}?`;
    return `Error: unknown command "${word}"${guess}\n${helpHint}`;
  }
  return `Error: ${message}\nUsage: ${usage}\n${helpHint}`;
}

/** "lessor lease renew <id> [x..]" → ["lease", "renew"]. */
function commandWords(usage: string): string[] {
  return usage
    .split(/\s+/)
    .slice(1)
    .filter((w) => w !== "" && !/^[<[]/.test(w));
}

/** Whether the help is a group's: the root's or `lessor lease`'s, which list commands. */
function takesCommand(help: string): boolean {
  return /^Commands:$/m.test(help);
}

/** The words of the command line that are not flags (only the global flags come before a command), as yargs reads them before it knows the command. */
export function positionalWords(args: readonly string[]): string[] {
  const parsed = Parser(args as string[], {
    string: ["address"],
    configuration: { "short-option-groups": false, "camel-case-expansion": false },
  });
  return parsed._.map(String);
}

/** Whether `value` has a method `key` (for reaching into yargs's internals, which its types leave out). */
function hasMethod<K extends string>(value: unknown, key: K): value is Record<K, () => unknown> {
  if (typeof value !== "object" || value === null) return false;
  const member: unknown = Reflect.get(value, key);
  return typeof member === "function";
}

/**
 * After running a command's handler, yargs renders that command's help and
 * keeps it (usage.cacheHelpMessage), for a handler that shows help once it
 * has run. None here does: a mistake on the command line is reported before
 * any handler runs, and a handler's error is not one. The rendering cost
 * about 5 ms of every `lessor read` and some 70 ms of a server's start (40
 * options), so it is skipped. yargs has no option for it; if its internals
 * change shape, this does nothing.
 */
export function skipHelpCache(cli: object): void {
  if (!hasMethod(cli, "getInternalMethods")) return;
  const internals = cli.getInternalMethods();
  if (!hasMethod(internals, "getUsageInstance")) return;
  const usage = internals.getUsageInstance();
  if (!hasMethod(usage, "cacheHelpMessage")) return;
  usage.cacheHelpMessage = () => undefined;
}
