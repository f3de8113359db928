/**
 * IAM actions on policies: inline and attached policies of users, groups and
 * roles (one generic implementation per verb), customer managed policies,
 * groups and their membership, and roles with their trust policies.
 */

import { AwsError, alreadyExists, deleteConflict, limitExceeded, noSuchEntity } from './errors.js';
import {
  type ActionContext,
  type ActionHandler,
  allow,
  boundaryXml,
  checkTagKeys,
  MAX_TAGS,
  pageRequest,
  paginate,
  requestTagContext,
  requireAttachablePolicy,
  requirePolicy,
  requireRole,
  requireUser,
  resourceTagContext,
  tagsXml,
  truncationXml,
  userXml,
} from './handler.js';
import {
  ARN_RULE,
  DESCRIPTION_RULE,
  GROUP_NAME_RULE,
  PATH_PREFIX_RULE,
  PATH_RULE,
  POLICY_DOCUMENT_RULE,
  POLICY_NAME_RULE,
  ROLE_NAME_RULE,
  type StringRule,
  USER_NAME_RULE,
  Validator,
} from './params.js';
import { type ContextValue, parsePolicy, policySize } from './policy.js';
import { type Account, type Group, type ManagedPolicy, type PolicyHolder, type Role, newGroupId, newPolicyId, newRoleId } from './state.js';
import { el, isoDate, memberList, rfc3986, stringList } from './xml.js';

/** Default IAM quotas. */
const MAX_ATTACHED_POLICIES = 10;
const MAX_GROUPS_PER_USER = 10;
const MANAGED_POLICY_MAX_SIZE = 6144;
const TRUST_POLICY_MAX_SIZE = 2048;
const DEFAULT_MAX_SESSION_DURATION = 3600;

// ---- Policy holders (users, groups, roles) --------------------------------------

interface HolderType {
  readonly suffix: 'User' | 'Group' | 'Role';
  readonly nameParam: 'UserName' | 'GroupName' | 'RoleName';
  readonly nameRule: StringRule;
  readonly label: 'user' | 'group' | 'role';
  /** Aggregate inline policy size quota (characters, whitespace excluded). */
  readonly inlineLimit: number;
  readonly attachQuota: string;
  lookup(account: Account, name: string): PolicyHolder;
  find(account: Account, name: string): PolicyHolder | undefined;
}

function requireGroup(account: Account, name: string): Group {
  const g = account.groups.get(name.toLowerCase());
  if (g === undefined) throw noSuchEntity(`The group with name ${name} cannot be found.`);
  return g;
}

const USER_TYPE: HolderType = {
  suffix: 'User',
  nameParam: 'UserName',
  nameRule: USER_NAME_RULE,
  label: 'user',
  inlineLimit: 2048,
  attachQuota: 'PoliciesPerUser',
  lookup: requireUser,
  find: (a, n) => a.getUser(n),
};

const GROUP_TYPE: HolderType = {
  suffix: 'Group',
  nameParam: 'GroupName',
  nameRule: GROUP_NAME_RULE,
  label: 'group',
  inlineLimit: 5120,
  attachQuota: 'PoliciesPerGroup',
  lookup: requireGroup,
  find: (a, n) => a.groups.get(n.toLowerCase()),
};

const ROLE_TYPE: HolderType = {
  suffix: 'Role',
  nameParam: 'RoleName',
  nameRule: ROLE_NAME_RULE,
  label: 'role',
  inlineLimit: 10240,
  attachQuota: 'PoliciesPerRole',
  lookup: requireRole,
  find: (a, n) => a.roles.get(n.toLowerCase()),
};

function holderResource(t: HolderType, account: Account, name: string): string {
  return t.find(account, name)?.arn ?? account.arn(t.label, '/', name);
}

function holderTagContext(t: HolderType, account: Account, name: string): Record<string, ContextValue> {
  const h = t.find(account, name);
  return h === undefined || h.kind === 'group' ? {} : resourceTagContext(h.tags);
}

function putInlinePolicy(t: HolderType): ActionHandler {
  return (ctx) => {
    const v = new Validator(ctx.params);
    const name = v.required(t.nameParam, t.nameRule);
    const policyName = v.required('PolicyName', POLICY_NAME_RULE);
    const document = v.required('PolicyDocument', POLICY_DOCUMENT_RULE);
    v.finish();
    allow(ctx, `iam:Put${t.suffix}Policy`, holderResource(t, ctx.account, name), holderTagContext(t, ctx.account, name));
    const holder = t.lookup(ctx.account, name);
    const compiled = parsePolicy(document, 'identity');
    const size = policySize(document);
    const key = policyName.toLowerCase();
    let total = size;
    for (const [k, p] of holder.inline) if (k !== key) total += p.size;
    if (total > t.inlineLimit) {
      throw limitExceeded(`Maximum policy size of ${t.inlineLimit} bytes exceeded for ${t.label} ${holder.name}`);
    }
    holder.inline.set(key, { name: policyName, document, compiled, size });
    return null;
  };
}

function inlinePolicyTarget(ctx: ActionContext, t: HolderType, verb: string) {
  const v = new Validator(ctx.params);
  const name = v.required(t.nameParam, t.nameRule);
  const policyName = v.required('PolicyName', POLICY_NAME_RULE);
  v.finish();
  allow(ctx, `iam:${verb}${t.suffix}Policy`, holderResource(t, ctx.account, name), holderTagContext(t, ctx.account, name));
  const holder = t.lookup(ctx.account, name);
  const policy = holder.inline.get(policyName.toLowerCase());
  if (policy === undefined) throw noSuchEntity(`The ${t.label} policy with name ${policyName} cannot be found.`);
  return { holder, policy };
}

function getInlinePolicy(t: HolderType): ActionHandler {
  return (ctx) => {
    const { holder, policy } = inlinePolicyTarget(ctx, t, 'Get');
    // IAM returns policy documents URL-encoded (RFC 3986).
    return el(t.nameParam, holder.name) + el('PolicyName', policy.name) + el('PolicyDocument', rfc3986(policy.document));
  };
}

function deleteInlinePolicy(t: HolderType): ActionHandler {
  return (ctx) => {
    const { holder, policy } = inlinePolicyTarget(ctx, t, 'Delete');
    holder.inline.delete(policy.name.toLowerCase());
    return null;
  };
}

function listInlinePolicies(t: HolderType): ActionHandler {
  return (ctx) => {
    const v = new Validator(ctx.params);
    const name = v.required(t.nameParam, t.nameRule);
    const page = pageRequest(v);
    v.finish();
    allow(ctx, `iam:List${t.suffix}Policies`, holderResource(t, ctx.account, name), holderTagContext(t, ctx.account, name));
    const holder = t.lookup(ctx.account, name);
    const result = paginate([...holder.inline.values()], (p) => p.name.toLowerCase(), page);
    return stringList('PolicyNames', result.items.map((p) => p.name)) + truncationXml(result.nextMarker);
  };
}

function attachPolicy(t: HolderType): ActionHandler {
  return (ctx) => {
    const v = new Validator(ctx.params);
    const name = v.required(t.nameParam, t.nameRule);
    const arn = v.required('PolicyArn', ARN_RULE);
    v.finish();
    allow(ctx, `iam:Attach${t.suffix}Policy`, holderResource(t, ctx.account, name), {
      ...holderTagContext(t, ctx.account, name),
      'iam:PolicyARN': arn,
    });
    const holder = t.lookup(ctx.account, name);
    const policy = requireAttachablePolicy(ctx.account, arn);
    if (holder.attached.has(arn)) return null;
    if (holder.attached.size >= MAX_ATTACHED_POLICIES) {
      throw limitExceeded(`Cannot exceed quota for ${t.attachQuota}: ${MAX_ATTACHED_POLICIES}`);
    }
    holder.attached.set(arn, policy);
    policy.attachments.add(holder);
    return null;
  };
}

function detachPolicy(t: HolderType): ActionHandler {
  return (ctx) => {
    const v = new Validator(ctx.params);
    const name = v.required(t.nameParam, t.nameRule);
    const arn = v.required('PolicyArn', ARN_RULE);
    v.finish();
    allow(ctx, `iam:Detach${t.suffix}Policy`, holderResource(t, ctx.account, name), {
      ...holderTagContext(t, ctx.account, name),
      'iam:PolicyARN': arn,
    });
    const holder = t.lookup(ctx.account, name);
    const policy = holder.attached.get(arn);
    if (policy === undefined) throw noSuchEntity(`Policy ${arn} was not found.`);
    holder.attached.delete(arn);
    policy.attachments.delete(holder);
    return null;
  };
}

function listAttachedPolicies(t: HolderType): ActionHandler {
  return (ctx) => {
    const v = new Validator(ctx.params);
    const name = v.required(t.nameParam, t.nameRule);
    const prefix = v.optional('PathPrefix', PATH_PREFIX_RULE);
    const page = pageRequest(v);
    v.finish();
    allow(ctx, `iam:ListAttached${t.suffix}Policies`, holderResource(t, ctx.account, name), holderTagContext(t, ctx.account, name));
    const holder = t.lookup(ctx.account, name);
    const all = [...holder.attached.values()].filter((p) => prefix === undefined || p.path.startsWith(prefix));
    const result = paginate(all, (p) => p.arn, page);
    return (
      memberList(
        'AttachedPolicies',
        result.items.map((p) => el('PolicyName', p.name) + el('PolicyArn', p.arn)),
      ) + truncationXml(result.nextMarker)
    );
  };
}

function holderActions(t: HolderType): Array<[string, ActionHandler]> {
  return [
    [`Put${t.suffix}Policy`, putInlinePolicy(t)],
    [`Get${t.suffix}Policy`, getInlinePolicy(t)],
    [`Delete${t.suffix}Policy`, deleteInlinePolicy(t)],
    [`List${t.suffix}Policies`, listInlinePolicies(t)],
    [`Attach${t.suffix}Policy`, attachPolicy(t)],
    [`Detach${t.suffix}Policy`, detachPolicy(t)],
    [`ListAttached${t.suffix}Policies`, listAttachedPolicies(t)],
  ];
}

// ---- Managed policies -------------------------------------------------------------

function policyXml(p: ManagedPolicy, full: boolean): string {
  return (
    el('PolicyName', p.name) +
    el('PolicyId', p.id) +
    el('Arn', p.arn) +
    el('Path', p.path) +
    '<DefaultVersionId>v1</DefaultVersionId>' +
    el('AttachmentCount', p.attachments.size) +
    el('PermissionsBoundaryUsageCount', p.boundaryUses) +
    '<IsAttachable>true</IsAttachable>' +
    (full && p.description !== '' ? el('Description', p.description) : '') +
    `<CreateDate>${isoDate(p.createDate)}</CreateDate><UpdateDate>${isoDate(p.updateDate)}</UpdateDate>` +
    (full && p.tags.length > 0 ? tagsXml(p.tags) : '')
  );
}

const createPolicy: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('PolicyName', POLICY_NAME_RULE);
  const path = v.optional('Path', PATH_RULE) ?? '/';
  const document = v.required('PolicyDocument', POLICY_DOCUMENT_RULE);
  const description = v.optional('Description', DESCRIPTION_RULE) ?? '';
  const tags = v.tags('Tags', MAX_TAGS);
  v.finish();
  checkTagKeys(tags);
  const a = ctx.account;
  const arn = a.arn('policy', path, name);
  allow(ctx, 'iam:CreatePolicy', arn, requestTagContext(tags));
  if (a.policyNames.has(name.toLowerCase())) {
    throw alreadyExists(`A policy called ${name} already exists. Duplicate names are not allowed.`);
  }
  const compiled = parsePolicy(document, 'identity');
  if (policySize(document) > MANAGED_POLICY_MAX_SIZE) {
    throw limitExceeded(`Cannot exceed quota for PolicySize: ${MANAGED_POLICY_MAX_SIZE}`);
  }
  const now = a.clock.now();
  const policy: ManagedPolicy = {
    name,
    id: newPolicyId(),
    arn,
    path,
    description,
    document,
    compiled,
    createDate: now,
    updateDate: now,
    awsManaged: false,
    tags: tags.map((t) => ({ ...t })),
    attachments: new Set(),
    boundaryUses: 0,
  };
  a.policies.set(arn, policy);
  a.policyNames.set(name.toLowerCase(), policy);
  return `<Policy>${policyXml(policy, true)}</Policy>`;
};

function policyArnParam(ctx: ActionContext, action: string): ManagedPolicy {
  const v = new Validator(ctx.params);
  const arn = v.required('PolicyArn', ARN_RULE);
  v.finish();
  allow(ctx, action, arn);
  return requirePolicy(ctx.account, arn);
}

const getPolicy: ActionHandler = (ctx) => `<Policy>${policyXml(policyArnParam(ctx, 'iam:GetPolicy'), true)}</Policy>`;

const deletePolicy: ActionHandler = (ctx) => {
  const policy = policyArnParam(ctx, 'iam:DeletePolicy');
  if (policy.awsManaged) throw new AwsError('AccessDenied', 'Cannot delete policies outside your own account.');
  if (policy.attachments.size > 0 || policy.boundaryUses > 0) {
    throw deleteConflict('Cannot delete a policy attached to entities.');
  }
  ctx.account.policies.delete(policy.arn);
  ctx.account.policyNames.delete(policy.name.toLowerCase());
  return null;
};

const VERSION_ID_RULE: StringRule = {
  pattern: /^v[1-9][0-9]*(?:\.[A-Za-z0-9-]*)?$/,
  patternText: 'v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?',
};

const getPolicyVersion: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const arn = v.required('PolicyArn', ARN_RULE);
  const versionId = v.required('VersionId', VERSION_ID_RULE);
  v.finish();
  allow(ctx, 'iam:GetPolicyVersion', arn);
  const policy = requirePolicy(ctx.account, arn);
  // Policies here have a single version; CreatePolicyVersion is not emulated.
  if (versionId !== 'v1') throw noSuchEntity(`Policy ${arn} version ${versionId} does not exist or is not attachable.`);
  return (
    `<PolicyVersion>${el('Document', rfc3986(policy.document))}<VersionId>v1</VersionId>` +
    `<IsDefaultVersion>true</IsDefaultVersion><CreateDate>${isoDate(policy.createDate)}</CreateDate></PolicyVersion>`
  );
};

const listPolicies: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const scope = v.enumOf('Scope', ['All', 'AWS', 'Local'] as const, false) ?? 'All';
  const onlyAttached = v.bool('OnlyAttached') ?? false;
  const prefix = v.optional('PathPrefix', PATH_PREFIX_RULE);
  const usage = v.enumOf('PolicyUsageFilter', ['PermissionsPolicy', 'PermissionsBoundary'] as const, false);
  const page = pageRequest(v);
  v.finish();
  allow(ctx, 'iam:ListPolicies', `arn:aws:iam::${ctx.account.accountId}:policy/`);
  const all = [...ctx.account.policies.values()].filter(
    (p) =>
      (scope === 'All' || (scope === 'AWS') === p.awsManaged) &&
      (!onlyAttached || p.attachments.size > 0 || p.boundaryUses > 0) &&
      (prefix === undefined || p.path.startsWith(prefix)) &&
      (usage === undefined || (usage === 'PermissionsPolicy' ? p.attachments.size > 0 : p.boundaryUses > 0)),
  );
  const result = paginate(all, (p) => p.name.toLowerCase(), page);
  return memberList('Policies', result.items.map((p) => policyXml(p, false))) + truncationXml(result.nextMarker);
};

// ---- Groups ----------------------------------------------------------------------

function groupXml(g: Group): string {
  return (
    el('Path', g.path) +
    el('GroupName', g.name) +
    el('GroupId', g.id) +
    el('Arn', g.arn) +
    `<CreateDate>${isoDate(g.createDate)}</CreateDate>`
  );
}

const createGroup: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('GroupName', GROUP_NAME_RULE);
  const path = v.optional('Path', PATH_RULE) ?? '/';
  v.finish();
  const a = ctx.account;
  const arn = a.arn('group', path, name);
  allow(ctx, 'iam:CreateGroup', arn);
  if (a.groups.has(name.toLowerCase())) throw alreadyExists(`Group with name ${name} already exists.`);
  const group: Group = {
    kind: 'group',
    name,
    id: newGroupId(),
    path,
    arn,
    createDate: a.clock.now(),
    inline: new Map(),
    attached: new Map(),
    members: new Map(),
  };
  a.groups.set(name.toLowerCase(), group);
  return `<Group>${groupXml(group)}</Group>`;
};

function groupParam(ctx: ActionContext, action: string, withPage: boolean) {
  const v = new Validator(ctx.params);
  const name = v.required('GroupName', GROUP_NAME_RULE);
  const page = withPage ? pageRequest(v) : undefined;
  v.finish();
  allow(ctx, action, holderResource(GROUP_TYPE, ctx.account, name));
  return { group: requireGroup(ctx.account, name), page };
}

const getGroup: ActionHandler = (ctx) => {
  const { group, page } = groupParam(ctx, 'iam:GetGroup', true);
  const result = paginate([...group.members.values()], (u) => u.name.toLowerCase(), page ?? { marker: undefined, maxItems: 100 });
  return (
    `<Group>${groupXml(group)}</Group>` +
    memberList('Users', result.items.map((u) => userXml(u, false))) +
    truncationXml(result.nextMarker)
  );
};

const deleteGroup: ActionHandler = (ctx) => {
  const { group } = groupParam(ctx, 'iam:DeleteGroup', false);
  if (group.members.size > 0) throw deleteConflict('Cannot delete entity, must remove users from group first.');
  if (group.inline.size > 0) throw deleteConflict('Cannot delete entity, must delete policies first.');
  if (group.attached.size > 0) throw deleteConflict('Cannot delete entity, must detach all policies first.');
  ctx.account.groups.delete(group.name.toLowerCase());
  return null;
};

const listGroups: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const prefix = v.optional('PathPrefix', PATH_PREFIX_RULE);
  const page = pageRequest(v);
  v.finish();
  allow(ctx, 'iam:ListGroups', `arn:aws:iam::${ctx.account.accountId}:group/`);
  const all = [...ctx.account.groups.values()].filter((g) => prefix === undefined || g.path.startsWith(prefix));
  const result = paginate(all, (g) => g.name.toLowerCase(), page);
  return memberList('Groups', result.items.map(groupXml)) + truncationXml(result.nextMarker);
};

function membershipParams(ctx: ActionContext, action: string) {
  const v = new Validator(ctx.params);
  const groupName = v.required('GroupName', GROUP_NAME_RULE);
  const userName = v.required('UserName', USER_NAME_RULE);
  v.finish();
  allow(ctx, action, holderResource(GROUP_TYPE, ctx.account, groupName));
  return { group: requireGroup(ctx.account, groupName), user: requireUser(ctx.account, userName) };
}

const addUserToGroup: ActionHandler = (ctx) => {
  const { group, user } = membershipParams(ctx, 'iam:AddUserToGroup');
  if (group.members.has(user.name.toLowerCase())) return null;
  if (user.groups.length >= MAX_GROUPS_PER_USER) {
    throw limitExceeded(`Cannot exceed quota for GroupsPerUser: ${MAX_GROUPS_PER_USER}`);
  }
  group.members.set(user.name.toLowerCase(), user);
  user.groups.push(group);
  return null;
};

const removeUserFromGroup: ActionHandler = (ctx) => {
  const { group, user } = membershipParams(ctx, 'iam:RemoveUserFromGroup');
  if (!group.members.delete(user.name.toLowerCase())) {
    throw noSuchEntity(`The user with name ${user.name} cannot be found in group ${group.name}.`);
  }
  user.groups.splice(user.groups.indexOf(group), 1);
  return null;
};

const listGroupsForUser: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const page = pageRequest(v);
  v.finish();
  allow(ctx, 'iam:ListGroupsForUser', holderResource(USER_TYPE, ctx.account, name));
  const user = requireUser(ctx.account, name);
  const result = paginate(user.groups, (g) => g.name.toLowerCase(), page);
  return memberList('Groups', result.items.map(groupXml)) + truncationXml(result.nextMarker);
};

// ---- Roles -----------------------------------------------------------------------

function roleXml(r: Role, full: boolean): string {
  let out =
    el('Path', r.path) +
    el('RoleName', r.name) +
    el('RoleId', r.id) +
    el('Arn', r.arn) +
    `<CreateDate>${isoDate(r.createDate)}</CreateDate>` +
    el('AssumeRolePolicyDocument', rfc3986(r.trustDocument)) +
    el('Description', r.description) +
    el('MaxSessionDuration', r.maxSessionDuration);
  if (full) {
    out += boundaryXml(r.boundary);
    if (r.tags.length > 0) out += tagsXml(r.tags);
    out +=
      r.lastUsed === undefined
        ? '<RoleLastUsed/>'
        : `<RoleLastUsed><LastUsedDate>${isoDate(r.lastUsed.date)}</LastUsedDate>${el('Region', r.lastUsed.region)}</RoleLastUsed>`;
  }
  return out;
}

const PRINCIPAL_ARN = /^arn:aws:(iam|sts)::(\d{12}):(user|role|assumed-role)\/(.+)$/;

/** Trust policies may only name IAM users and roles of this account that exist. */
function principalExists(account: Account, arn: string): boolean {
  const m = PRINCIPAL_ARN.exec(arn);
  if (m === null || m[2] !== account.accountId) return true;
  const [, , , type, rest = ''] = m;
  if (type === 'user') return account.getUser(rest.slice(rest.lastIndexOf('/') + 1))?.arn === arn;
  if (type === 'role') return account.roles.get(rest.slice(rest.lastIndexOf('/') + 1).toLowerCase())?.arn === arn;
  return account.roles.has((rest.split('/')[0] ?? '').toLowerCase());
}

function parseTrustPolicy(account: Account, document: string) {
  if (policySize(document) > TRUST_POLICY_MAX_SIZE) {
    throw limitExceeded(`Cannot exceed quota for ACLSizePerRole: ${TRUST_POLICY_MAX_SIZE}`);
  }
  return parsePolicy(document, 'trust', (arn) => principalExists(account, arn));
}

const createRole: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('RoleName', ROLE_NAME_RULE);
  const path = v.optional('Path', PATH_RULE) ?? '/';
  const document = v.required('AssumeRolePolicyDocument', POLICY_DOCUMENT_RULE);
  const description = v.optional('Description', DESCRIPTION_RULE);
  const maxSessionDuration = v.int('MaxSessionDuration', { min: 3600, max: 43200 }) ?? DEFAULT_MAX_SESSION_DURATION;
  const boundaryArn = v.optional('PermissionsBoundary', ARN_RULE);
  const tags = v.tags('Tags', MAX_TAGS);
  v.finish();
  checkTagKeys(tags);
  const a = ctx.account;
  const arn = a.arn('role', path, name);
  const extra: Record<string, string | readonly string[]> = requestTagContext(tags);
  if (boundaryArn !== undefined) extra['iam:PermissionsBoundary'] = boundaryArn;
  allow(ctx, 'iam:CreateRole', arn, extra);
  if (a.roles.has(name.toLowerCase())) throw alreadyExists(`Role with name ${name} already exists.`);
  const trust = parseTrustPolicy(a, document);
  let boundary: ManagedPolicy | undefined;
  if (boundaryArn !== undefined) {
    boundary = a.policies.get(boundaryArn);
    if (boundary === undefined) throw noSuchEntity(`Scope ARN: ${boundaryArn} does not exist or is not attachable.`);
    boundary.boundaryUses++;
  }
  const role: Role = {
    kind: 'role',
    name,
    id: newRoleId(),
    path,
    arn,
    createDate: a.clock.now(),
    inline: new Map(),
    attached: new Map(),
    trustDocument: document,
    trust,
    description,
    maxSessionDuration,
    boundary,
    tags: tags.map((t) => ({ ...t })),
    lastUsed: undefined,
  };
  a.roles.set(name.toLowerCase(), role);
  return `<Role>${roleXml(role, true)}</Role>`;
};

function roleParam(ctx: ActionContext, action: string): Role {
  const v = new Validator(ctx.params);
  const name = v.required('RoleName', ROLE_NAME_RULE);
  v.finish();
  allow(ctx, action, holderResource(ROLE_TYPE, ctx.account, name), holderTagContext(ROLE_TYPE, ctx.account, name));
  return requireRole(ctx.account, name);
}

const getRole: ActionHandler = (ctx) => `<Role>${roleXml(roleParam(ctx, 'iam:GetRole'), true)}</Role>`;

const deleteRole: ActionHandler = (ctx) => {
  const role = roleParam(ctx, 'iam:DeleteRole');
  if (role.inline.size > 0) throw deleteConflict('Cannot delete entity, must delete policies first.');
  if (role.attached.size > 0) throw deleteConflict('Cannot delete entity, must detach all policies first.');
  if (role.boundary !== undefined) role.boundary.boundaryUses--;
  ctx.account.roles.delete(role.name.toLowerCase());
  return null;
};

const listRoles: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const prefix = v.optional('PathPrefix', PATH_PREFIX_RULE);
  const page = pageRequest(v);
  v.finish();
  allow(ctx, 'iam:ListRoles', `arn:aws:iam::${ctx.account.accountId}:role/`);
  const all = [...ctx.account.roles.values()].filter((r) => prefix === undefined || r.path.startsWith(prefix));
  const result = paginate(all, (r) => r.name.toLowerCase(), page);
  return memberList('Roles', result.items.map((r) => roleXml(r, false))) + truncationXml(result.nextMarker);
};

const updateAssumeRolePolicy: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  v.required('PolicyDocument', POLICY_DOCUMENT_RULE);
  v.finish();
  const role = roleParam(ctx, 'iam:UpdateAssumeRolePolicy');
  const document = ctx.params.get('PolicyDocument') ?? '';
  role.trust = parseTrustPolicy(ctx.account, document);
  role.trustDocument = document;
  return null;
};

export const POLICY_ACTIONS: ReadonlyArray<readonly [string, ActionHandler]> = [
  ...holderActions(USER_TYPE),
  ...holderActions(GROUP_TYPE),
  ...holderActions(ROLE_TYPE),
  ['CreatePolicy', createPolicy],
  ['GetPolicy', getPolicy],
  ['DeletePolicy', deletePolicy],
  ['GetPolicyVersion', getPolicyVersion],
  ['ListPolicies', listPolicies],
  ['CreateGroup', createGroup],
  ['GetGroup', getGroup],
  ['DeleteGroup', deleteGroup],
  ['ListGroups', listGroups],
  ['AddUserToGroup', addUserToGroup],
  ['RemoveUserFromGroup', removeUserFromGroup],
  ['ListGroupsForUser', listGroupsForUser],
  ['CreateRole', createRole],
  ['GetRole', getRole],
  ['DeleteRole', deleteRole],
  ['ListRoles', listRoles],
  ['UpdateAssumeRolePolicy', updateAssumeRolePolicy],
];

