/**
 * IAM actions on users and access keys, and the registry of every IAM action.
 * Rules and messages follow the IAM API reference and IAM's observed wording.
 */

import { alreadyExists, type AwsError, deleteConflict, limitExceeded, noSuchEntity } from './errors.js';
import {
  type ActionContext,
  type ActionHandler,
  allow,
  checkTagKeys,
  encodeMarker,
  decodeMarker,
  MAX_TAGS,
  mergeTags,
  pageRequest,
  paginate,
  requestTagContext,
  requireUser,
  resourceTagContext,
  tagsXml,
  truncationXml,
  userOrCaller,
  userXml,
} from './handler.js';
import { CREDENTIAL_ACTIONS } from './iam-credentials.js';
import { POLICY_ACTIONS } from './iam-policies.js';
import {
  ACCESS_KEY_ID_RULE,
  ARN_RULE,
  PATH_PREFIX_RULE,
  PATH_RULE,
  TAG_KEY_RULE,
  USER_NAME_RULE,
  Validator,
} from './params.js';
import type { ContextValue } from './policy.js';
import type { AccessKey, Account, ManagedPolicy, User } from './state.js';
import { el, isoDate, memberList } from './xml.js';

export const MAX_ACCESS_KEYS = 2;

/** The ARN used to authorize an action on a user, existing or not. */
function userResource(account: Account, name: string): string {
  return account.getUser(name)?.arn ?? account.arn('user', '/', name);
}

function userTargetContext(account: Account, name: string): Record<string, ContextValue> {
  const u = account.getUser(name);
  return u === undefined ? {} : resourceTagContext(u.tags);
}

/** A managed policy used as a permissions boundary. */
function requireBoundaryPolicy(account: Account, arn: string): ManagedPolicy {
  const p = account.policies.get(arn);
  if (p === undefined) throw noSuchEntity(`Scope ARN: ${arn} does not exist or is not attachable.`);
  return p;
}

// ---- Users ------------------------------------------------------------------

const createUser: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const path = v.optional('Path', PATH_RULE) ?? '/';
  const boundaryArn = v.optional('PermissionsBoundary', ARN_RULE);
  const tags = v.tags('Tags', MAX_TAGS);
  v.finish();
  checkTagKeys(tags);
  const extra: Record<string, string | readonly string[]> = requestTagContext(tags);
  if (boundaryArn !== undefined) extra['iam:PermissionsBoundary'] = boundaryArn;
  allow(ctx, 'iam:CreateUser', ctx.account.arn('user', path, name), extra);
  if (ctx.account.getUser(name) !== undefined) throw alreadyExists(`User with name ${name} already exists.`);
  const boundary = boundaryArn === undefined ? undefined : requireBoundaryPolicy(ctx.account, boundaryArn);
  const user = ctx.account.createUser(name, path, tags.map((t) => ({ ...t })), boundary);
  return `<User>${userXml(user, true)}</User>`;
};

const getUser: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  v.finish();
  const target = userOrCaller(ctx, name);
  if (target === 'root') {
    // The root user has no user name or path; IAM reports the account id as its UserId.
    const a = ctx.account;
    return `<User>${el('UserId', a.accountId)}${el('Arn', a.rootArn)}<CreateDate>${isoDate(a.createDate)}</CreateDate></User>`;
  }
  allow(ctx, 'iam:GetUser', target.arn, resourceTagContext(target.tags));
  return `<User>${userXml(target, true)}</User>`;
};

const listUsers: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const prefix = v.optional('PathPrefix', PATH_PREFIX_RULE);
  const page = pageRequest(v);
  v.finish();
  allow(ctx, 'iam:ListUsers', `arn:aws:iam::${ctx.account.accountId}:user/`);
  const out: string[] = [];
  let last: string | undefined;
  let truncated = false;
  for (const key of ctx.account.userIndex.after(page.marker === undefined ? undefined : decodeMarker(page.marker))) {
    const u = ctx.account.users.get(key);
    if (u === undefined || (prefix !== undefined && !u.path.startsWith(prefix))) continue;
    if (out.length === page.maxItems) {
      truncated = true;
      break;
    }
    out.push(userXml(u, false));
    last = key;
  }
  return memberList('Users', out) + truncationXml(truncated && last !== undefined ? encodeMarker(last) : undefined);
};

/** What DeleteUser refuses to delete through, in the order it is reported. */
function deleteUserConflict(u: User): string | undefined {
  if (u.loginProfile !== undefined) return 'Cannot delete entity, must delete login profile first.';
  if (u.accessKeys.length > 0) return 'Cannot delete entity, must delete access keys first.';
  if (u.signingCertificates.length > 0) return 'Cannot delete entity, must delete signing certificates first.';
  if (u.sshPublicKeys.length > 0) return 'Cannot delete entity, must delete SSH public keys first.';
  if (u.serviceCredentials.length > 0) return 'Cannot delete entity, must delete service specific credentials first.';
  if (u.mfaDevices.length > 0) return 'Cannot delete entity, must delete MFA device first.';
  if (u.inline.size > 0) return 'Cannot delete entity, must delete policies first.';
  if (u.attached.size > 0) return 'Cannot delete entity, must detach all policies first.';
  if (u.groups.length > 0) return 'Cannot delete entity, must remove users from group first.';
  return undefined;
}

const deleteUser: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  v.finish();
  allow(ctx, 'iam:DeleteUser', userResource(ctx.account, name), userTargetContext(ctx.account, name));
  const u = requireUser(ctx.account, name);
  const conflict = deleteUserConflict(u);
  if (conflict !== undefined) throw deleteConflict(conflict);
  ctx.account.deleteUser(u);
  ctx.deletedUserName = u.name;
  return null;
};

const tagUser: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const tags = v.tags('Tags', MAX_TAGS);
  if (!ctx.params.has('Tags') && tags.length === 0) v.required('Tags', {});
  v.finish();
  checkTagKeys(tags);
  allow(ctx, 'iam:TagUser', userResource(ctx.account, name), {
    ...userTargetContext(ctx.account, name),
    ...requestTagContext(tags),
  });
  const u = requireUser(ctx.account, name);
  u.tags = mergeTags(u.tags, tags, 'TagsPerUser');
  return null;
};

const untagUser: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const keys = ctx.params.list('TagKeys');
  if (!ctx.params.has('TagKeys') && keys.length === 0) v.required('TagKeys', {});
  v.listLength('TagKeys', keys.length, MAX_TAGS);
  keys.forEach((k, i) => v.checkString(k, `tagKeys.${i + 1}.member`, TAG_KEY_RULE));
  v.finish();
  allow(ctx, 'iam:UntagUser', userResource(ctx.account, name), {
    ...userTargetContext(ctx.account, name),
    'aws:TagKeys': keys,
  });
  const u = requireUser(ctx.account, name);
  const drop = new Set(keys.map((k) => k.toLowerCase()));
  u.tags = u.tags.filter((t) => !drop.has(t.key.toLowerCase()));
  return null;
};

const listUserTags: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const page = pageRequest(v);
  v.finish();
  allow(ctx, 'iam:ListUserTags', userResource(ctx.account, name), userTargetContext(ctx.account, name));
  const u = requireUser(ctx.account, name);
  const result = paginate(u.tags, (t) => t.key, page);
  return tagsXml(result.items) + truncationXml(result.nextMarker);
};

const putUserPermissionsBoundary: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const arn = v.required('PermissionsBoundary', ARN_RULE);
  v.finish();
  allow(ctx, 'iam:PutUserPermissionsBoundary', userResource(ctx.account, name), {
    ...userTargetContext(ctx.account, name),
    'iam:PermissionsBoundary': arn,
  });
  const u = requireUser(ctx.account, name);
  const policy = requireBoundaryPolicy(ctx.account, arn);
  if (u.boundary !== undefined) u.boundary.boundaryUses--;
  u.boundary = policy;
  policy.boundaryUses++;
  return null;
};

const deleteUserPermissionsBoundary: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  v.finish();
  allow(ctx, 'iam:DeleteUserPermissionsBoundary', userResource(ctx.account, name), userTargetContext(ctx.account, name));
  const u = requireUser(ctx.account, name);
  if (u.boundary !== undefined) u.boundary.boundaryUses--;
  u.boundary = undefined;
  return null;
};

// ---- Access keys ---------------------------------------------------------------

function keyTarget(ctx: ActionContext, action: string): { user: User | undefined; keys: AccessKey[] } {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  v.finish();
  const target = userOrCaller(ctx, name);
  if (target === 'root') return { user: undefined, keys: ctx.account.rootAccessKeys };
  allow(ctx, action, target.arn, resourceTagContext(target.tags));
  return { user: target, keys: target.accessKeys };
}

function accessKeyNotFound(id: string): AwsError {
  return noSuchEntity(`The Access Key with id ${id} cannot be found.`);
}

const createAccessKey: ActionHandler = (ctx) => {
  const { user, keys } = keyTarget(ctx, 'iam:CreateAccessKey');
  if (keys.length >= MAX_ACCESS_KEYS) throw limitExceeded(`Cannot exceed quota for AccessKeysPerUser: ${MAX_ACCESS_KEYS}`);
  const key = ctx.account.createAccessKey(user, ctx.account.keyActivationDelayMs);
  return (
    '<AccessKey>' +
    (user === undefined ? '' : el('UserName', user.name)) +
    el('AccessKeyId', key.id) +
    el('Status', key.status) +
    el('SecretAccessKey', key.secret) +
    `<CreateDate>${isoDate(key.createDate)}</CreateDate></AccessKey>`
  );
};

function findKey(ctx: ActionContext, action: string): AccessKey {
  const v = new Validator(ctx.params);
  const id = v.required('AccessKeyId', ACCESS_KEY_ID_RULE);
  v.finish();
  const { keys } = keyTarget(ctx, action);
  const key = keys.find((k) => k.id === id);
  if (key === undefined) throw accessKeyNotFound(id);
  return key;
}

const deleteAccessKey: ActionHandler = (ctx) => {
  ctx.account.deleteAccessKey(findKey(ctx, 'iam:DeleteAccessKey'));
  return null;
};

const updateAccessKey: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const status = v.enumOf('Status', ['Active', 'Inactive'] as const, true);
  v.finish();
  const key = findKey(ctx, 'iam:UpdateAccessKey');
  if (status !== undefined) key.status = status;
  return null;
};

const listAccessKeys: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const page = pageRequest(v);
  v.finish();
  const { user, keys } = keyTarget(ctx, 'iam:ListAccessKeys');
  const result = paginate(keys, (k) => k.id, page);
  const userName = user === undefined ? '' : el('UserName', user.name);
  return (
    userName +
    memberList(
      'AccessKeyMetadata',
      result.items.map(
        (k) => userName + el('AccessKeyId', k.id) + el('Status', k.status) + `<CreateDate>${isoDate(k.createDate)}</CreateDate>`,
      ),
    ) +
    truncationXml(result.nextMarker)
  );
};

const getAccessKeyLastUsed: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const id = v.required('AccessKeyId', ACCESS_KEY_ID_RULE);
  v.finish();
  const key = ctx.account.accessKeys.get(id);
  const owner = key?.owner;
  allow(ctx, 'iam:GetAccessKeyLastUsed', owner?.arn ?? ctx.account.rootArn);
  if (key === undefined) throw accessKeyNotFound(id);
  const used = key.lastUsed;
  return (
    (owner === undefined ? '' : el('UserName', owner.name)) +
    '<AccessKeyLastUsed>' +
    (used === undefined
      ? '<ServiceName>N/A</ServiceName><Region>N/A</Region>'
      : `<LastUsedDate>${isoDate(used.date)}</LastUsedDate>${el('ServiceName', used.service)}${el('Region', used.region)}`) +
    '</AccessKeyLastUsed>'
  );
};

// ---- Registry -------------------------------------------------------------------

const USER_ACTIONS: ReadonlyArray<readonly [string, ActionHandler]> = [
  ['CreateUser', createUser],
  ['GetUser', getUser],
  ['ListUsers', listUsers],
  ['DeleteUser', deleteUser],
  ['TagUser', tagUser],
  ['UntagUser', untagUser],
  ['ListUserTags', listUserTags],
  ['PutUserPermissionsBoundary', putUserPermissionsBoundary],
  ['DeleteUserPermissionsBoundary', deleteUserPermissionsBoundary],
  ['CreateAccessKey', createAccessKey],
  ['DeleteAccessKey', deleteAccessKey],
  ['UpdateAccessKey', updateAccessKey],
  ['ListAccessKeys', listAccessKeys],
  ['GetAccessKeyLastUsed', getAccessKeyLastUsed],
];

export const IAM_ACTIONS: ReadonlyMap<string, ActionHandler> = new Map([
  ...USER_ACTIONS,
  ...POLICY_ACTIONS,
  ...CREDENTIAL_ACTIONS,
]);

