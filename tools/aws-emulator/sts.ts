/**
 * STS actions: GetCallerIdentity, AssumeRole, GetFederationToken and
 * GetSessionToken, with the limits and rules of the STS API reference.
 * Issued credentials are usable for signing until their Expiration, judged by
 * the emulator's clock.
 */

import { deflateRawSync } from 'node:zlib';
import { authorize, identityArn, identityUserId, requestContext } from './authz.js';
import { AwsError, accessDenied, validationError } from './errors.js';
import { type ActionContext, type ActionHandler, requestTagContext } from './handler.js';
import { ARN_RULE, AUTH_CODE_RULE, SERIAL_NUMBER_RULE, type StringRule, type TagInput, Validator } from './params.js';
import { type CompiledPolicy, type ContextValue, evaluateTrust, parsePolicy } from './policy.js';
import {
  type Account,
  type Caller,
  type Identity,
  type Role,
  type TempCredential,
  type TempKind,
  type User,
  newTempAccessKeyId,
  randomSecret,
  randomToken,
} from './state.js';
import { verifyTotp } from './totp.js';
import { el, isoDate } from './xml.js';

const SESSION_NAME_RULE: StringRule = { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' };
const FEDERATED_NAME_RULE: StringRule = { min: 2, max: 32, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' };
const SESSION_POLICY_RULE: StringRule = {
  min: 1,
  max: 2048,
  pattern: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/,
  patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
};
const EXTERNAL_ID_RULE: StringRule = { min: 2, max: 1224, pattern: /^[\w+=,.@:/-]*$/, patternText: '[\\w+=,.@:\\/-]*' };
const SOURCE_IDENTITY_RULE: StringRule = { min: 2, max: 64, pattern: /^[\w+=,.@-]*$/, patternText: '[\\w+=,.@-]*' };
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/;
const MAX_SESSION_POLICY_ARNS = 10;
const MAX_SESSION_TAGS = 50;
const ROLE_CHAINING_MAX_SECONDS = 3600;
const ROOT_MAX_SECONDS = 3600;
const MAX_TOKEN_SECONDS = 129600;
const DEFAULT_TOKEN_SECONDS = 43200;
/** Notional capacity of the packed session blob, for PackedPolicySize (a percentage). */
const PACKED_CAPACITY_BYTES = 2048;

interface SessionInputs {
  readonly policy: CompiledPolicy | undefined;
  readonly policyText: string | undefined;
  readonly policyArns: readonly string[];
  readonly tags: readonly TagInput[];
}

/** Policy, PolicyArns.member.N.arn and Tags.member.N.{Key,Value}. */
function sessionInputs(ctx: ActionContext, v: Validator, withTags: boolean): () => SessionInputs {
  const policyText = v.optional('Policy', SESSION_POLICY_RULE);
  const arns = ctx.params.structList('PolicyArns', ['arn']).map((p) => p['arn'] ?? '');
  v.listLength('PolicyArns', arns.length, MAX_SESSION_POLICY_ARNS);
  arns.forEach((a, i) => v.checkString(a, `policyArns.${i + 1}.member.arn`, ARN_RULE));
  const tags = withTags ? v.tags('Tags', MAX_SESSION_TAGS) : [];
  // Parsed after the validation errors are reported, as STS does.
  return () => {
    const seen = new Set<string>();
    for (const t of tags) {
      const k = t.key.toLowerCase();
      if (seen.has(k)) throw validationError('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
      seen.add(k);
    }
    return {
      policy: policyText === undefined ? undefined : parsePolicy(policyText, 'identity'),
      policyText,
      policyArns: arns,
      tags,
    };
  };
}

/** The percentage of the session blob the policies and tags take, as STS reports. */
function packedPolicySize(inputs: SessionInputs): number | undefined {
  if (inputs.policyText === undefined && inputs.policyArns.length === 0 && inputs.tags.length === 0) return undefined;
  const packed = deflateRawSync(
    JSON.stringify([inputs.policyText ?? '', inputs.policyArns, inputs.tags.map((t) => [t.key, t.value])]),
  ).length;
  const percent = Math.ceil((packed * 100) / PACKED_CAPACITY_BYTES);
  if (percent > 100) {
    throw new AwsError('PackedPolicyTooLarge', `Packed policy consumes ${percent}% of allotted space, please use smaller policy for this session.`);
  }
  return percent;
}

function issue(
  account: Account,
  kind: TempKind,
  identity: Identity,
  seconds: number,
  extra: { mfa: boolean; inputs: SessionInputs | undefined; chained: boolean; sourceIdentity: string | undefined },
): TempCredential {
  const now = account.clock.now();
  // Whole seconds, so the Expiration reported (second precision) is exact.
  const expiration = Math.floor((now + seconds * 1000) / 1000) * 1000;
  const cred: TempCredential = {
    accessKeyId: newTempAccessKeyId(),
    secret: randomSecret(),
    sessionToken: randomToken(288),
    kind,
    identity,
    issuedAt: now,
    expiration,
    mfa: extra.mfa,
    sessionPolicy: extra.inputs?.policy,
    sessionPolicyText: extra.inputs?.policyText,
    sessionPolicyArns: extra.inputs?.policyArns ?? [],
    tags: extra.inputs?.tags ?? [],
    chained: extra.chained,
    sourceIdentity: extra.sourceIdentity,
  };
  account.addTempCredential(cred);
  return cred;
}

function credentialsXml(c: TempCredential): string {
  return (
    `<Credentials>${el('AccessKeyId', c.accessKeyId)}${el('SecretAccessKey', c.secret)}` +
    `${el('SessionToken', c.sessionToken)}<Expiration>${isoDate(c.expiration)}</Expiration></Credentials>`
  );
}

/** Checks SerialNumber + TokenCode against the calling user's enabled virtual MFA device. */
function checkMfa(caller: Caller, serial: string | undefined, code: string | undefined): boolean {
  if (serial === undefined && code === undefined) return false;
  if (serial === undefined || code === undefined) {
    throw accessDenied('MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.');
  }
  const user: User | undefined = caller.identity.kind === 'user' ? caller.identity.user : undefined;
  const device = user?.mfaDevices.find((d) => d.serialNumber.toLowerCase() === serial.toLowerCase());
  // TOTP codes come from the user's authenticator, which runs on real time.
  if (device === undefined || !verifyTotp(device.seed, code, Date.now())) {
    throw accessDenied('MultiFactorAuthentication failed with invalid MFA one time pass code. ');
  }
  return true;
}

function notAuthorized(ctx: ActionContext, action: string, resource: string): AwsError {
  const arn = identityArn(ctx.account, ctx.caller.identity);
  return accessDenied(`User: ${arn} is not authorized to perform: ${action} on resource: ${resource}`);
}

function findRole(account: Account, roleArn: string): Role | undefined {
  const m = ROLE_ARN.exec(roleArn);
  if (m === null || m[1] !== account.accountId) return undefined;
  const role = account.roles.get((m[2] ?? '').toLowerCase());
  return role?.arn === roleArn ? role : undefined;
}

// ---- Actions ------------------------------------------------------------------

const getCallerIdentity: ActionHandler = (ctx) => {
  // Needs no permission: AWS answers it even when every action is denied.
  const { account, caller } = ctx;
  return (
    el('UserId', identityUserId(account, caller.identity)) +
    el('Account', account.accountId) +
    el('Arn', identityArn(account, caller.identity))
  );
};

const assumeRole: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const roleArn = v.required('RoleArn', ARN_RULE);
  const sessionName = v.required('RoleSessionName', SESSION_NAME_RULE);
  const duration = v.int('DurationSeconds', { min: 900, max: 43200 });
  const inputs = sessionInputs(ctx, v, true);
  const transitive = ctx.params.list('TransitiveTagKeys');
  v.listLength('TransitiveTagKeys', transitive.length, MAX_SESSION_TAGS);
  const externalId = v.optional('ExternalId', EXTERNAL_ID_RULE);
  const serial = v.optional('SerialNumber', SERIAL_NUMBER_RULE);
  const tokenCode = v.optional('TokenCode', AUTH_CODE_RULE);
  const sourceIdentity = v.optional('SourceIdentity', SOURCE_IDENTITY_RULE);
  v.finish();
  if (!roleArn.startsWith('arn:')) throw validationError(`${roleArn} is invalid`);
  const session = inputs();

  const { account, caller } = ctx;
  const id = caller.identity;
  if (id.kind === 'root') throw accessDenied('Roles may not be assumed by root accounts.');
  if (id.kind === 'federated') throw notAuthorized(ctx, 'sts:AssumeRole', roleArn);
  const chained = id.kind === 'assumed-role';
  if (chained && duration !== undefined && duration > ROLE_CHAINING_MAX_SECONDS) {
    throw validationError('The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  }
  const mfa = checkMfa(caller, serial, tokenCode) || (caller.temp?.mfa ?? false);

  const role = findRole(account, roleArn);
  if (role === undefined) throw notAuthorized(ctx, 'sts:AssumeRole', roleArn);

  const extra: Record<string, ContextValue> = {
    ...requestTagContext(session.tags),
    'sts:RoleSessionName': sessionName,
    'aws:MultiFactorAuthPresent': String(mfa),
  };
  if (externalId !== undefined) extra['sts:ExternalId'] = externalId;
  if (sourceIdentity !== undefined) extra['sts:SourceIdentity'] = sourceIdentity;
  if (transitive.length > 0) extra['sts:TransitiveTagKeys'] = transitive;
  const context = requestContext(account, caller, extra);
  const principal = {
    arn: identityArn(account, id),
    accountId: account.accountId,
    ...(id.kind === 'assumed-role' ? { roleArn: id.role.arn } : {}),
  };
  const trust = evaluateTrust(role.trust, principal, { action: 'sts:assumerole', resource: role.arn, context });
  if (trust.decision !== 'Allow') throw notAuthorized(ctx, 'sts:AssumeRole', role.arn);
  // Trusting only the account delegates the decision to the caller's own policies;
  // naming the caller grants it, though the caller's explicit denies still apply.
  authorize(account, caller, 'sts:AssumeRole', role.arn, extra, trust.direct);
  // Session tags and a source identity need their own trust-policy permission.
  for (const [needed, action] of [
    [session.tags.length > 0, 'sts:TagSession'],
    [sourceIdentity !== undefined, 'sts:SetSourceIdentity'],
  ] as const) {
    if (!needed) continue;
    const t = evaluateTrust(role.trust, principal, { action: action.toLowerCase(), resource: role.arn, context });
    if (t.decision !== 'Allow') throw notAuthorized(ctx, action, role.arn);
    authorize(account, caller, action, role.arn, extra, t.direct);
  }

  const seconds = duration ?? 3600;
  if (seconds > role.maxSessionDuration) {
    throw validationError('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }
  const packed = packedPolicySize(session);
  role.lastUsed = { date: account.clock.now(), region: caller.region };
  const cred = issue(account, 'assumed-role', { kind: 'assumed-role', role, sessionName }, seconds, {
    mfa,
    inputs: session,
    chained,
    sourceIdentity,
  });
  return (
    credentialsXml(cred) +
    `<AssumedRoleUser>${el('AssumedRoleId', `${role.id}:${sessionName}`)}` +
    `${el('Arn', `arn:aws:sts::${account.accountId}:assumed-role/${role.name}/${sessionName}`)}</AssumedRoleUser>` +
    el('PackedPolicySize', packed) +
    el('SourceIdentity', sourceIdentity)
  );
};

const getFederationToken: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('Name', FEDERATED_NAME_RULE);
  const duration = v.int('DurationSeconds', { min: 900, max: MAX_TOKEN_SECONDS });
  const inputs = sessionInputs(ctx, v, true);
  v.finish();
  const session = inputs();
  const { account, caller } = ctx;
  if (caller.temp !== undefined) throw accessDenied('Cannot call GetFederationToken with session credentials');
  const id = caller.identity;
  if (id.kind !== 'root' && id.kind !== 'user') throw accessDenied('Cannot call GetFederationToken with session credentials');
  const federatedArn = `arn:aws:sts::${account.accountId}:federated-user/${name}`;
  authorize(account, caller, 'sts:GetFederationToken', federatedArn, requestTagContext(session.tags));
  let seconds = duration ?? DEFAULT_TOKEN_SECONDS;
  // Root-issued sessions are capped at one hour rather than refused.
  if (id.kind === 'root') seconds = Math.min(seconds, ROOT_MAX_SECONDS);
  const packed = packedPolicySize(session);
  const cred = issue(account, 'federation', { kind: 'federated', name, parent: id }, seconds, {
    mfa: false,
    inputs: session,
    chained: false,
    sourceIdentity: undefined,
  });
  return (
    credentialsXml(cred) +
    `<FederatedUser>${el('FederatedUserId', `${account.accountId}:${name}`)}${el('Arn', federatedArn)}</FederatedUser>` +
    el('PackedPolicySize', packed)
  );
};

const getSessionToken: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const duration = v.int('DurationSeconds', { min: 900, max: MAX_TOKEN_SECONDS });
  const serial = v.optional('SerialNumber', SERIAL_NUMBER_RULE);
  const tokenCode = v.optional('TokenCode', AUTH_CODE_RULE);
  v.finish();
  const { account, caller } = ctx;
  if (caller.temp !== undefined) throw accessDenied('Cannot call GetSessionToken with session credentials');
  const id = caller.identity;
  if (id.kind !== 'root' && id.kind !== 'user') throw accessDenied('Cannot call GetSessionToken with session credentials');
  // No permission is needed: the operation only authenticates (optionally with MFA).
  const mfa = checkMfa(caller, serial, tokenCode);
  const seconds =
    id.kind === 'root' ? Math.min(duration ?? ROOT_MAX_SECONDS, ROOT_MAX_SECONDS) : (duration ?? DEFAULT_TOKEN_SECONDS);
  const cred = issue(account, 'session-token', id, seconds, {
    mfa,
    inputs: undefined,
    chained: false,
    sourceIdentity: undefined,
  });
  return credentialsXml(cred);
};

export const STS_ACTIONS: ReadonlyMap<string, ActionHandler> = new Map([
  ['GetCallerIdentity', getCallerIdentity],
  ['AssumeRole', assumeRole],
  ['GetFederationToken', getFederationToken],
  ['GetSessionToken', getSessionToken],
]);
