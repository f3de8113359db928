/**
 * What an action handler gets, and helpers the IAM and STS handlers share:
 * entity lookups with IAM's NoSuchEntity wording, paging, tag rules, and the
 * XML shapes of common data types.
 */

import { authorize } from './authz.js';
import { invalidInput, limitExceeded, noSuchEntity, validationError } from './errors.js';
import type { ContextValue } from './policy.js';
import { MARKER_RULE, MAX_ITEMS_RULE, type Params, type TagInput, type Validator } from './params.js';
import type { Account, Caller, ManagedPolicy, Role, Tag, User } from './state.js';
import { el, esc, isoDate, memberList } from './xml.js';

export interface ActionContext {
  readonly account: Account;
  readonly params: Params;
  readonly caller: Caller;
  /** The canonical name of a user deleted by this call, for the admin counters. */
  deletedUserName: string | undefined;
}

/** Returns the `<XResult>` content, or null for actions whose response has no result element. */
export type ActionHandler = (ctx: ActionContext) => string | null;

export function allow(
  ctx: ActionContext,
  action: string,
  resource: string,
  extra?: Readonly<Record<string, ContextValue>>,
): void {
  authorize(ctx.account, ctx.caller, action, resource, extra);
}

// ---- Lookups --------------------------------------------------------------

export function requireUser(account: Account, name: string): User {
  const u = account.getUser(name);
  if (u === undefined) throw noSuchEntity(`The user with name ${name} cannot be found.`);
  return u;
}

export function requireRole(account: Account, name: string): Role {
  const r = account.roles.get(name.toLowerCase());
  if (r === undefined) throw noSuchEntity(`The role with name ${name} cannot be found.`);
  return r;
}

/** For attaching: IAM's wording when the ARN names no attachable policy. */
export function requireAttachablePolicy(account: Account, arn: string): ManagedPolicy {
  const p = account.policies.get(arn);
  if (p === undefined) throw noSuchEntity(`Policy ${arn} does not exist or is not attachable.`);
  return p;
}

export function requirePolicy(account: Account, arn: string): ManagedPolicy {
  const p = account.policies.get(arn);
  if (p === undefined) throw noSuchEntity(`Policy ${arn} was not found.`);
  return p;
}

/**
 * The user an action with an optional UserName applies to: the named one, or
 * the caller. The root user is returned as 'root'; other non-user callers
 * must name a user.
 */
export function userOrCaller(ctx: ActionContext, name: string | undefined): User | 'root' {
  if (name !== undefined) return requireUser(ctx.account, name);
  const id = ctx.caller.identity;
  if (id.kind === 'user') {
    if (!ctx.account.isLive(id.user)) throw noSuchEntity(`The user with name ${id.user.name} cannot be found.`);
    return id.user;
  }
  if (id.kind === 'root') return 'root';
  throw validationError('Must specify userName when calling with non-User credentials');
}

// ---- Paging ---------------------------------------------------------------

export interface PageRequest {
  readonly marker: string | undefined;
  readonly maxItems: number;
}

export function pageRequest(v: Validator): PageRequest {
  const marker = v.optional('Marker', MARKER_RULE);
  const maxItems = v.int('MaxItems', MAX_ITEMS_RULE) ?? 100;
  return { marker, maxItems };
}

export function encodeMarker(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64');
}

export function decodeMarker(marker: string): string {
  return Buffer.from(marker, 'base64').toString('utf8');
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Set when more items follow. */
  readonly nextMarker: string | undefined;
}

/** Pages a list ordered by `keyOf`; the marker names the last key returned. */
export function paginate<T>(all: readonly T[], keyOf: (item: T) => string, page: PageRequest): Page<T> {
  const sorted = [...all].sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  let start = 0;
  if (page.marker !== undefined) {
    const after = decodeMarker(page.marker);
    while (start < sorted.length && keyOf(sorted[start] as T) <= after) start++;
  }
  const items = sorted.slice(start, start + page.maxItems);
  const last = items[items.length - 1];
  const more = start + page.maxItems < sorted.length && last !== undefined;
  return { items, nextMarker: more ? encodeMarker(keyOf(last)) : undefined };
}

export function truncationXml(nextMarker: string | undefined): string {
  return nextMarker === undefined
    ? '<IsTruncated>false</IsTruncated>'
    : `<IsTruncated>true</IsTruncated><Marker>${esc(nextMarker)}</Marker>`;
}

// ---- Tags -----------------------------------------------------------------

export const MAX_TAGS = 50;

/** Request-level tag rules beyond the per-field patterns. */
export function checkTagKeys(tags: readonly TagInput[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    const k = t.key.toLowerCase();
    if (seen.has(k)) throw invalidInput('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    seen.add(k);
    if (k.startsWith('aws:')) throw invalidInput("User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS tags.");
  }
}

/** Merges tags (keys compared without case, new value wins) under the per-entity quota. */
export function mergeTags(existing: readonly Tag[], added: readonly TagInput[], quotaName: string): Tag[] {
  const out = [...existing];
  for (const t of added) {
    const i = out.findIndex((e) => e.key.toLowerCase() === t.key.toLowerCase());
    if (i >= 0) out[i] = { key: t.key, value: t.value };
    else out.push({ key: t.key, value: t.value });
  }
  if (out.length > MAX_TAGS) throw limitExceeded(`Cannot exceed quota for ${quotaName}: ${MAX_TAGS}`);
  return out;
}

/** aws:RequestTag/* and aws:TagKeys for tag-on-create and TagX actions. */
export function requestTagContext(tags: readonly TagInput[]): Record<string, ContextValue> {
  const ctx: Record<string, ContextValue> = { 'aws:TagKeys': tags.map((t) => t.key) };
  for (const t of tags) ctx[`aws:RequestTag/${t.key}`] = t.value;
  return ctx;
}

export function resourceTagContext(tags: readonly Tag[]): Record<string, ContextValue> {
  const ctx: Record<string, ContextValue> = {};
  for (const t of tags) {
    ctx[`aws:ResourceTag/${t.key}`] = t.value;
    ctx[`iam:ResourceTag/${t.key}`] = t.value;
  }
  return ctx;
}

export function tagsXml(tags: readonly Tag[], elementName = 'Tags'): string {
  return memberList(
    elementName,
    tags.map((t) => el('Key', t.key) + el('Value', t.value)),
  );
}

// ---- Common data types ------------------------------------------------------

export function boundaryXml(boundary: ManagedPolicy | undefined): string {
  if (boundary === undefined) return '';
  return (
    '<PermissionsBoundary><PermissionsBoundaryType>PermissionsBoundaryPolicy</PermissionsBoundaryType>' +
    `${el('PermissionsBoundaryArn', boundary.arn)}</PermissionsBoundary>`
  );
}

/** The User data type; `full` adds what only GetUser/CreateUser return. */
export function userXml(u: User, full: boolean): string {
  let out =
    el('Path', u.path) +
    el('UserName', u.name) +
    el('UserId', u.id) +
    el('Arn', u.arn) +
    `<CreateDate>${isoDate(u.createDate)}</CreateDate>`;
  if (full) {
    out += boundaryXml(u.boundary);
    if (u.tags.length > 0) out += tagsXml(u.tags);
  }
  return out;
}
