// IAM user names for issued credentials: they show who asked and for which
// role, and end in a random suffix that truncation never cuts, so two issues
// can never collide. AWS allows 64 characters from [\w+=,.@-].
import { randomBytes } from "node:crypto";

export const MAX_USERNAME_LENGTH = 64;
const SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomSuffix(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length];
  return out;
}

/** Replaces characters IAM does not allow in a user name. */
export function sanitizeForIam(s: string): string {
  return s.replace(/[^\w+=,.@-]/g, "-");
}

/**
 * lessor-<display>-<role>-<unix seconds>-<random>: the display name and role
 * are shortened as needed so the whole fits in 64 characters.
 */
export function defaultUsername(displayName: string, roleName: string, now: number): string {
  const tail = `-${Math.floor(now / 1000)}-${randomSuffix(10)}`;
  const room = MAX_USERNAME_LENGTH - "lessor-".length - tail.length - 1;
  const display = sanitizeForIam(displayName).slice(0, Math.min(16, Math.floor(room / 3)));
  const role = sanitizeForIam(roleName).slice(0, room - display.length);
  return `lessor-${display}-${role}${tail}`;
}
