// JSON compared by shape: the same fields with the same JSON types, at
// every level (values differ from run to run: ids, tokens, times).
import assert from "node:assert/strict";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function kind(v: Json | undefined): string {
  return v === undefined ? "absent" : v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** Exactly the same fields, with the same JSON types, at every level. */
export function assertSameShape(actual: Json, expected: Json, where: string): void {
  compare(actual, expected, where, true);
}

/**
 * Every field of `documented` present in `actual` with the same JSON type,
 * at every level; `actual` may have more (Lessor adds to Vault's answers,
 * never takes away). A documented null matches any value: Vault's samples
 * show null for what is unset in their example.
 */
export function assertHasShape(actual: Json, documented: Json, where: string): void {
  compare(actual, documented, where, false);
}

function compare(actual: Json | undefined, expected: Json, where: string, exact: boolean): void {
  if (!exact && expected === null) {
    assert.notEqual(actual, undefined, `${where}: missing`);
    return;
  }
  assert.equal(kind(actual), kind(expected), `${where}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
  if (kind(expected) !== "object") return;
  const a = actual as Record<string, Json>;
  const e = expected as Record<string, Json>;
  if (exact) assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), where);
  for (const key of Object.keys(e)) compare(a[key], e[key] as Json, `${where}.${key}`, exact);
}
