/**
 * AWS Query parameters (`Tags.member.1.Key=...`) and the request-level
 * validation AWS reports as `ValidationError`, with its message format:
 * "1 validation error detected: Value 'x' at 'userName' failed to satisfy
 * constraint: Member must ...".
 */

import { validationError } from './errors.js';

export interface StringRule {
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: RegExp;
  /** The pattern as AWS prints it in the error message. */
  readonly patternText?: string;
}

export interface IntRule {
  readonly min?: number;
  readonly max?: number;
}

export interface TagInput {
  readonly key: string;
  readonly value: string;
}

export class Params {
  constructor(private readonly values: ReadonlyMap<string, string>) {}

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** `Prefix.member.1`, `Prefix.member.2`, ... until the first gap. */
  list(prefix: string): string[] {
    const out: string[] = [];
    for (let i = 1; ; i++) {
      const v = this.values.get(`${prefix}.member.${i}`);
      if (v === undefined) return out;
      out.push(v);
    }
  }

  /** `Prefix.member.N.Field` structures; missing fields come back undefined. */
  structList(prefix: string, fields: readonly string[]): Array<Record<string, string | undefined>> {
    const out: Array<Record<string, string | undefined>> = [];
    for (let i = 1; ; i++) {
      const item: Record<string, string | undefined> = {};
      let any = false;
      for (const f of fields) {
        const v = this.values.get(`${prefix}.member.${i}.${f}`);
        if (v !== undefined) any = true;
        item[f] = v;
      }
      if (!any) return out;
      out.push(item);
    }
  }
}

const INTEGER_PATTERN = /^-?\d{1,15}$/;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Collects every violation, then throws one ValidationError, as AWS does. */
export class Validator {
  private readonly errors: string[] = [];

  constructor(private readonly params: Params) {}

  required(name: string, rule: StringRule): string {
    const v = this.params.get(name);
    if (v === undefined) {
      this.errors.push(`Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
      return '';
    }
    this.checkString(v, lowerFirst(name), rule);
    return v;
  }

  optional(name: string, rule: StringRule): string | undefined {
    const v = this.params.get(name);
    if (v !== undefined) this.checkString(v, lowerFirst(name), rule);
    return v;
  }

  /** Validates a value that did not come straight from one parameter. */
  checkString(value: string, member: string, rule: StringRule): boolean {
    const before = this.errors.length;
    // AWS measures length in Unicode code points; surrogate pairs count once.
    const len = rule.min !== undefined || rule.max !== undefined ? codePointLength(value) : 0;
    if (rule.max !== undefined && len > rule.max) {
      this.fail(value, member, `Member must have length less than or equal to ${rule.max}`);
    } else if (rule.min !== undefined && len < rule.min) {
      this.fail(value, member, `Member must have length greater than or equal to ${rule.min}`);
    }
    if (rule.pattern !== undefined && value.length > 0 && !rule.pattern.test(value)) {
      this.fail(value, member, `Member must satisfy regular expression pattern: ${rule.patternText ?? rule.pattern.source}`);
    }
    return this.errors.length === before;
  }

  int(name: string, rule: IntRule): number | undefined {
    const raw = this.params.get(name);
    if (raw === undefined) return undefined;
    const member = lowerFirst(name);
    if (!INTEGER_PATTERN.test(raw)) {
      this.fail(raw, member, 'Member must be a number');
      return undefined;
    }
    const n = Number(raw);
    if (rule.min !== undefined && n < rule.min) {
      this.fail(raw, member, `Member must have value greater than or equal to ${rule.min}`);
    } else if (rule.max !== undefined && n > rule.max) {
      this.fail(raw, member, `Member must have value less than or equal to ${rule.max}`);
    }
    return n;
  }

  bool(name: string): boolean | undefined {
    const raw = this.params.get(name);
    if (raw === undefined) return undefined;
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    this.fail(raw, lowerFirst(name), 'Member must be a boolean');
    return undefined;
  }

  enumOf<T extends string>(name: string, allowed: readonly T[], required: boolean): T | undefined {
    const raw = this.params.get(name);
    if (raw === undefined) {
      if (required) {
        this.errors.push(`Value null at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
      }
      return undefined;
    }
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.fail(raw, lowerFirst(name), `Member must satisfy enum value set: [${allowed.join(', ')}]`);
    return undefined;
  }

  /** A list parameter's length constraint, e.g. at most 50 tags. */
  listLength(name: string, count: number, max: number): void {
    if (count > max) {
      this.errors.push(
        `Value at '${lowerFirst(name)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
      );
    }
  }

  tags(name: string, max: number): TagInput[] {
    const raw = this.params.structList(name, ['Key', 'Value']);
    this.listLength(name, raw.length, max);
    const out: TagInput[] = [];
    raw.forEach((t, i) => {
      const member = `${lowerFirst(name)}.${i + 1}.member`;
      if (t['Key'] === undefined) {
        this.errors.push(`Value null at '${member}.key' failed to satisfy constraint: Member must not be null`);
        return;
      }
      const value = t['Value'] ?? '';
      this.checkString(t['Key'], `${member}.key`, TAG_KEY_RULE);
      this.checkString(value, `${member}.value`, TAG_VALUE_RULE);
      out.push({ key: t['Key'], value });
    });
    return out;
  }

  fail(value: string, member: string, constraint: string): void {
    const shown = value.length > 256 ? value.slice(0, 256) + '...' : value;
    this.errors.push(`Value '${shown}' at '${member}' failed to satisfy constraint: ${constraint}`);
  }

  finish(): void {
    const n = this.errors.length;
    if (n === 0) return;
    throw validationError(`${n} validation error${n === 1 ? '' : 's'} detected: ${this.errors.join('; ')}`);
  }
}

export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

// ---- Shared rules from the IAM/STS API references -------------------------

export const NAME_PATTERN = /^[\w+=,.@-]+$/;
const NAME_TEXT = '[\\w+=,.@-]+';
export const USER_NAME_RULE: StringRule = { min: 1, max: 64, pattern: NAME_PATTERN, patternText: NAME_TEXT };
export const ROLE_NAME_RULE: StringRule = { min: 1, max: 64, pattern: NAME_PATTERN, patternText: NAME_TEXT };
export const GROUP_NAME_RULE: StringRule = { min: 1, max: 128, pattern: NAME_PATTERN, patternText: NAME_TEXT };
export const POLICY_NAME_RULE: StringRule = { min: 1, max: 128, pattern: NAME_PATTERN, patternText: NAME_TEXT };
export const MFA_NAME_RULE: StringRule = { min: 1, max: 226, pattern: NAME_PATTERN, patternText: NAME_TEXT };
export const PATH_PATTERN = /^(?:\/|\/[\u0021-\u007E]+\/)$/;
export const PATH_RULE: StringRule = {
  min: 1,
  max: 512,
  pattern: PATH_PATTERN,
  patternText: '(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)',
};
export const PATH_PREFIX_RULE: StringRule = {
  min: 1,
  max: 512,
  pattern: /^\/[\u0021-\u007F]*$/,
  patternText: '\\u002F[\\u0021-\\u007F]*',
};
export const ARN_RULE: StringRule = { min: 20, max: 2048 };
export const POLICY_DOCUMENT_RULE: StringRule = {
  min: 1,
  max: 131072,
  pattern: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/,
  patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
};
export const DESCRIPTION_RULE: StringRule = {
  max: 1000,
  pattern: /^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$/,
  patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*',
};
export const TAG_KEY_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u;
export const TAG_VALUE_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const TAG_KEY_RULE: StringRule = {
  min: 1,
  max: 128,
  pattern: TAG_KEY_PATTERN,
  patternText: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+',
};
export const TAG_VALUE_RULE: StringRule = {
  max: 256,
  pattern: TAG_VALUE_PATTERN,
  patternText: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*',
};
export const ACCESS_KEY_ID_RULE: StringRule = { min: 16, max: 128, pattern: /^\w+$/, patternText: '[\\w]+' };
export const MARKER_RULE: StringRule = { min: 1, max: 320, pattern: /^[\u0020-\u00FF]+$/, patternText: '[\\u0020-\\u00FF]+' };
export const SERIAL_NUMBER_RULE: StringRule = { min: 9, max: 256, pattern: /^[\w+=/:,.@-]+$/, patternText: '[\\w+=/:,.@-]+' };
export const AUTH_CODE_RULE: StringRule = { min: 6, max: 6, pattern: /^\d+$/, patternText: '[\\d]+' };
export const PASSWORD_RULE: StringRule = {
  min: 1,
  max: 128,
  pattern: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/,
  patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
};
export const CERT_BODY_RULE: StringRule = {
  min: 1,
  max: 16384,
  pattern: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/,
  patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
};
export const CERT_ID_RULE: StringRule = { min: 24, max: 128, pattern: /^\w+$/, patternText: '[\\w]+' };
export const SSH_KEY_ID_RULE: StringRule = { min: 20, max: 128, pattern: /^\w+$/, patternText: '[\\w]+' };
export const SERVICE_CRED_ID_RULE: StringRule = { min: 20, max: 128, pattern: /^\w+$/, patternText: '[\\w]+' };
export const MAX_ITEMS_RULE: IntRule = { min: 1, max: 1000 };
