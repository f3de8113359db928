/**
 * Who a caller is (ARN, user id) and whether it may perform an action: the
 * root user may do anything; everyone else needs an identity-policy Allow, no
 * explicit Deny, and, where present, an Allow from the permissions boundary
 * and the session policies as well (their intersection, as in IAM).
 */

import { accessDenied, invalidClientTokenId } from './errors.js';
import { type CompiledPolicy, type ContextValue, type Decision, type EvalRequest, evaluate } from './policy.js';
import type { Account, Caller, Identity, ManagedPolicy, Role, User } from './state.js';

export function identityArn(account: Account, identity: Identity): string {
  switch (identity.kind) {
    case 'root':
      return account.rootArn;
    case 'user':
      return identity.user.arn;
    case 'assumed-role':
      return `arn:aws:sts::${account.accountId}:assumed-role/${identity.role.name}/${identity.sessionName}`;
    case 'federated':
      return `arn:aws:sts::${account.accountId}:federated-user/${identity.name}`;
  }
}

/** The UserId GetCallerIdentity reports. */
export function identityUserId(account: Account, identity: Identity): string {
  switch (identity.kind) {
    case 'root':
      return account.accountId;
    case 'user':
      return identity.user.id;
    case 'assumed-role':
      return `${identity.role.id}:${identity.sessionName}`;
    case 'federated':
      return `${account.accountId}:${identity.name}`;
  }
}

const PRINCIPAL_TYPE: Readonly<Record<Identity['kind'], string>> = {
  root: 'Account',
  user: 'User',
  'assumed-role': 'AssumedRole',
  federated: 'FederatedUser',
};

/** Values of the global condition keys for this caller, keys lower-cased. */
export function requestContext(
  account: Account,
  caller: Caller,
  extra: Readonly<Record<string, ContextValue>> | undefined,
): Map<string, ContextValue> {
  const ctx = new Map<string, ContextValue>();
  const id = caller.identity;
  const now = account.clock.now();
  ctx.set('aws:principalaccount', account.accountId);
  ctx.set('aws:principaltype', PRINCIPAL_TYPE[id.kind]);
  ctx.set('aws:userid', identityUserId(account, id));
  ctx.set('aws:currenttime', new Date(now).toISOString());
  ctx.set('aws:epochtime', String(Math.floor(now / 1000)));
  ctx.set('aws:securetransport', 'false');
  ctx.set('aws:sourceip', caller.sourceIp);
  ctx.set('aws:requestedregion', caller.region);
  if (id.kind === 'user') {
    ctx.set('aws:username', id.user.name);
    ctx.set('aws:principalarn', id.user.arn);
    for (const t of id.user.tags) ctx.set(`aws:principaltag/${t.key.toLowerCase()}`, t.value);
  } else if (id.kind === 'assumed-role') {
    ctx.set('aws:principalarn', id.role.arn);
    for (const t of id.role.tags) ctx.set(`aws:principaltag/${t.key.toLowerCase()}`, t.value);
  } else {
    ctx.set('aws:principalarn', identityArn(account, id));
  }
  const temp = caller.temp;
  if (temp !== undefined) {
    // Present only for temporary credentials; absent for long-term keys.
    ctx.set('aws:multifactorauthpresent', String(temp.mfa));
    if (temp.mfa) ctx.set('aws:multifactorauthage', String(Math.floor((now - temp.issuedAt) / 1000)));
    ctx.set('aws:tokenissuetime', new Date(temp.issuedAt).toISOString());
    // Session tags override principal tags with the same key.
    for (const t of temp.tags) ctx.set(`aws:principaltag/${t.key.toLowerCase()}`, t.value);
    if (temp.sourceIdentity !== undefined) ctx.set('aws:sourceidentity', temp.sourceIdentity);
  }
  if (extra !== undefined) for (const [k, v] of Object.entries(extra)) ctx.set(k.toLowerCase(), v);
  return ctx;
}

/** Identity-based policies of a user (with its groups') or a role. */
export function identityPolicies(holder: User | Role): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  for (const p of holder.inline.values()) out.push(p.compiled);
  for (const p of holder.attached.values()) out.push(p.compiled);
  if (holder.kind === 'user') {
    for (const g of holder.groups) {
      for (const p of g.inline.values()) out.push(p.compiled);
      for (const p of g.attached.values()) out.push(p.compiled);
    }
  }
  return out;
}

function sessionPolicies(account: Account, caller: Caller): CompiledPolicy[] | undefined {
  const temp = caller.temp;
  if (temp === undefined) return undefined;
  const hasPolicies = temp.sessionPolicy !== undefined || temp.sessionPolicyArns.length > 0;
  // A federation token without session policies grants nothing.
  if (!hasPolicies) return temp.kind === 'federation' ? [] : undefined;
  const out: CompiledPolicy[] = [];
  if (temp.sessionPolicy !== undefined) out.push(temp.sessionPolicy);
  for (const arn of temp.sessionPolicyArns) {
    const p: ManagedPolicy | undefined = account.policies.get(arn);
    if (p !== undefined) out.push(p.compiled);
  }
  return out;
}

function denied(arn: string, action: string, resource: string, why: string): never {
  throw accessDenied(`User: ${arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`);
}

/** The policies that apply to a caller besides the root user's "everything". */
function principalHolder(identity: Identity): User | Role | undefined {
  switch (identity.kind) {
    case 'user':
      return identity.user;
    case 'assumed-role':
      return identity.role;
    case 'federated':
      return identity.parent.kind === 'user' ? identity.parent.user : undefined;
    case 'root':
      return undefined;
  }
}

/**
 * Evaluates the caller's permissions for `action` on `resource`, throwing
 * AccessDenied with IAM's message shape when it is not allowed.
 * `grantedByResource`: a resource-based policy (a role's trust policy) names
 * this principal, so within the account only explicit denies can still block.
 */
export function authorize(
  account: Account,
  caller: Caller,
  action: string,
  resource: string,
  extra?: Readonly<Record<string, ContextValue>>,
  grantedByResource = false,
): void {
  const id = caller.identity;
  if (id.kind === 'root') return;
  const req: EvalRequest = { action: action.toLowerCase(), resource, context: requestContext(account, caller, extra) };
  const arn = identityArn(account, id);
  const holder = principalHolder(id);
  const session = sessionPolicies(account, caller);

  // Root-derived federation: the root user's "everything" intersected with the session policies.
  let identityDecision: Decision = 'Allow';
  let boundaryDecision: Decision = 'Allow';
  if (holder !== undefined) {
    identityDecision = account.isLive(holder) ? evaluate(identityPolicies(holder), req) : 'None';
    if (holder.boundary !== undefined) boundaryDecision = evaluate([holder.boundary.compiled], req);
  }
  const sessionDecision: Decision = session === undefined ? 'Allow' : evaluate(session, req);

  if (identityDecision === 'Deny') denied(arn, action, resource, 'with an explicit deny in an identity-based policy');
  if (boundaryDecision === 'Deny') denied(arn, action, resource, 'with an explicit deny in a permissions boundary');
  if (sessionDecision === 'Deny') denied(arn, action, resource, 'with an explicit deny in a session policy');
  if (grantedByResource) return;
  if (identityDecision !== 'Allow') {
    denied(arn, action, resource, `because no identity-based policy allows the ${action} action`);
  }
  if (boundaryDecision !== 'Allow') {
    denied(arn, action, resource, `because no permissions boundary allows the ${action} action`);
  }
  if (sessionDecision !== 'Allow') denied(arn, action, resource, `because no session policy allows the ${action} action`);
}

/**
 * IAM does not accept federation tokens, nor GetSessionToken credentials
 * obtained without MFA (per the STS API reference); it treats them as an
 * invalid token.
 */
export function checkIamAcceptsCredentials(caller: Caller): void {
  const temp = caller.temp;
  if (temp === undefined) return;
  if (temp.kind === 'federation' || (temp.kind === 'session-token' && !temp.mfa)) throw invalidClientTokenId();
}
