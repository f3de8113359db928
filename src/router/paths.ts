// Request path hygiene: what reaches an engine is a clean, bounded path.
import { LessorError } from "../errors.js";

export const MAX_PATH_LENGTH = 1024;
export const MAX_SEGMENT_LENGTH = 256;

/** Validates and normalises a request path; errors name the field. */
export function normalizeRequestPath(raw: string, field = "path"): string {
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
