// Shapes of the AWS identifiers roles name, as IAM and STS document them,
// checked when a role is written so a typo is reported then, by field.

const PARTITION = "arn:aws(?:-[a-z]+)*";
const NAME = "[\\w+=,.@-]";

/** arn:aws:iam::aws:policy/ReadOnlyAccess, arn:aws:iam::123456789012:policy/path/name */
export const POLICY_ARN = new RegExp(`^${PARTITION}:iam::(?:aws|\\d{12}):policy/(?:${NAME}+/)*${NAME}{1,128}$`);
/** arn:aws:iam::123456789012:role/path/name */
export const ROLE_ARN = new RegExp(`^${PARTITION}:iam::\\d{12}:role/(?:${NAME}+/)*${NAME}{1,64}$`);
/** arn:aws:iam::123456789012:mfa/name (a virtual device) */
export const MFA_ARN = new RegExp(`^${PARTITION}:iam::\\d{12}:mfa/(?:${NAME}+/)*${NAME}+$`);
/** A hardware MFA device's serial number, or an ARN: 9 to 256 of [\w+=/:,.@-]. */
export const MFA_SERIAL = /^[\w+=/:,.@-]{9,256}$/;
/** IAM paths: "/" or "/division/team/", at most 512 characters. */
export const IAM_PATH = /^(?:\/|\/[\x21-\x7e]+\/)$/;
export const GROUP_NAME = /^[\w+=,.@-]{1,128}$/;
/** ExternalId for AssumeRole. */
export const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** Characters IAM and STS allow in tag keys and values. */
export const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export function checkPolicyArn(arn: string): string | undefined {
  if (POLICY_ARN.test(arn)) return undefined;
  return `"${arn.slice(0, 120)}" is not an IAM policy ARN (arn:aws:iam::aws:policy/NAME or arn:aws:iam::ACCOUNT_ID:policy/NAME)`;
}

export function checkRoleArn(arn: string): string | undefined {
  if (ROLE_ARN.test(arn)) return undefined;
  return `"${arn.slice(0, 120)}" is not an IAM role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME)`;
}

export function checkMfaSerial(serial: string): string | undefined {
  if (serial.startsWith("arn:") ? MFA_ARN.test(serial) : MFA_SERIAL.test(serial)) return undefined;
  return `"${serial.slice(0, 120)}" is neither an MFA device ARN (arn:aws:iam::ACCOUNT_ID:mfa/NAME) nor a hardware token serial number (9 to 256 of letters, digits and +=/:,.@_-)`;
}

export function checkTags(tags: Record<string, string>, max: number, reserved: readonly string[]): string | undefined {
  const entries = Object.entries(tags);
  if (entries.length > max) return `has ${entries.length} tags; at most ${max} are allowed`;
  const seen = new Set<string>();
  for (const [key, value] of entries) {
    const k = key.slice(0, 60);
    if (key.length < 1 || key.length > 128) return `tag key "${k}" must be 1 to 128 characters`;
    if (value.length > 256) return `tag "${k}" has a value longer than 256 characters`;
    if (!TAG_TEXT.test(key) || !TAG_TEXT.test(value)) {
      return `tag "${k}" has characters AWS does not allow in tags (letters, digits, spaces and _.:/=+-@ only)`;
    }
    if (key.toLowerCase().startsWith("aws:")) return `tag key "${k}" starts with "aws:", which AWS reserves`;
    if (reserved.includes(key.toLowerCase())) return `tag key "${k}" is reserved: Lessor sets it on every user it makes`;
    // AWS treats tag keys case-insensitively.
    if (seen.has(key.toLowerCase())) return `tag key "${k}" is given twice (tag keys are case-insensitive)`;
    seen.add(key.toLowerCase());
  }
  return undefined;
}
