// IAM policy documents, checked at role-write time so a policy AWS would
// reject (MalformedPolicyDocument) is refused before any AWS call, with a
// message that says what to change.

export const POLICY_VERSIONS = ["2012-10-17", "2008-10-17"] as const;

/** Returns what is wrong with the document, or undefined when it looks valid to IAM. */
export function checkPolicyDocument(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `is not valid JSON (${(err as Error).message})`;
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "must be a JSON object";
  const { Version, Statement } = doc as Record<string, unknown>;
  if (Version === undefined) {
    return `has no "Version"; IAM policies need "Version": "${POLICY_VERSIONS[0]}"`;
  }
  if (typeof Version !== "string" || !(POLICY_VERSIONS as readonly string[]).includes(Version)) {
    return (
      `has "Version": ${JSON.stringify(Version)}, which is not an IAM policy language version; ` +
      `use "${POLICY_VERSIONS[0]}" (or the older "${POLICY_VERSIONS[1]}"). ` +
      `AWS would reject this policy with MalformedPolicyDocument when credentials are issued`
    );
  }
  const statements = Array.isArray(Statement) ? Statement : Statement === undefined ? [] : [Statement];
  if (statements.length === 0) return `has no "Statement"`;
  for (const [i, st] of statements.entries()) {
    if (typeof st !== "object" || st === null || Array.isArray(st)) return `Statement ${i + 1} is not an object`;
    const s = st as Record<string, unknown>;
    if (s.Effect !== "Allow" && s.Effect !== "Deny") return `Statement ${i + 1} needs "Effect": "Allow" or "Deny"`;
    if (s.Action === undefined && s.NotAction === undefined) return `Statement ${i + 1} needs "Action" or "NotAction"`;
  }
  return undefined;
}

/** The document without insignificant whitespace, as it is stored and sent. */
export function compactPolicy(text: string): string {
  return JSON.stringify(JSON.parse(text));
}
