// The server's log: readable lines (pino-pretty) on a terminal, one JSON
// object per line otherwise, or as -log-format says. Lines logged while the
// server starts are held back until the banner has been printed, so the
// banner comes first. Writes are synchronous, so the last line before exit
// is never lost.
import pino, { type DestinationStream, type Logger } from "pino";
import type { LogFormat, LogLevel } from "../../util/log-options.js";

/** Lines held before the banner; a start that logs more keeps the first ones and counts the rest. */
const MAX_HELD_LINES = 1_000;

export interface ServerLog {
  logger: Logger;
  /**
   * Writes `first` (the banner) and the held lines in one write, so whoever
   * reads the output gets them together, and every later line as it comes.
   */
  release(first?: string): void;
}

export async function serverLog(level: LogLevel, format: LogFormat | undefined, stream: NodeJS.WriteStream = process.stdout): Promise<ServerLog> {
  const text = (format ?? (stream.isTTY ? "text" : "json")) === "text";
  // pino-pretty (and its dependencies) only when lines are rendered as text: a JSON log starts faster without it.
  const pretty = text
    ? (await import("pino-pretty")).prettyFactory({
        colorize: stream.isTTY === true,
        singleLine: true,
        translateTime: "SYS:yyyy-mm-dd'T'HH:MM:ss.lo",
        ignore: "pid,hostname,name",
      })
    : undefined;
  const held: string[] = [];
  let dropped = 0;
  let open = false;
  const render = (line: string): string => (pretty ? pretty(line) : line);
  const write = (line: string): void => {
    stream.write(render(line));
  };
  const destination: DestinationStream = {
    write(line: string) {
      if (open) write(line);
      else if (held.length < MAX_HELD_LINES) held.push(line);
      else dropped++;
    },
  };
  const logger = pino({ name: "lessor", level }, destination);
  return {
    logger,
    release(first = "") {
      if (open) return;
      open = true;
      const output = first + held.splice(0).map(render).join("");
      if (output !== "") stream.write(output);
      if (dropped > 0) logger.warn({ lines: dropped }, "log lines written while starting were dropped");
    },
  };
}
