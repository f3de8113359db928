// Turns the loosely typed input of a request (strings from the CLI, JSON from
// grpcurl) into the typed values a path declares, or a list of violations
// that name each field and what is wrong with it.
import { z } from "zod";
import { parseDuration } from "../../util/duration.js";
import type { FieldViolation } from "../../errors.js";
import type { FieldSpec, FieldSpecs, FieldType, FieldValue, JsonValue } from "./types.js";

/** Limits that keep one request from exhausting the server. */
export const FIELD_LIMITS = {
  stringLength: 65_536,
  listItems: 256,
  mapEntries: 256,
  jsonDepth: 32,
} as const;

const TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE = new Set(["0", "f", "F", "false", "FALSE", "False"]);

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** Strings of at most `max` characters (numbers and booleans are taken as their text). */
function stringOf(max: number) {
  return scalar.transform((v) => String(v)).pipe(z.string().max(max, `is longer than ${max} characters`));
}

const stringSchema = stringOf(FIELD_LIMITS.stringLength);

const intSchema = z.union([z.number(), z.string().trim()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: "custom", message: "must be a whole number" });
    return z.NEVER;
  }
  return n;
});

const boolSchema = z.union([z.boolean(), z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v === "boolean") return v;
  const s = String(v);
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  ctx.addIssue({ code: "custom", message: "must be true or false" });
  return z.NEVER;
});

const durationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const parsed = parseDuration(v);
  if ("error" in parsed) {
    ctx.addIssue({ code: "custom", message: `duration ${parsed.error}` });
    return z.NEVER;
  }
  return parsed.seconds;
});

const listSchema = z
  .union([z.array(scalar), z.string()])
  .transform((v) =>
    (typeof v === "string" ? v.split(",") : v.map(String)).map((s) => s.trim()).filter((s) => s.length > 0),
  )
  .pipe(
    z
      .array(z.string().max(FIELD_LIMITS.stringLength, "has an item that is too long"))
      .max(FIELD_LIMITS.listItems, `has more than ${FIELD_LIMITS.listItems} items`),
  );

/** "k=v,k2=v2", ["k=v", ...], or an object of strings. */
const mapSchema = z
  .union([z.record(z.string(), scalar), z.array(z.string()), z.string()])
  .transform((v, ctx) => {
    if (typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
    }
    const text = typeof v === "string" ? v.trim() : "";
    if (typeof v === "string" && text.startsWith("{")) {
      try {
        const parsed: unknown = JSON.parse(text);
        const ok = z.record(z.string(), scalar).safeParse(parsed);
        if (ok.success) return Object.fromEntries(Object.entries(ok.data).map(([k, x]) => [k, String(x)]));
      } catch {
        // fall through to the error below
      }
      ctx.addIssue({ code: "custom", message: "must be a JSON object of strings, or key=value pairs" });
      return z.NEVER;
    }
    const pairs = (typeof v === "string" ? text.split(",") : v).map((s) => s.trim()).filter((s) => s.length > 0);
    const out: Record<string, string> = {};
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      if (eq <= 0) {
        ctx.addIssue({ code: "custom", message: `"${pair.slice(0, 40)}" is not a key=value pair` });
        return z.NEVER;
      }
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    return out;
  })
  .refine((m) => Object.keys(m).length <= FIELD_LIMITS.mapEntries, {
    message: `has more than ${FIELD_LIMITS.mapEntries} entries`,
  });

const jsonSchema = z.unknown().transform((v, ctx): JsonValue => {
  let value: unknown = v;
  if (typeof v === "string") {
    if (v.length > FIELD_LIMITS.stringLength) {
      ctx.addIssue({ code: "custom", message: `is longer than ${FIELD_LIMITS.stringLength} characters` });
      return z.NEVER;
    }
    try {
      value = JSON.parse(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `is not valid JSON (${(err as Error).message})` });
      return z.NEVER;
    }
  }
  if (depth(value) > FIELD_LIMITS.jsonDepth) {
    ctx.addIssue({ code: "custom", message: `is nested deeper than ${FIELD_LIMITS.jsonDepth} levels` });
    return z.NEVER;
  }
  return value as JsonValue;
});

const SCHEMAS: Record<FieldType, z.ZodType<FieldValue>> = {
  string: stringSchema,
  int: intSchema,
  bool: boolSchema,
  duration: durationSchema,
  list: listSchema,
  map: mapSchema,
  json: jsonSchema,
};

function depth(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  let max = 0;
  for (const x of Object.values(v as Record<string, unknown>)) {
    max = Math.max(max, depth(x));
    if (max > FIELD_LIMITS.jsonDepth) break;
  }
  return max + 1;
}

export interface ValidatedFields {
  values: Record<string, FieldValue | undefined>;
  provided: Set<string>;
  warnings: string[];
}

/**
 * Validates `input` against the declared fields. Unknown fields are an error
 * (a typo must not be silently ignored); required fields are enforced only
 * when `requireRequired` (writes), so reads and deletes can omit them.
 */
export function validateFields(
  specs: FieldSpecs,
  input: Record<string, unknown>,
  requireRequired: boolean,
  freeForm = false,
): { ok: ValidatedFields } | { violations: FieldViolation[] } {
  const violations: FieldViolation[] = [];
  const values: Record<string, FieldValue | undefined> = {};
  const provided = new Set<string>();
  const warnings: string[] = [];

  for (const name of Object.keys(input)) {
    if (!freeForm && !Object.hasOwn(specs, name)) {
      const known = Object.keys(specs);
      violations.push({
        field: printable(name),
        description:
          known.length === 0
            ? "unknown field: this path takes no fields"
            : `unknown field; this path takes: ${known.join(", ")}`,
      });
    }
  }

  for (const [name, spec] of Object.entries(specs)) {
    const raw = input[name];
    if (raw === undefined || raw === null) {
      if (spec.required && requireRequired) violations.push({ field: name, description: "is required" });
      values[name] = spec.default;
      continue;
    }
    const schema = spec.type === "string" && spec.maxLength !== undefined ? stringOf(spec.maxLength) : SCHEMAS[spec.type];
    const result = schema.safeParse(raw);
    if (!result.success) {
      violations.push({ field: name, description: describeIssue(result.error, spec) });
      continue;
    }
    const problem = checkAllowed(spec, result.data) ?? spec.check?.(result.data);
    if (problem !== undefined) {
      violations.push({ field: name, description: problem });
      continue;
    }
    values[name] = result.data;
    provided.add(name);
    if (spec.deprecated) warnings.push(`field "${name}" is deprecated: ${spec.deprecated}`);
  }

  return violations.length > 0 ? { violations } : { ok: { values, provided, warnings } };
}

function checkAllowed(spec: FieldSpec, value: FieldValue): string | undefined {
  if (!spec.allowed) return undefined;
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (typeof item !== "string" || !spec.allowed.includes(item)) {
      return `"${String(item).slice(0, 64)}" is not one of: ${spec.allowed.join(", ")}`;
    }
  }
  return undefined;
}

function describeIssue(error: z.ZodError, spec: FieldSpec): string {
  const issue = error.issues[0];
  if (!issue) return `must be a valid ${spec.type}`;
  if (issue.code === "invalid_type" || issue.code === "invalid_union") return `must be ${article(spec.type)}`;
  return issue.message;
}

function article(type: FieldType): string {
  switch (type) {
    case "string":
      return "a string";
    case "int":
      return "a whole number";
    case "bool":
      return "true or false";
    case "duration":
      return "a duration such as 3600, 30m or 768h";
    case "list":
      return "a list of strings (or a comma-separated string)";
    case "map":
      return "an object of strings (or key=value pairs)";
    case "json":
      return "JSON";
  }
}

/** A field name safe to echo back: no control characters, bounded length. */
function printable(name: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
