// How the CLI prints: Vault's column tables ("Key  Value" with a "---" rule),
// its success lines, its error block, and -format=json for scripts.
import Table from "cli-table3";
import { LessorClientError } from "@lessor/client";
import { formatDuration } from "../util/duration.js";

export type Format = "table" | "json";

const NO_BORDER = {
  top: "", "top-mid": "", "top-left": "", "top-right": "",
  bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
  left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "", middle: "",
};

/** Columns separated by four spaces, under a header and a rule of dashes. */
export function columns(header: string[], rows: string[][]): string {
  const table = new Table({
    chars: NO_BORDER,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 4, compact: true },
  });
  table.push(header, header.map((h) => "-".repeat(h.length)), ...rows);
  return table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}

/** A value as Vault's CLI shows it: <nil>, [a b], map[k:v]. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "<nil>";
  if (Array.isArray(value)) return `[${value.map(formatValue).join(" ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, v]) => `${k}:${formatValue(v)}`).join(" ")}]`;
  }
  return String(value);
}

export interface LeaseView {
  id: string;
  durationSeconds: number;
  renewable: boolean;
}

/**
 * The Key/Value table of a read: the lease's fields (or, for a stored value,
 * its refresh interval, as Vault prints for kv), then the data sorted by key.
 */
export function secretTable(lease: LeaseView | undefined, data: Record<string, unknown>, refreshIntervalSeconds = 0): string {
  const rows: string[][] = [];
  if (lease && lease.id !== "") {
    rows.push(["lease_id", lease.id], ["lease_duration", formatDuration(lease.durationSeconds)], ["lease_renewable", String(lease.renewable)]);
  } else if (refreshIntervalSeconds > 0) {
    rows.push(["refresh_interval", formatDuration(refreshIntervalSeconds)]);
  }
  for (const key of Object.keys(data).sort()) rows.push([key, formatValue(data[key])]);
  return columns(["Key", "Value"], rows);
}

/** The JSON a script gets from -format=json, shaped as Vault's. */
export function secretJson(lease: LeaseView | undefined, data: Record<string, unknown>, warnings: string[], refreshIntervalSeconds = 0): string {
  return JSON.stringify(
    {
      lease_id: lease?.id ?? "",
      lease_duration: lease?.durationSeconds ?? refreshIntervalSeconds,
      renewable: lease?.renewable ?? false,
      data,
      warnings: warnings.length > 0 ? warnings : null,
    },
    null,
    2,
  );
}

export function warningsBlock(warnings: string[]): string {
  if (warnings.length === 0) return "";
  return `WARNING! The following warnings were returned from Lessor:\n\n${warnings.map((w) => `  * ${w}`).join("\n\n")}\n`;
}

/** Exit status for errors the server returned (Vault uses 2). */
export const EXIT_API_ERROR = 2;
/** Exit status for mistakes on the command line. */
export const EXIT_USAGE = 1;

/**
 * Prints a failed call the way the walkthroughs show it:
 *   Error reading aws/config/root: Error making API request.
 *
 *   RPC: lessor.v1.SecretsService/Read at 127.0.0.1:8200
 *   Code: UNIMPLEMENTED. Errors:
 *
 *   * unsupported operation
 */
export function apiErrorText(what: string, err: unknown, address: string): string {
  if (!(err instanceof LessorClientError)) return `Error ${what}: ${err instanceof Error ? err.message : String(err)}`;
  const connection = connectionFailure(err);
  if (connection?.noServer) {
    return `Error ${what}: no server answered at ${address} (${connection.cause}); start one with \`lessor server -dev\` or set LESSOR_ADDR`;
  }
  if (connection) return `Error ${what}: could not connect to ${address}: ${connection.cause}`;
  const lines = [
    `Error ${what}: Error making API request.`,
    "",
    `RPC: lessor.v1.${err.method} at ${address}`,
    `Code: ${err.codeName}. Errors:`,
    "",
  ];
  const violations = err.fieldViolations.length > 1 ? err.fieldViolations.map((v) => `${v.field}: ${v.description}`) : [err.message];
  for (const v of violations) lines.push(`* ${v}`);
  return lines.join("\n");
}

/** Network errors that mean nothing listens there (as opposed to a TLS handshake that failed). */
const NO_SERVER = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|Name resolution failed/;

/**
 * grpc-js's UNAVAILABLE when no connection was made ("No connection
 * established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.
 * Resolution note: ", "Name resolution failed for target dns:x:8200"),
 * reduced to its cause; undefined when a server answered.
 */
function connectionFailure(err: LessorClientError): { cause: string; noServer: boolean } | undefined {
  if (err.codeName !== "UNAVAILABLE") return undefined;
  const lastError = /^No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/s.exec(err.message);
  const cause = lastError?.[1] ?? (/^Name resolution failed/.test(err.message) ? err.message : undefined);
  if (cause === undefined) return undefined;
  // grpc-js appends when the error happened: " (2026-01-01T00:00:00.000Z)".
  const text = cause.replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)\s*$/, "").replace(/\s+/g, " ").trim();
  return { cause: text || "no connection", noServer: NO_SERVER.test(text) };
}
