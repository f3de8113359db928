// The server's log: readable lines (pino-pretty) on a terminal, one JSON
// object per line otherwise, or as -log-format says. Lines logged while the
// server starts are held back until the banner has been printed, so the
// banner comes first. Writes are synchronous, so the last line before exit
// is never lost.
import pino, { type DestinationStream, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";
import type { LogFormat, LogLevel } from "./settings.js";

/** Lines held before the banner; a start that logs more keeps the first ones and counts the rest. */
const MAX_HELD_LINES = 1_000;

export interface ServerLog {
  logger: Logger;
  /** Writes the held lines, and every later one as it comes. */
  release(): void;
}

export function serverLog(level: LogLevel, format: LogFormat | undefined, stream: NodeJS.WriteStream = process.stdout): ServerLog {
  const text = (format ?? (stream.isTTY ? "text" : "json")) === "text";
  const pretty = text
    ? prettyFactory({
        colorize: stream.isTTY === true,
        singleLine: true,
        translateTime: "SYS:yyyy-mm-dd'T'HH:MM:ss.lo",
        ignore: "pid,hostname,name",
      })
    : undefined;
  const held: string[] = [];
  let dropped = 0;
  let open = false;
  const write = (line: string): void => {
    stream.write(pretty ? pretty(line) : line);
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
    release() {
      if (open) return;
      open = true;
      for (const line of held.splice(0)) write(line);
      if (dropped > 0) logger.warn({ lines: dropped }, "log lines written while starting were dropped");
    },
  };
}
