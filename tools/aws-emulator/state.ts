/**
 * The in-memory AWS account: IAM entities, their credentials, temporary STS
 * credentials, and the emulator's clock. Entity names are unique without
 * regard to case in IAM, so every name-keyed map uses the lower-cased name.
 */

import { randomBytes } from 'node:crypto';
import { type CompiledPolicy, AWS_MANAGED_POLICIES, parsePolicy } from './policy.js';
import type { TagInput } from './params.js';

// ---------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const POOL_SIZE = 64 * 1024;
let pool = randomBytes(POOL_SIZE);
let poolPos = 0;

/** Random bytes from a pooled buffer: seeding 100k users needs ~10M of them. */
function takeRandom(n: number): Buffer {
  if (poolPos + n > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolPos = 0;
  }
  const out = pool.subarray(poolPos, poolPos + n);
  poolPos += n;
  return out;
}

/** Upper-case alphanumerics (the base32 alphabet, as in real AWS ids). */
export function randomId(prefix: string, length: number): string {
  const bytes = takeRandom(length);
  let out = prefix;
  for (let i = 0; i < length; i++) out += BASE32[(bytes[i] ?? 0) & 31];
  return out;
}

/** 40 characters of base64, the shape of an AWS secret access key. */
export function randomSecret(): string {
  return takeRandom(30).toString('base64');
}

export function randomToken(bytes: number): string {
  return takeRandom(bytes).toString('base64');
}

/** Id lengths as AWS issues them: AKIA + 16, AIDA + 17, and so on. */
export const newAccessKeyId = (): string => randomId('AKIA', 16);
export const newTempAccessKeyId = (): string => randomId('ASIA', 16);
export const newUserId = (): string => randomId('AIDA', 17);
export const newRoleId = (): string => randomId('AROA', 17);
export const newGroupId = (): string => randomId('AGPA', 17);
export const newPolicyId = (): string => randomId('ANPA', 17);
export const newSshKeyId = (): string => randomId('APKA', 16);
export const newServiceCredentialId = (): string => randomId('ACCA', 17);
export const newCertificateId = (): string => randomId('', 32);

// ---------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------

export type Tag = TagInput;
export type KeyStatus = 'Active' | 'Inactive';

export interface InlinePolicy {
  readonly name: string;
  readonly document: string;
  readonly compiled: CompiledPolicy;
  /** Characters excluding whitespace, the unit of IAM's inline policy quotas. */
  readonly size: number;
}

export interface ManagedPolicy {
  readonly name: string;
  readonly id: string;
  readonly arn: string;
  readonly path: string;
  readonly description: string;
  readonly document: string;
  readonly compiled: CompiledPolicy;
  readonly createDate: number;
  readonly updateDate: number;
  readonly awsManaged: boolean;
  tags: Tag[];
  readonly attachments: Set<PolicyHolder>;
  boundaryUses: number;
}

interface PolicyHolderBase {
  readonly name: string;
  readonly id: string;
  readonly path: string;
  readonly arn: string;
  readonly createDate: number;
  /** Keyed by lower-cased policy name. */
  readonly inline: Map<string, InlinePolicy>;
  /** Keyed by policy ARN, in attachment order. */
  readonly attached: Map<string, ManagedPolicy>;
}

export interface AccessKey {
  readonly id: string;
  readonly secret: string;
  status: KeyStatus;
  readonly createDate: number;
  /** Until then the key is not yet known to authentication (IAM eventual consistency). */
  readonly activatesAt: number;
  /** Undefined for the account root user's keys. */
  readonly owner: User | undefined;
  lastUsed: { date: number; service: string; region: string } | undefined;
}

export interface LoginProfile {
  readonly createDate: number;
  passwordResetRequired: boolean;
}

export interface VirtualMfaDevice {
  readonly serialNumber: string;
  readonly name: string;
  readonly path: string;
  readonly seed: string;
  readonly createDate: number;
  tags: Tag[];
  user: User | undefined;
  enableDate: number | undefined;
}

export interface SigningCertificate {
  readonly id: string;
  readonly body: string;
  status: KeyStatus;
  readonly uploadDate: number;
}

export interface SshPublicKey {
  readonly id: string;
  readonly body: string;
  readonly fingerprint: string;
  status: KeyStatus;
  readonly uploadDate: number;
}

export interface ServiceCredential {
  readonly id: string;
  readonly serviceName: string;
  readonly serviceUserName: string;
  readonly password: string;
  status: KeyStatus;
  readonly createDate: number;
}

export interface User extends PolicyHolderBase {
  readonly kind: 'user';
  tags: Tag[];
  boundary: ManagedPolicy | undefined;
  readonly accessKeys: AccessKey[];
  readonly groups: Group[];
  loginProfile: LoginProfile | undefined;
  readonly mfaDevices: VirtualMfaDevice[];
  readonly signingCertificates: SigningCertificate[];
  readonly sshPublicKeys: SshPublicKey[];
  readonly serviceCredentials: ServiceCredential[];
}

export interface Group extends PolicyHolderBase {
  readonly kind: 'group';
  /** Keyed by lower-cased user name, in the order users were added. */
  readonly members: Map<string, User>;
}

export interface Role extends PolicyHolderBase {
  readonly kind: 'role';
  trustDocument: string;
  trust: CompiledPolicy;
  description: string | undefined;
  maxSessionDuration: number;
  boundary: ManagedPolicy | undefined;
  tags: Tag[];
  lastUsed: { date: number; region: string } | undefined;
}

export type PolicyHolder = User | Group | Role;

/** Who the credentials of a request belong to. */
export type Identity =
  | { readonly kind: 'root' }
  | { readonly kind: 'user'; readonly user: User }
  | { readonly kind: 'assumed-role'; readonly role: Role; readonly sessionName: string }
  | { readonly kind: 'federated'; readonly name: string; readonly parent: RootOrUser };

export type RootOrUser = { readonly kind: 'root' } | { readonly kind: 'user'; readonly user: User };

export type TempKind = 'session-token' | 'federation' | 'assumed-role';

export interface TempCredential {
  readonly accessKeyId: string;
  readonly secret: string;
  readonly sessionToken: string;
  readonly kind: TempKind;
  readonly identity: Identity;
  readonly issuedAt: number;
  readonly expiration: number;
  /** Whether MFA was presented when the credentials were obtained. */
  readonly mfa: boolean;
  readonly sessionPolicy: CompiledPolicy | undefined;
  /** The session policy as the caller sent it (for inspection through the admin API). */
  readonly sessionPolicyText: string | undefined;
  readonly sessionPolicyArns: readonly string[];
  readonly tags: readonly Tag[];
  /** Obtained by AssumeRole called with another role's session (role chaining). */
  readonly chained: boolean;
  readonly sourceIdentity: string | undefined;
}

/** The caller of one request, as established by its signature. */
export interface Caller {
  readonly identity: Identity;
  readonly accessKeyId: string;
  /** Present when signed with temporary (STS) credentials. */
  readonly temp: TempCredential | undefined;
  /** For the aws:SourceIp and aws:RequestedRegion condition keys. */
  readonly sourceIp: string;
  readonly region: string;
}

export const ROOT: { readonly kind: 'root' } = { kind: 'root' };

// ---------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------

/** Wall-clock time plus an offset that tests move forward. */
export class Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }

  get offsetSeconds(): number {
    return this.offsetMs / 1000;
  }

  reset(): void {
    this.offsetMs = 0;
  }
}

// ---------------------------------------------------------------------------
// Sorted name index (ListUsers paging over 100k users)
// ---------------------------------------------------------------------------

const CHUNK = 512;

/** First index in a sorted array whose element is >= name (or > name when `strict`). */
function bound(sorted: readonly string[], name: string, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] ?? '';
    if (v < name || (strict && v === name)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Lower-cased names in order, kept as a list of sorted chunks so inserts and
 * removals cost O(log n + chunk) even with 100k users; bulk inserts (seeding)
 * are sorted once, on the next use.
 */
export class SortedNames {
  private chunks: string[][] = [];
  private pending: string[] = [];

  add(name: string): void {
    this.flush();
    const ci = this.chunkFor(name, false);
    const chunk = this.chunks[ci];
    if (chunk === undefined) {
      this.chunks.push([name]);
      return;
    }
    chunk.splice(bound(chunk, name, false), 0, name);
    if (chunk.length > 2 * CHUNK) this.chunks.splice(ci + 1, 0, chunk.splice(CHUNK));
  }

  addBulk(name: string): void {
    this.pending.push(name);
  }

  remove(name: string): void {
    this.flush();
    const ci = this.chunkFor(name, false);
    const chunk = this.chunks[ci];
    if (chunk === undefined) return;
    const i = bound(chunk, name, false);
    if (chunk[i] !== name) return;
    chunk.splice(i, 1);
    if (chunk.length === 0) this.chunks.splice(ci, 1);
  }

  /** Names strictly after `after` (all names when undefined), in order. */
  *after(after: string | undefined): Generator<string, void, undefined> {
    this.flush();
    let ci = after === undefined ? 0 : this.chunkFor(after, true);
    let i = after === undefined ? 0 : bound(this.chunks[ci] ?? [], after, true);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const chunk = this.chunks[ci] ?? [];
      for (; i < chunk.length; i++) yield chunk[i] ?? '';
    }
  }

  clear(): void {
    this.chunks = [];
    this.pending = [];
  }

  /** The chunk that holds (or would hold) `name`: the first whose last name is >= (or >) it. */
  private chunkFor(name: string, strict: boolean): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid] ?? [];
      const last = chunk[chunk.length - 1] ?? '';
      if (last < name || (strict && last === name)) lo = mid + 1;
      else hi = mid;
    }
    // Past the end: inserts go into the last chunk.
    return lo === this.chunks.length && !strict && lo > 0 ? lo - 1 : lo;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const all = this.chunks.flat().concat(this.pending).sort();
    this.pending = [];
    this.chunks = [];
    for (let i = 0; i < all.length; i += CHUNK) this.chunks.push(all.slice(i, i + CHUNK));
  }
}

// ---------------------------------------------------------------------------
// Account
// ---------------------------------------------------------------------------

export interface AccountOptions {
  readonly accountId: string;
  readonly rootAccessKeyId: string;
  readonly rootSecretAccessKey: string;
  readonly keyActivationDelayMs: number;
}

export class Account {
  readonly accountId: string;
  readonly clock = new Clock();
  readonly createDate: number;
  keyActivationDelayMs: number;

  readonly users = new Map<string, User>();
  readonly userIndex = new SortedNames();
  readonly groups = new Map<string, Group>();
  readonly roles = new Map<string, Role>();
  /** Every managed policy by ARN, AWS managed ones included. */
  readonly policies = new Map<string, ManagedPolicy>();
  /** Customer managed policy names (lower-cased), unique per account. */
  readonly policyNames = new Map<string, ManagedPolicy>();
  readonly accessKeys = new Map<string, AccessKey>();
  readonly rootAccessKeys: AccessKey[] = [];
  readonly tempCredentials = new Map<string, TempCredential>();
  readonly mfaDevices = new Map<string, VirtualMfaDevice>();
  /** Signing certificate id by normalised body, to detect duplicates account-wide. */
  readonly certificateBodies = new Map<string, string>();
  private issuedSinceSweep = 0;

  constructor(private readonly options: AccountOptions) {
    this.accountId = options.accountId;
    this.keyActivationDelayMs = options.keyActivationDelayMs;
    this.createDate = Date.now();
    this.populate();
  }

  /** Back to a fresh account with the same root key and settings. */
  reset(): void {
    this.users.clear();
    this.userIndex.clear();
    this.groups.clear();
    this.roles.clear();
    this.policies.clear();
    this.policyNames.clear();
    this.accessKeys.clear();
    this.rootAccessKeys.length = 0;
    this.tempCredentials.clear();
    this.mfaDevices.clear();
    this.certificateBodies.clear();
    this.clock.reset();
    this.keyActivationDelayMs = this.options.keyActivationDelayMs;
    this.populate();
  }

  private populate(): void {
    const rootKey: AccessKey = {
      id: this.options.rootAccessKeyId,
      secret: this.options.rootSecretAccessKey,
      status: 'Active',
      createDate: this.createDate,
      activatesAt: 0,
      owner: undefined,
      lastUsed: undefined,
    };
    this.rootAccessKeys.push(rootKey);
    this.accessKeys.set(rootKey.id, rootKey);
    const created = Date.parse('2015-02-06T18:39:46Z');
    for (const def of AWS_MANAGED_POLICIES) {
      const arn = `arn:aws:iam::aws:policy/${def.name}`;
      this.policies.set(arn, {
        name: def.name,
        id: def.id,
        arn,
        path: '/',
        description: def.description,
        document: def.document,
        compiled: parsePolicy(def.document, 'identity'),
        createDate: created,
        updateDate: created,
        awsManaged: true,
        tags: [],
        attachments: new Set(),
        boundaryUses: 0,
      });
    }
  }

  get rootArn(): string {
    return `arn:aws:iam::${this.accountId}:root`;
  }

  arn(type: 'user' | 'group' | 'role' | 'policy' | 'mfa', path: string, name: string): string {
    return `arn:aws:iam::${this.accountId}:${type}${path}${name}`;
  }

  getUser(name: string): User | undefined {
    return this.users.get(name.toLowerCase());
  }

  /** Creates a user without validation; callers check names and limits first. */
  createUser(name: string, path: string, tags: Tag[], boundary: ManagedPolicy | undefined, bulk = false): User {
    const user: User = {
      kind: 'user',
      name,
      id: newUserId(),
      path,
      arn: this.arn('user', path, name),
      createDate: this.clock.now(),
      inline: new Map(),
      attached: new Map(),
      tags,
      boundary,
      accessKeys: [],
      groups: [],
      loginProfile: undefined,
      mfaDevices: [],
      signingCertificates: [],
      sshPublicKeys: [],
      serviceCredentials: [],
    };
    if (boundary !== undefined) boundary.boundaryUses++;
    const key = name.toLowerCase();
    this.users.set(key, user);
    if (bulk) this.userIndex.addBulk(key);
    else this.userIndex.add(key);
    return user;
  }

  deleteUser(user: User): void {
    const key = user.name.toLowerCase();
    this.users.delete(key);
    this.userIndex.remove(key);
    if (user.boundary !== undefined) user.boundary.boundaryUses--;
  }

  /** `activationDelayMs` models the delay before a new key works (0 when seeding). */
  createAccessKey(owner: User | undefined, activationDelayMs: number): AccessKey {
    const now = this.clock.now();
    const key: AccessKey = {
      id: newAccessKeyId(),
      secret: randomSecret(),
      status: 'Active',
      createDate: now,
      activatesAt: activationDelayMs > 0 ? now + activationDelayMs : 0,
      owner,
      lastUsed: undefined,
    };
    this.accessKeys.set(key.id, key);
    if (owner === undefined) this.rootAccessKeys.push(key);
    else owner.accessKeys.push(key);
    return key;
  }

  deleteAccessKey(key: AccessKey): void {
    this.accessKeys.delete(key.id);
    const list = key.owner === undefined ? this.rootAccessKeys : key.owner.accessKeys;
    const i = list.indexOf(key);
    if (i >= 0) list.splice(i, 1);
  }

  addTempCredential(cred: TempCredential): void {
    this.tempCredentials.set(cred.accessKeyId, cred);
    // Expired credentials are dropped now and then so long benchmarks stay flat.
    if (++this.issuedSinceSweep >= 1000) {
      this.issuedSinceSweep = 0;
      const now = this.clock.now();
      for (const [id, c] of this.tempCredentials) if (c.expiration <= now) this.tempCredentials.delete(id);
    }
  }

  /** Whether an entity is still the live one of its name (not deleted since). */
  isLive(holder: PolicyHolder): boolean {
    const key = holder.name.toLowerCase();
    switch (holder.kind) {
      case 'user':
        return this.users.get(key) === holder;
      case 'group':
        return this.groups.get(key) === holder;
      case 'role':
        return this.roles.get(key) === holder;
    }
  }
}

// ---------------------------------------------------------------------------
// Snapshots (admin API)
// ---------------------------------------------------------------------------

const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';
const tagsJson = (tags: readonly Tag[]): Array<{ Key: string; Value: string }> =>
  tags.map((t) => ({ Key: t.key, Value: t.value }));

export interface UserSnapshot {
  userName: string;
  userId: string;
  arn: string;
  path: string;
  createDate: string;
  tags: Array<{ Key: string; Value: string }>;
  permissionsBoundary: string | null;
  accessKeys: Array<{ accessKeyId: string; status: KeyStatus; createDate: string }>;
  inlinePolicyNames: string[];
  attachedPolicyArns: string[];
  groups: string[];
  loginProfile: { createDate: string; passwordResetRequired: boolean } | null;
  mfaDevices: Array<{ serialNumber: string; enableDate: string | null }>;
  signingCertificates: Array<{ certificateId: string; status: KeyStatus }>;
  sshPublicKeys: Array<{ sshPublicKeyId: string; status: KeyStatus }>;
  serviceSpecificCredentials: Array<{ serviceSpecificCredentialId: string; serviceName: string; status: KeyStatus }>;
}

export function snapshotUser(u: User): UserSnapshot {
  return {
    userName: u.name,
    userId: u.id,
    arn: u.arn,
    path: u.path,
    createDate: iso(u.createDate),
    tags: tagsJson(u.tags),
    permissionsBoundary: u.boundary?.arn ?? null,
    accessKeys: u.accessKeys.map((k) => ({ accessKeyId: k.id, status: k.status, createDate: iso(k.createDate) })),
    inlinePolicyNames: [...u.inline.values()].map((p) => p.name),
    attachedPolicyArns: [...u.attached.keys()],
    groups: u.groups.map((g) => g.name),
    loginProfile:
      u.loginProfile === undefined
        ? null
        : { createDate: iso(u.loginProfile.createDate), passwordResetRequired: u.loginProfile.passwordResetRequired },
    mfaDevices: u.mfaDevices.map((d) => ({
      serialNumber: d.serialNumber,
      enableDate: d.enableDate === undefined ? null : iso(d.enableDate),
    })),
    signingCertificates: u.signingCertificates.map((c) => ({ certificateId: c.id, status: c.status })),
    sshPublicKeys: u.sshPublicKeys.map((k) => ({ sshPublicKeyId: k.id, status: k.status })),
    serviceSpecificCredentials: u.serviceCredentials.map((c) => ({
      serviceSpecificCredentialId: c.id,
      serviceName: c.serviceName,
      status: c.status,
    })),
  };
}

export interface StateSnapshot {
  accountId: string;
  now: string;
  clockOffsetSeconds: number;
  keyActivationDelayMs: number;
  rootAccessKeys: Array<{ accessKeyId: string; status: KeyStatus }>;
  users: UserSnapshot[];
  groups: Array<{
    groupName: string;
    groupId: string;
    arn: string;
    path: string;
    members: string[];
    inlinePolicyNames: string[];
    attachedPolicyArns: string[];
  }>;
  roles: Array<{
    roleName: string;
    roleId: string;
    arn: string;
    path: string;
    maxSessionDuration: number;
    permissionsBoundary: string | null;
    tags: Array<{ Key: string; Value: string }>;
    inlinePolicyNames: string[];
    attachedPolicyArns: string[];
  }>;
  policies: Array<{
    policyName: string;
    arn: string;
    path: string;
    awsManaged: boolean;
    attachmentCount: number;
    permissionsBoundaryUsageCount: number;
  }>;
  virtualMfaDevices: Array<{ serialNumber: string; user: string | null }>;
  temporaryCredentials: Array<{
    accessKeyId: string;
    kind: TempKind;
    expiration: string;
    expired: boolean;
    mfa: boolean;
    /** The session policy document passed to STS, or null. */
    sessionPolicy: string | null;
    sessionPolicyArns: string[];
    /** Session tags. */
    tags: Array<{ Key: string; Value: string }>;
  }>;
}

export function snapshotAccount(a: Account, userNamePrefix?: string): StateSnapshot {
  const now = a.clock.now();
  const prefix = userNamePrefix?.toLowerCase();
  const users: UserSnapshot[] = [];
  for (const name of a.userIndex.after(undefined)) {
    if (prefix !== undefined && !name.startsWith(prefix)) continue;
    const u = a.users.get(name);
    if (u !== undefined) users.push(snapshotUser(u));
  }
  return {
    accountId: a.accountId,
    now: iso(now),
    clockOffsetSeconds: a.clock.offsetSeconds,
    keyActivationDelayMs: a.keyActivationDelayMs,
    rootAccessKeys: a.rootAccessKeys.map((k) => ({ accessKeyId: k.id, status: k.status })),
    users,
    groups: [...a.groups.values()].map((g) => ({
      groupName: g.name,
      groupId: g.id,
      arn: g.arn,
      path: g.path,
      members: [...g.members.values()].map((u) => u.name),
      inlinePolicyNames: [...g.inline.values()].map((p) => p.name),
      attachedPolicyArns: [...g.attached.keys()],
    })),
    roles: [...a.roles.values()].map((r) => ({
      roleName: r.name,
      roleId: r.id,
      arn: r.arn,
      path: r.path,
      maxSessionDuration: r.maxSessionDuration,
      permissionsBoundary: r.boundary?.arn ?? null,
      tags: tagsJson(r.tags),
      inlinePolicyNames: [...r.inline.values()].map((p) => p.name),
      attachedPolicyArns: [...r.attached.keys()],
    })),
    policies: [...a.policies.values()].map((p) => ({
      policyName: p.name,
      arn: p.arn,
      path: p.path,
      awsManaged: p.awsManaged,
      attachmentCount: p.attachments.size,
      permissionsBoundaryUsageCount: p.boundaryUses,
    })),
    virtualMfaDevices: [...a.mfaDevices.values()].map((d) => ({
      serialNumber: d.serialNumber,
      user: d.user?.name ?? null,
    })),
    temporaryCredentials: [...a.tempCredentials.values()].map((c) => ({
      accessKeyId: c.accessKeyId,
      kind: c.kind,
      expiration: iso(c.expiration),
      expired: c.expiration <= now,
      mfa: c.mfa,
      sessionPolicy: c.sessionPolicyText ?? null,
      sessionPolicyArns: [...c.sessionPolicyArns],
      tags: tagsJson(c.tags),
    })),
  };
}
