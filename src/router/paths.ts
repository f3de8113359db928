// Request path hygiene: what reaches an engine is a clean, bounded path.
import { LessorError } from "../errors.js";

export const MAX_PATH_LENGTH = 1024;
export const MAX_SEGMENT_LENGTH = 256;

/** Validates and normalises a request path; errors name the field. */
export function normalizeRequestPath(raw: string, field = "path"): string {
  // Every request's path comes here: one pass without regexes, arrays or
  // closures answers for a clean path; anything else takes the checks below,
  // which say what is wrong.
  let start = 0;
  while (raw.charCodeAt(start) === 47) start++;
  if (isCleanPath(raw, start)) return start === 0 ? raw : raw.slice(start);
  return checkedPath(raw, field);
}

/** Whether raw, from `start` (past its leading slashes), passes every check of checkedPath. */
function isCleanPath(raw: string, start: number): boolean {
  const end = raw.length;
  if (end === start || end - start > MAX_PATH_LENGTH) return false;
  let segment = start;
  for (let i = start; i <= end; i++) {
    const c = i < end ? raw.charCodeAt(i) : 47;
    if (c === 47) {
      const length = i - segment;
      if (length === 0 && i !== end) return false;
      if (length > MAX_SEGMENT_LENGTH) return false;
      if (raw.charCodeAt(segment) === 46 && (length === 1 || (length === 2 && raw.charCodeAt(segment + 1) === 46))) return false;
      segment = i + 1;
    } else if (c < 32 || c === 127 || c === 0xfffd) {
      return false;
    }
  }
  return true;
}

function checkedPath(raw: string, field: string): string {
  if (raw.includes("\uFFFD")) throw LessorError.invalidField(field, "is not valid UTF-8");
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw LessorError.invalidField(field, "contains control characters");
  const path = raw.replace(/^\/+/, "");
  if (path === "") throw LessorError.invalidField(field, "is empty");
  if (path.length > MAX_PATH_LENGTH) throw LessorError.invalidField(field, `is longer than ${MAX_PATH_LENGTH} characters`);
  const segments = path.split("/");
  segments.forEach((segment, i) => {
    if (segment === "" && i !== segments.length - 1) throw LessorError.invalidField(field, 'contains an empty segment ("//")');
    if (segment === "." || segment === "..") throw LessorError.invalidField(field, `contains a "${segment}" segment`);
    if (segment.length > MAX_SEGMENT_LENGTH) {
      throw LessorError.invalidField(field, `has a segment longer than ${MAX_SEGMENT_LENGTH} characters`);
    }
  });
  return path;
}
