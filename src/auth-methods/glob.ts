// The globs auth methods bind identities with (certificate names, SPIFFE IDs,
// IAM ARNs): "*" stands for any run of characters, "/" included, as in
// Vault's cert and aws methods; everything else is literal. Linear in the
// value's length: no regular expression, so no pathological backtracking.

/** Whether `value` matches `pattern`. */
export function globMatch(pattern: string, value: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === value;
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  // The leftmost place for each middle part leaves the most room for the rest.
  let at = first.length;
  const end = value.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = value.indexOf(middle, at);
    if (found < 0 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

/** Whether any of `values` matches any of `patterns`. */
export function anyGlobMatch(patterns: readonly string[], values: readonly string[]): boolean {
  return patterns.some((p) => values.some((v) => globMatch(p, v)));
}
