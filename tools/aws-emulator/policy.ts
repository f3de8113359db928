/**
 * IAM policy documents: validation with the MalformedPolicyDocument messages
 * IAM gives, compilation to a form that is cheap to evaluate (no regex is
 * built per request), and a small evaluator (explicit Deny > Allow > implicit
 * deny) covering Action/NotAction, Resource/NotResource with wildcards and
 * policy variables, Principal for trust policies, and common condition
 * operators.
 */

import { malformedPolicy } from './errors.js';

export type Effect = 'Allow' | 'Deny';
/** identity: user/group/role/managed/session policies; trust: a role's AssumeRolePolicyDocument. */
export type PolicyKind = 'identity' | 'trust';

type SetQualifier = 'none' | 'any' | 'all';

interface Condition {
  /** Lower-cased base operator without IfExists/ForAnyValue: qualifiers. */
  readonly op: string;
  readonly ifExists: boolean;
  readonly set: SetQualifier;
  /** Lower-cased context key (condition keys are case-insensitive). */
  readonly key: string;
  readonly values: readonly string[];
}

interface PrincipalSet {
  /** `"Principal": "*"` or `{"AWS": "*"}`. */
  readonly anyone: boolean;
  /** Normalised ARNs; an account id becomes `arn:aws:iam::ID:root`. */
  readonly aws: readonly string[];
  readonly service: readonly string[];
  readonly federated: readonly string[];
}

export interface Statement {
  readonly sid: string | undefined;
  readonly effect: Effect;
  /** Lower-cased action patterns (action names are case-insensitive). */
  readonly actions: readonly string[] | undefined;
  readonly notActions: readonly string[] | undefined;
  readonly resources: readonly string[] | undefined;
  readonly notResources: readonly string[] | undefined;
  readonly principals: PrincipalSet | undefined;
  readonly notPrincipals: PrincipalSet | undefined;
  readonly conditions: readonly Condition[];
}

export interface CompiledPolicy {
  readonly version: string;
  readonly statements: readonly Statement[];
}

export type ContextValue = string | readonly string[];
/** Request context keyed by lower-cased condition key. */
export type RequestContext = ReadonlyMap<string, ContextValue>;

export interface EvalRequest {
  /** Lower-cased `service:action`. */
  readonly action: string;
  readonly resource: string;
  readonly context: RequestContext;
}

export type Decision = 'Allow' | 'Deny' | 'None';

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

const SYNTAX = 'Syntax errors in policy.';
const LEGACY = 'The policy failed legacy parsing';
const VERSIONS: ReadonlySet<string> = new Set(['2012-10-17', '2008-10-17']);
const DOC_KEYS: ReadonlySet<string> = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS: ReadonlySet<string> = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Principal',
  'NotPrincipal',
  'Condition',
]);
const PARTITIONS: ReadonlySet<string> = new Set(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', '*']);
const IAM_RESOURCE_PREFIXES = [
  'user/',
  'federated-user/',
  'role/',
  'group/',
  'instance-profile/',
  'mfa/',
  'server-certificate/',
  'policy/',
  'sms-mfa/',
  'saml-provider/',
  'oidc-provider/',
  'report/',
  'access-report/',
];
const VENDOR_PATTERN = /^[A-Za-z0-9*?-]+$/;
const SID_PATTERN = /^[0-9A-Za-z]*$/;
const ACCOUNT_ID_PATTERN = /^\d{12}$/;
const AWS_PRINCIPAL_PATTERN = /^arn:aws[a-z-]*:(?:iam::(?:\d{12}|aws):(?:root|user\/.+|role\/.+|federated-user\/.+)|sts::\d{12}:(?:assumed-role|federated-user)\/.+)$/;
const EPOCH_PATTERN = /^\d{1,18}$/;
const ISO_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;
const NUMBER_PATTERN = /^-?\d+(?:\.\d+)?$/;

const CONDITION_OPERATORS: ReadonlySet<string> = new Set([
  'stringequals',
  'stringnotequals',
  'stringequalsignorecase',
  'stringnotequalsignorecase',
  'stringlike',
  'stringnotlike',
  'numericequals',
  'numericnotequals',
  'numericlessthan',
  'numericlessthanequals',
  'numericgreaterthan',
  'numericgreaterthanequals',
  'dateequals',
  'datenotequals',
  'datelessthan',
  'datelessthanequals',
  'dategreaterthan',
  'dategreaterthanequals',
  'bool',
  'binaryequals',
  'ipaddress',
  'notipaddress',
  'arnequals',
  'arnlike',
  'arnnotequals',
  'arnnotlike',
  'null',
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string or an array of strings; anything else is a syntax error. */
function stringOrList(v: Json | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) throw malformedPolicy(SYNTAX);
  const out: string[] = [];
  for (const item of v) {
    if (typeof item !== 'string') throw malformedPolicy(SYNTAX);
    out.push(item);
  }
  return out;
}

/** Condition values may also be numbers or booleans (written without quotes). */
function conditionValues(v: Json): string[] {
  const list = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  for (const item of list) {
    if (typeof item === 'string') out.push(item);
    else if (typeof item === 'number' || typeof item === 'boolean') out.push(String(item));
    else throw malformedPolicy(SYNTAX);
  }
  return out;
}

function parseOperator(raw: string): { op: string; ifExists: boolean; set: SetQualifier } | undefined {
  let name = raw;
  let set: SetQualifier = 'none';
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const qualifier = name.slice(0, colon).toLowerCase();
    if (qualifier === 'foranyvalue') set = 'any';
    else if (qualifier === 'forallvalues') set = 'all';
    else return undefined;
    name = name.slice(colon + 1);
  }
  let op = name.toLowerCase();
  let ifExists = false;
  if (op.endsWith('ifexists') && op !== 'null') {
    ifExists = true;
    op = op.slice(0, -'ifexists'.length);
  }
  return CONDITION_OPERATORS.has(op) ? { op, ifExists, set } : undefined;
}

function parseConditions(raw: Json | undefined): Condition[] {
  if (raw === undefined) return [];
  if (!isObject(raw)) throw malformedPolicy(SYNTAX);
  const out: Condition[] = [];
  for (const [opName, block] of Object.entries(raw)) {
    if (!isObject(block)) throw malformedPolicy(SYNTAX);
    const entries = Object.entries(block);
    if (entries.length === 0) continue;
    const parsed = parseOperator(opName);
    if (parsed === undefined) throw malformedPolicy(SYNTAX);
    for (const [key, value] of entries) {
      out.push({ ...parsed, key: key.toLowerCase(), values: conditionValues(value) });
    }
  }
  return out;
}

function parsePrincipal(raw: Json | undefined): PrincipalSet | undefined {
  if (raw === undefined) return undefined;
  if (raw === '*') return { anyone: true, aws: [], service: [], federated: [] };
  if (!isObject(raw)) throw malformedPolicy(SYNTAX);
  const aws: string[] = [];
  const service: string[] = [];
  const federated: string[] = [];
  let anyone = false;
  for (const [type, value] of Object.entries(raw)) {
    const values = stringOrList(value) ?? [];
    for (const v of values) {
      if (type === 'AWS') {
        if (v === '*') anyone = true;
        else if (ACCOUNT_ID_PATTERN.test(v)) aws.push(`arn:aws:iam::${v}:root`);
        else if (AWS_PRINCIPAL_PATTERN.test(v)) aws.push(v);
        else throw malformedPolicy(`Invalid principal in policy: "AWS":"${v}"`);
      } else if (type === 'Service') {
        if (v.length === 0) throw malformedPolicy(`Invalid principal in policy: "SERVICE":"${v}"`);
        service.push(v);
      } else if (type === 'Federated') {
        if (v.length === 0) throw malformedPolicy(`Invalid principal in policy: "FEDERATED":"${v}"`);
        federated.push(v);
      } else if (type !== 'CanonicalUser') {
        throw malformedPolicy(SYNTAX);
      }
    }
  }
  return { anyone, aws, service, federated };
}

/** Resource checks IAM reports as "failed legacy parsing" (these come first). */
function legacyResourceCheck(resource: string): void {
  if (resource === '*' || !resource.includes(':')) return;
  const parts = resource.split(':');
  if (parts.length >= 4 && parts.length < 6) throw malformedPolicy(LEGACY);
  if (parts.length >= 6 && parts[2] === '') throw malformedPolicy(LEGACY);
}

function resourceFormatCheck(resource: string): void {
  if (resource === '*') return;
  if (!resource.includes(':')) throw malformedPolicy(`Resource ${resource} must be in ARN format or "*".`);
  const parts = resource.split(':');
  const partition = parts[1] ?? '';
  if (parts.length < 3) throw malformedPolicy('Resource vendor must be fully qualified and cannot contain regexes.');
  if (!PARTITIONS.has(partition)) throw malformedPolicy(`Partition "${partition}" is not valid for resource "${resource}".`);
  if (parts.length < 6) return;
  const service = parts[2] ?? '';
  const region = parts[3] ?? '';
  if (service === 'iam') {
    if (region !== '') throw malformedPolicy(`IAM resource ${resource} cannot contain region information.`);
    const path = parts.slice(5).join(':');
    if (path !== '*' && !IAM_RESOURCE_PREFIXES.some((p) => path.startsWith(p))) {
      throw malformedPolicy(
        `IAM resource path must either be "*" or start with ${IAM_RESOURCE_PREFIXES.join(', ')}.`,
      );
    }
  } else if (service === 's3' && region !== '') {
    throw malformedPolicy(`Resource ${resource} can not contain region information.`);
  }
}

function actionFormatCheck(action: string): void {
  if (action === '*') return;
  const colon = action.indexOf(':');
  if (colon < 0) throw malformedPolicy('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
  if (action.indexOf(':', colon + 1) >= 0) throw malformedPolicy('Actions/Condition can contain only one colon.');
  const vendor = action.slice(0, colon);
  if (!VENDOR_PATTERN.test(vendor)) throw malformedPolicy(`Vendor ${vendor} is not valid`);
}

function conditionValueCheck(c: Condition): void {
  if (c.op.startsWith('date')) {
    for (const v of c.values) {
      if (EPOCH_PATTERN.test(v)) {
        if (BigInt(v) > 9223372036854775807n) throw malformedPolicy(LEGACY);
      } else if (!ISO_DATE_PATTERN.test(v) || Number.isNaN(Date.parse(v))) {
        throw malformedPolicy(LEGACY);
      }
    }
  } else if (c.op.startsWith('numeric')) {
    for (const v of c.values) if (!NUMBER_PATTERN.test(v)) throw malformedPolicy(LEGACY);
  }
}

interface RawStatement {
  readonly sid: string | undefined;
  readonly effect: string;
  readonly actions: string[] | undefined;
  readonly notActions: string[] | undefined;
  readonly resources: string[] | undefined;
  readonly notResources: string[] | undefined;
  readonly principals: PrincipalSet | undefined;
  readonly notPrincipals: PrincipalSet | undefined;
  readonly conditions: Condition[];
}

/**
 * Parses and validates a policy document. The order of the checks follows
 * what IAM reports first when a document has several problems.
 * `principalExists` lets trust policies reject principals that are not in the
 * account (IAM resolves them to unique ids at write time).
 */
export function parsePolicy(
  text: string,
  kind: PolicyKind,
  principalExists?: (arn: string) => boolean,
): CompiledPolicy {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    throw malformedPolicy(SYNTAX);
  }
  if (!isObject(doc)) throw malformedPolicy(SYNTAX);
  for (const key of Object.keys(doc)) if (!DOC_KEYS.has(key)) throw malformedPolicy(SYNTAX);
  const version = doc['Version'];
  if (version !== undefined && (typeof version !== 'string' || !VERSIONS.has(version))) {
    throw malformedPolicy(SYNTAX);
  }
  const id = doc['Id'];
  if (id !== undefined && typeof id !== 'string') throw malformedPolicy(SYNTAX);
  const rawStatements = doc['Statement'];
  if (rawStatements === undefined || rawStatements === null) throw malformedPolicy(SYNTAX);
  const list = Array.isArray(rawStatements) ? rawStatements : [rawStatements];
  if (list.length === 0) throw malformedPolicy(SYNTAX);

  // Pass 1: structure.
  const statements: RawStatement[] = [];
  for (const s of list) {
    if (!isObject(s)) throw malformedPolicy(SYNTAX);
    for (const key of Object.keys(s)) if (!STATEMENT_KEYS.has(key)) throw malformedPolicy(SYNTAX);
    const sid = s['Sid'];
    if (sid !== undefined && typeof sid !== 'string') throw malformedPolicy(SYNTAX);
    const effect = s['Effect'];
    if (typeof effect !== 'string') throw malformedPolicy(SYNTAX);
    const lowerEffect = effect.toLowerCase();
    if (lowerEffect !== 'allow' && lowerEffect !== 'deny') throw malformedPolicy(SYNTAX);
    if (s['Action'] !== undefined && s['NotAction'] !== undefined) throw malformedPolicy(SYNTAX);
    if (s['Resource'] !== undefined && s['NotResource'] !== undefined) throw malformedPolicy(SYNTAX);
    if (s['Principal'] !== undefined && s['NotPrincipal'] !== undefined) throw malformedPolicy(SYNTAX);
    const actions = stringOrList(s['Action']);
    const notActions = stringOrList(s['NotAction']);
    const resources = stringOrList(s['Resource']);
    const notResources = stringOrList(s['NotResource']);
    const conditions = parseConditions(s['Condition']);
    if (kind === 'identity' && (s['Principal'] !== undefined || s['NotPrincipal'] !== undefined)) {
      throw malformedPolicy('Policy document should not specify a principal.');
    }
    if (kind === 'trust' && (resources !== undefined || notResources !== undefined)) {
      throw malformedPolicy(`Has prohibited field ${resources !== undefined ? 'Resource' : 'NotResource'}`);
    }
    const principals = kind === 'trust' ? parsePrincipal(s['Principal']) : undefined;
    const notPrincipals = kind === 'trust' ? parsePrincipal(s['NotPrincipal']) : undefined;
    statements.push({ sid, effect, actions, notActions, resources, notResources, principals, notPrincipals, conditions });
  }

  // Pass 2: what IAM reports as "failed legacy parsing".
  for (const s of statements) {
    if (s.effect !== 'Allow' && s.effect !== 'Deny') throw malformedPolicy(LEGACY);
    for (const c of s.conditions) conditionValueCheck(c);
    for (const r of s.resources ?? s.notResources ?? []) legacyResourceCheck(r);
  }

  // Pass 3: semantics.
  const sids = new Set<string>();
  for (const s of statements) {
    if (s.sid !== undefined && s.sid !== '') {
      if (sids.has(s.sid)) throw malformedPolicy('Statement IDs (SID) in a single policy must be unique.');
      sids.add(s.sid);
      if (kind === 'identity' && !SID_PATTERN.test(s.sid)) {
        throw malformedPolicy(
          'Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*',
        );
      }
    }
  }
  for (const s of statements) {
    const acts = s.actions ?? s.notActions;
    if (acts === undefined || acts.length === 0) throw malformedPolicy('Policy statement must contain actions.');
    if (kind === 'identity') {
      const res = s.resources ?? s.notResources;
      if (res === undefined || res.length === 0) throw malformedPolicy('Policy statement must contain resources.');
    } else if (s.principals === undefined && s.notPrincipals === undefined) {
      throw malformedPolicy('Missing required field Principal');
    }
  }
  for (const s of statements) {
    for (const a of s.actions ?? s.notActions ?? []) {
      actionFormatCheck(a);
      if (kind === 'trust' && a !== '*' && !a.toLowerCase().startsWith('sts:')) {
        throw malformedPolicy('AssumeRole policy may only specify STS AssumeRole actions.');
      }
    }
    for (const r of s.resources ?? s.notResources ?? []) resourceFormatCheck(r);
    if (principalExists !== undefined) {
      for (const set of [s.principals, s.notPrincipals]) {
        for (const arn of set?.aws ?? []) {
          if (!principalExists(arn)) throw malformedPolicy(`Invalid principal in policy: "AWS":"${arn}"`);
        }
      }
    }
  }

  return {
    version: typeof version === 'string' ? version : '2008-10-17',
    statements: statements.map((s) => ({
      sid: s.sid,
      effect: s.effect as Effect,
      actions: s.actions?.map(lower),
      notActions: s.notActions?.map(lower),
      resources: s.resources,
      notResources: s.notResources,
      principals: s.principals,
      notPrincipals: s.notPrincipals,
      conditions: s.conditions,
    })),
  };
}

function lower(s: string): string {
  return s.toLowerCase();
}

/** IAM's size measure for policy quotas: characters, whitespace not counted. */
export function policySize(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) n++;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/** Glob match with `*` (any run) and `?` (one character), no regex. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  let p = 0;
  let v = 0;
  let starP = -1;
  let starV = 0;
  while (v < value.length) {
    const pc = pattern.charCodeAt(p);
    if (p < pattern.length && (pc === 63 /* ? */ || pc === value.charCodeAt(v))) {
      p++;
      v++;
    } else if (p < pattern.length && pc === 42 /* * */) {
      starP = p++;
      starV = v;
    } else if (starP >= 0) {
      p = starP + 1;
      v = ++starV;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

const VARIABLE = /\$\{([^}]+)\}/g;

/**
 * Replaces policy variables such as `${aws:username}`. Returns undefined when
 * a variable has no value, which makes the element not match (as in IAM).
 */
function substitute(pattern: string, context: RequestContext): string | undefined {
  let missing = false;
  const out = pattern.replace(VARIABLE, (_m, name: string) => {
    if (name === '*' || name === '?' || name === '$') return name;
    const v = context.get(name.toLowerCase());
    if (typeof v !== 'string') {
      missing = true;
      return '';
    }
    return v;
  });
  return missing ? undefined : out;
}

function matchesAny(patterns: readonly string[], value: string, context: RequestContext, variables: boolean): boolean {
  for (const p of patterns) {
    const pattern = variables && p.includes('${') ? substitute(p, context) : p;
    if (pattern !== undefined && globMatch(pattern, value)) return true;
  }
  return false;
}

function parseDate(v: string): number {
  return EPOCH_PATTERN.test(v) ? Number(v) * 1000 : Date.parse(v);
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    const b = Number(part);
    if (!Number.isInteger(b) || b < 0 || b > 255) return undefined;
    n = n * 256 + b;
  }
  return n;
}

function inCidr(ip: string, cidr: string): boolean {
  const slash = cidr.indexOf('/');
  const base = ipv4ToInt(slash >= 0 ? cidr.slice(0, slash) : cidr);
  const addr = ipv4ToInt(ip.startsWith('::ffff:') ? ip.slice(7) : ip);
  const bits = slash >= 0 ? Number(cidr.slice(slash + 1)) : 32;
  if (base === undefined || addr === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(addr / size) === Math.floor(base / size);
}

/** The positive form of an operator for one context value against the policy values. */
function positiveMatch(op: string, actual: string, expected: readonly string[], context: RequestContext): boolean {
  switch (op) {
    case 'stringequals':
    case 'stringnotequals':
    case 'binaryequals':
      return expected.some((e) => (e.includes('${') ? substitute(e, context) : e) === actual);
    case 'stringequalsignorecase':
    case 'stringnotequalsignorecase': {
      const a = actual.toLowerCase();
      return expected.some((e) => e.toLowerCase() === a);
    }
    case 'stringlike':
    case 'stringnotlike':
    case 'arnequals':
    case 'arnlike':
    case 'arnnotequals':
    case 'arnnotlike':
      return matchesAny(expected, actual, context, true);
    case 'bool':
      return expected.some((e) => e.toLowerCase() === actual.toLowerCase());
    case 'ipaddress':
    case 'notipaddress':
      return expected.some((e) => inCidr(actual, e));
    default:
      break;
  }
  if (op.startsWith('numeric')) {
    const a = Number(actual);
    return expected.some((e) => compare(op.slice('numeric'.length), a, Number(e)));
  }
  if (op.startsWith('date')) {
    const a = parseDate(actual);
    return expected.some((e) => compare(op.slice('date'.length), a, parseDate(e)));
  }
  return false;
}

function compare(kind: string, a: number, b: number): boolean {
  switch (kind) {
    case 'equals':
    case 'notequals':
      return a === b;
    case 'lessthan':
      return a < b;
    case 'lessthanequals':
      return a <= b;
    case 'greaterthan':
      return a > b;
    case 'greaterthanequals':
      return a >= b;
    default:
      return false;
  }
}

function isNegated(op: string): boolean {
  return op.includes('not');
}

function conditionHolds(c: Condition, context: RequestContext): boolean {
  const actual = context.get(c.key);
  if (c.op === 'null') {
    const absent = actual === undefined || (typeof actual !== 'string' && actual.length === 0);
    return c.values.some((v) => (v.toLowerCase() === 'true') === absent);
  }
  const negated = isNegated(c.op);
  if (actual === undefined) {
    if (c.ifExists) return true;
    if (c.set === 'all') return true;
    // Negated operators match when the key is absent.
    return c.set === 'none' && negated;
  }
  const values: readonly string[] = typeof actual === 'string' ? [actual] : actual;
  if (c.set === 'all') {
    return values.every((v) => positiveMatch(c.op, v, c.values, context) !== negated);
  }
  if (c.set === 'any' || values.length !== 1) {
    return values.some((v) => positiveMatch(c.op, v, c.values, context) !== negated);
  }
  return positiveMatch(c.op, values[0] ?? '', c.values, context) !== negated;
}

function conditionsHold(conditions: readonly Condition[], context: RequestContext): boolean {
  for (const c of conditions) if (!conditionHolds(c, context)) return false;
  return true;
}

function actionMatches(s: Statement, action: string): boolean {
  if (s.actions !== undefined) return matchesAny(s.actions, action, EMPTY_CONTEXT, false);
  return s.notActions !== undefined && !matchesAny(s.notActions, action, EMPTY_CONTEXT, false);
}

function resourceMatches(s: Statement, resource: string, context: RequestContext, variables: boolean): boolean {
  if (s.resources !== undefined) return matchesAny(s.resources, resource, context, variables);
  if (s.notResources !== undefined) return !matchesAny(s.notResources, resource, context, variables);
  return true;
}

const EMPTY_CONTEXT: RequestContext = new Map();

/** Evaluates identity-style policies: any matching Deny wins, else any Allow. */
export function evaluate(policies: Iterable<CompiledPolicy>, req: EvalRequest): Decision {
  let allowed = false;
  for (const policy of policies) {
    const variables = policy.version === '2012-10-17';
    for (const s of policy.statements) {
      if (s.effect === 'Allow' && allowed) continue;
      if (!actionMatches(s, req.action)) continue;
      if (!resourceMatches(s, req.resource, req.context, variables)) continue;
      if (!conditionsHold(s.conditions, req.context)) continue;
      if (s.effect === 'Deny') return 'Deny';
      allowed = true;
    }
  }
  return allowed ? 'Allow' : 'None';
}

/** Who is asking, in the terms a trust policy's Principal element uses. */
export interface PrincipalRef {
  readonly arn: string;
  readonly accountId: string;
  /** For an assumed-role session: the role's ARN, which also names the session. */
  readonly roleArn?: string;
}

/** 'direct' = the principal itself is named; 'account' = only its account is. */
type PrincipalMatch = 'direct' | 'account' | false;

function principalMatch(set: PrincipalSet, p: PrincipalRef): PrincipalMatch {
  if (set.anyone) return 'direct';
  let result: PrincipalMatch = false;
  for (const a of set.aws) {
    if (a === p.arn || (p.roleArn !== undefined && a === p.roleArn)) return 'direct';
    if (a === `arn:aws:iam::${p.accountId}:root`) result = 'account';
  }
  return result;
}

export interface TrustDecision {
  readonly decision: Decision;
  /**
   * True when an Allow names the principal itself; in the same account the
   * principal then needs no identity-policy permission of its own.
   */
  readonly direct: boolean;
}

export function evaluateTrust(policy: CompiledPolicy, principal: PrincipalRef, req: EvalRequest): TrustDecision {
  let allowed = false;
  let direct = false;
  for (const s of policy.statements) {
    if (!actionMatches(s, req.action)) continue;
    let match: PrincipalMatch = false;
    if (s.principals !== undefined) match = principalMatch(s.principals, principal);
    else if (s.notPrincipals !== undefined) match = principalMatch(s.notPrincipals, principal) === false ? 'direct' : false;
    if (match === false) continue;
    if (!conditionsHold(s.conditions, req.context)) continue;
    if (s.effect === 'Deny') return { decision: 'Deny', direct: false };
    allowed = true;
    if (match === 'direct') direct = true;
  }
  return { decision: allowed ? 'Allow' : 'None', direct };
}

// ---------------------------------------------------------------------------
// AWS managed policies the emulator knows (documents abridged to their effect)
// ---------------------------------------------------------------------------

export interface AwsManagedPolicyDef {
  readonly name: string;
  readonly id: string;
  readonly description: string;
  readonly document: string;
}

function doc(statements: readonly object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

export const AWS_MANAGED_POLICIES: readonly AwsManagedPolicyDef[] = [
  {
    name: 'AdministratorAccess',
    id: 'ANPAIWMBCKSKIEE64ZLYK',
    description: 'Provides full access to AWS services and resources.',
    document: doc([{ Effect: 'Allow', Action: '*', Resource: '*' }]),
  },
  {
    name: 'PowerUserAccess',
    id: 'ANPAJYRXTHIB4FOVS3ZXS',
    description: 'Provides full access to AWS services and resources, but does not allow management of Users and groups.',
    document: doc([
      { Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: [
          'iam:CreateServiceLinkedRole',
          'iam:DeleteServiceLinkedRole',
          'iam:ListRoles',
          'organizations:DescribeOrganization',
          'account:GetAccountInformation',
          'account:ListRegions',
        ],
        Resource: '*',
      },
    ]),
  },
  {
    name: 'ReadOnlyAccess',
    id: 'ANPAILL3HVNFSB6DCOWYQ',
    description: 'Provides read-only access to AWS services and resources.',
    document: doc([
      {
        Effect: 'Allow',
        Action: [
          'iam:Generate*',
          'iam:Get*',
          'iam:List*',
          'iam:Simulate*',
          'sts:GetCallerIdentity',
          'ec2:Describe*',
          's3:Get*',
          's3:List*',
        ],
        Resource: '*',
      },
    ]),
  },
  {
    name: 'IAMFullAccess',
    id: 'ANPAI7XKCFMBPM3QQRRVQ',
    description: 'Provides full access to IAM via the AWS Management Console.',
    document: doc([
      {
        Effect: 'Allow',
        Action: [
          'iam:*',
          'organizations:DescribeAccount',
          'organizations:DescribeOrganization',
          'organizations:DescribeOrganizationalUnit',
          'organizations:DescribePolicy',
          'organizations:ListChildren',
          'organizations:ListParents',
          'organizations:ListPoliciesForTarget',
          'organizations:ListRoots',
          'organizations:ListPolicies',
          'organizations:ListTargetsForPolicy',
        ],
        Resource: '*',
      },
    ]),
  },
  {
    name: 'IAMReadOnlyAccess',
    id: 'ANPAJKSO7NDY4T57MWDSQ',
    description: 'Provides read only access to IAM via the AWS Management Console.',
    document: doc([
      {
        Effect: 'Allow',
        Action: [
          'iam:GenerateCredentialReport',
          'iam:GenerateServiceLastAccessedDetails',
          'iam:Get*',
          'iam:List*',
          'iam:SimulateCustomPolicy',
          'iam:SimulatePrincipalPolicy',
        ],
        Resource: '*',
      },
    ]),
  },
];
