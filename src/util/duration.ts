// Durations as Vault writes them: "768h", "1h30m", "90s", or a bare number of
// seconds. Lessor keeps whole seconds everywhere.

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Largest duration accepted anywhere: 100 years. Beyond it is a mistake, not a plan. */
export const MAX_DURATION_SECONDS = 100 * 365 * 86400;

/** Parses a duration into whole seconds, or returns an error message. */
export function parseDuration(input: string | number): { seconds: number } | { error: string } {
  if (typeof input === "number") {
    if (!Number.isInteger(input)) return { error: "must be a whole number of seconds" };
    return checkRange(input);
  }
  const text = input.trim();
  if (text === "") return { error: "must not be empty" };
  if (/^-?\d+$/.test(text)) return checkRange(Number(text));
  if (text.startsWith("-")) return { error: "must not be negative" };
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    const [whole, amount = "", unit = ""] = m;
    total += unit === "ms" ? Number(amount) / 1000 : Number(amount) * (UNIT_SECONDS[unit] ?? 0);
    consumed += whole.length;
  }
  if (consumed !== text.length || consumed === 0) {
    return { error: `"${truncate(text)}" is not a duration (use e.g. 3600, 90s, 30m, 768h or 1h30m)` };
  }
  return checkRange(Math.round(total));
}

function checkRange(seconds: number): { seconds: number } | { error: string } {
  if (!Number.isSafeInteger(seconds)) return { error: "is too large" };
  if (seconds < 0) return { error: "must not be negative" };
  if (seconds > MAX_DURATION_SECONDS) return { error: "is longer than 100 years" };
  return { seconds };
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Formats seconds as Vault prints them: 768h, 1h30m, 45m, 10s, 0s. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  let out = "";
  if (h > 0) out += `${h}h`;
  if (m > 0) out += `${m}m`;
  if (sec > 0 || out === "") out += `${sec}s`;
  return out;
}

/**
 * Parses a duration into milliseconds, for tuning flags that may be shorter
 * than a second ("250ms", "1.5s", "5m"); a bare number is seconds.
 */
export function parseDurationMs(input: string): { ms: number } | { error: string } {
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return { ms: Math.round(Number(text) * 1000) };
  if (text.startsWith("-")) return { error: "must not be negative" };
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    const [whole, amount = "", unit = ""] = m;
    total += unit === "ms" ? Number(amount) : Number(amount) * (UNIT_SECONDS[unit] ?? 0) * 1000;
    consumed += whole.length;
  }
  if (consumed !== text.length || consumed === 0) {
    return { error: `"${truncate(text)}" is not a duration (use e.g. 250ms, 1s, 5m or 168h)` };
  }
  if (total > MAX_DURATION_SECONDS * 1000) return { error: "is longer than 100 years" };
  return { ms: Math.round(total) };
}
