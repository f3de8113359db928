// Store failures a caller should understand: a full disk, a database out of
// resources, files that cannot be read or written. Whatever store raised
// them (SQLite's SqliteError codes, PostgreSQL's SQLSTATEs, the system's
// errno), they become a LessorError saying so; anything else stays an
// internal error.
import { Code, LessorError } from "../errors.js";

/** PostgreSQL SQLSTATE class 53, insufficient resources: disk_full. */
const PG_DISK_FULL = "53100";
/** The rest of class 53: out_of_memory, too_many_connections, configuration_limit_exceeded. */
const PG_OUT_OF_RESOURCES = new Set(["53000", "53200", "53300", "53400"]);

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The LessorError for a store failure that has a clear cause, else undefined. */
export function storageFault(err: unknown): LessorError | undefined {
  if (!(err instanceof Error) || err instanceof LessorError) return undefined;
  const code = codeOf(err);
  if (code === "SQLITE_FULL" || code === "ENOSPC" || code === PG_DISK_FULL || /No space left on device/i.test(err.message)) {
    return new LessorError(
      Code.RESOURCE_EXHAUSTED,
      "the store's disk is full: the change was not saved; free space on the disk that holds the data directory (or the PostgreSQL database)",
      { reason: "STORAGE_FULL" },
    );
  }
  if (code !== undefined && PG_OUT_OF_RESOURCES.has(code)) {
    return LessorError.unavailable("the PostgreSQL database is out of resources (memory or connections); try again shortly", "STORAGE_OUT_OF_RESOURCES");
  }
  if (code !== undefined && (/^SQLITE_(IOERR|READONLY|CANTOPEN)/.test(code) || code === "EIO" || code === "EROFS")) {
    return LessorError.unavailable("the store cannot read or write its files (an I/O error); see the server log", "STORAGE_IO_ERROR");
  }
  return undefined;
}
