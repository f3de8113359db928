// Names Lessor gives what it makes in AWS: IAM user names (64 characters),
// AssumeRole session names (2-64) and GetFederationToken names (2-32), all
// from [\w+=,.@-]. The defaults show who asked and for which role and end in a
// random suffix that shortening never cuts, so two issues never collide. A
// username_template (per role, else in config/root) replaces the default; its
// output is checked, never cut short, since only its author knows which part
// makes it unique.
import { randomBytes } from "node:crypto";
import { TemplateError, UsernameTemplate } from "./username-template.js";

export const MAX_USERNAME_LENGTH = 64;
export const MAX_SESSION_NAME_LENGTH = 64;
export const MAX_FEDERATION_NAME_LENGTH = 32;
/** IAM user names, role session names and federated user names share this alphabet. */
export const IAM_NAME = /^[\w+=,.@-]+$/;
const SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** What a name is for: its template `.Type` and AWS's length limits. */
export type NameKind = "iam_user" | "session" | "federation";

const LIMITS: Record<NameKind, { min: number; max: number; type: "IAM" | "STS"; what: string }> = {
  iam_user: { min: 1, max: MAX_USERNAME_LENGTH, type: "IAM", what: "IAM user name" },
  // Vault renders AssumeRole session names as "IAM" names too.
  session: { min: 2, max: MAX_SESSION_NAME_LENGTH, type: "IAM", what: "role session name" },
  federation: { min: 2, max: MAX_FEDERATION_NAME_LENGTH, type: "STS", what: "federated user name" },
};

function randomSuffix(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length];
  return out;
}

/** Replaces characters IAM does not allow in a name. */
export function sanitizeForIam(s: string): string {
  return s.replace(/[^\w+=,.@-]/g, "-");
}

/** What a template sees, as Vault names it; display and role names made IAM-safe as Vault does. */
export function templateData(kind: NameKind, displayName: string, roleName: string): Record<string, string> {
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9+=,.@_-]/g, "_");
  return { Type: LIMITS[kind].type, DisplayName: clean(displayName), PolicyName: clean(roleName), RoleName: clean(roleName) };
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

/** lessor-<role>-<random>, within the 32 characters GetFederationToken allows. */
export function defaultFederationName(roleName: string): string {
  const tail = `-${randomSuffix(10)}`;
  const role = sanitizeForIam(roleName).slice(0, MAX_FEDERATION_NAME_LENGTH - "lessor-".length - tail.length);
  return `lessor-${role}${tail}`;
}

/** Why `name` is not acceptable to AWS as a `kind` name, or undefined. */
export function checkName(kind: NameKind, name: string): string | undefined {
  const { min, max, what } = LIMITS[kind];
  if (name.length < min || name.length > max) {
    return `the ${what} ${JSON.stringify(name.slice(0, 80))} has ${name.length} characters; AWS allows ${min} to ${max}`;
  }
  if (!IAM_NAME.test(name)) {
    return `the ${what} ${JSON.stringify(name.slice(0, 80))} has characters AWS does not allow (only letters, digits and +=,.@_-)`;
  }
  return undefined;
}

export class NameError extends Error {}

/** A name for `kind`: from the template when one is set, else the default. Throws NameError. */
export function makeName(kind: NameKind, template: string | undefined, displayName: string, roleName: string, now = Date.now()): string {
  if (template === undefined) {
    return kind === "federation" ? defaultFederationName(roleName) : defaultUsername(displayName, roleName, now);
  }
  let name: string;
  try {
    name = UsernameTemplate.parse(template).render(templateData(kind, displayName, roleName), now);
  } catch (err) {
    throw new NameError(err instanceof TemplateError ? err.message : String(err));
  }
  const problem = checkName(kind, name);
  if (problem) throw new NameError(problem);
  return name;
}

/** Sample caller for checking a template at write time: a long but realistic display name. */
const SAMPLE_DISPLAY_NAME = "token-approle-ci-deploy";

/**
 * Checks a template for the kinds of name it will make: it must parse, render
 * a valid name for a typical caller, and (for IAM users) differ between two
 * renders at the same instant, else two credentials would collide. Returns
 * the problem, or undefined.
 */
export function checkTemplate(source: string, kinds: readonly NameKind[], roleName: string): string | undefined {
  let template: UsernameTemplate;
  try {
    template = UsernameTemplate.parse(source);
  } catch (err) {
    return err instanceof TemplateError ? `is not a valid template: ${err.message}` : String(err);
  }
  const now = Date.now();
  for (const kind of kinds) {
    const data = templateData(kind, SAMPLE_DISPLAY_NAME, roleName);
    let first: string;
    let second: string;
    try {
      first = template.render(data, now);
      second = template.render(data, now);
    } catch (err) {
      return `fails to render: ${err instanceof Error ? err.message : String(err)}`;
    }
    const problem = checkName(kind, first);
    if (problem) return `renders unusable names: ${problem} (use truncate to keep within the limit)`;
    if (kind === "iam_user" && first === second) {
      return `renders the same name twice (${JSON.stringify(first)}): add a random part such as {{random 20}} or {{uuid}}, or two credentials would collide`;
    }
  }
  return undefined;
}
