// The IAM principal STS says signed a login, and whether a role's
// bound_iam_principal_arn admits it. GetCallerIdentity names an IAM user by
// its user ARN (with its path) and a role's session by
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, which carries no path; a
// role's name is unique in its account whatever its path, so the session
// matches its role's ARN, arn:aws:iam::ACCOUNT:role/ROLE or role/PATH/ROLE.
import { globMatch } from "../glob.js";

export interface CallerPrincipal {
  /** The ARN as STS returned it. */
  arn: string;
  partition: string;
  account: string;
  /** "user" or "assumed-role". */
  type: "user" | "assumed-role";
  /** The user's or the role's name. */
  name: string;
  /** arn:PARTITION:iam::ACCOUNT:user/NAME or arn:PARTITION:iam::ACCOUNT:role/NAME (no path). */
  canonicalArn: string;
}

/** The principal named by a GetCallerIdentity ARN, or what is wrong with it. */
export function parseCallerArn(arn: string): CallerPrincipal | { problem: string } {
  const parts = arn.split(":");
  if (parts.length !== 6 || parts[0] !== "arn") return { problem: `"${arn.slice(0, 200)}" is not an ARN` };
  const [, partition = "", service, , account = "", resource = ""] = parts;
  const segments = resource.split("/");
  const [kind = "", ...rest] = segments;
  const name = rest[rest.length - 1] ?? "";
  if (service === "iam" && kind === "user" && name !== "") {
    return { arn, partition, account, type: "user", name, canonicalArn: `arn:${partition}:iam::${account}:user/${name}` };
  }
  if (service === "sts" && kind === "assumed-role" && rest.length === 2 && rest[0] !== "") {
    const role = rest[0] ?? "";
    return { arn, partition, account, type: "assumed-role", name: role, canonicalArn: `arn:${partition}:iam::${account}:role/${role}` };
  }
  return { problem: `"${arn.slice(0, 200)}" is neither an IAM user nor an assumed role (root and federated users cannot log in)` };
}

/**
 * Whether one bound ARN admits the caller. A glob (with "*") is matched
 * against the ARN STS returned and against the canonical ARN (so
 * arn:aws:iam::123456789012:role/ci-* admits a session of role ci-deploy);
 * an exact ARN matches by partition, account, kind and name, any path
 * ignored.
 */
export function boundArnAdmits(bound: string, caller: CallerPrincipal): boolean {
  if (bound.includes("*")) return globMatch(bound, caller.arn) || globMatch(bound, caller.canonicalArn);
  if (bound === caller.arn || bound === caller.canonicalArn) return true;
  const parts = bound.split(":");
  if (parts.length !== 6 || parts[0] !== "arn" || parts[2] !== "iam") return false;
  const [, partition, , , account, resource = ""] = parts;
  const segments = resource.split("/");
  const kind = caller.type === "user" ? "user" : "role";
  return partition === caller.partition && account === caller.account && segments[0] === kind && segments[segments.length - 1] === caller.name && segments.length >= 2;
}

/** A bound_iam_principal_arn entry as written: an IAM ARN, possibly with "*". */
export function checkBoundArn(value: string): string | undefined {
  return /^arn:[a-z*-]+:(iam|sts|\*)::[0-9*]*:\S+$/.test(value)
    ? undefined
    : `"${value.slice(0, 120)}" is not an IAM principal ARN such as arn:aws:iam::123456789012:role/NAME (globs with * allowed)`;
}
