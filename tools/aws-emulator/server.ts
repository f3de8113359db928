/**
 * The HTTP side: one endpoint speaking the AWS Query protocol for IAM and STS
 * (told apart by Version, or by the SigV4 credential scope), SigV4
 * authentication, fault injection, call counters, and a JSON admin API under
 * /_emulator/ that needs no signature.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkIamAcceptsCredentials } from './authz.js';
import { AwsError, defaultMessageFor, defaultStatusFor, invalidClientTokenId } from './errors.js';
import type { ActionContext, ActionHandler } from './handler.js';
import { IAM_ACTIONS } from './iam.js';
import { NAME_PATTERN, PATH_PATTERN, Params, TAG_KEY_PATTERN, TAG_VALUE_PATTERN } from './params.js';
import { parsePolicy, policySize } from './policy.js';
import { type AuthInfo, checkRequestTime, parseAuth, type SignedRequest, SigningKeyCache, verifySignature } from './sigv4.js';
import {
  Account,
  type Caller,
  type Identity,
  type InlinePolicy,
  ROOT,
  type StateSnapshot,
  type Tag,
  type TempCredential,
  type UserSnapshot,
  snapshotAccount,
  snapshotUser,
} from './state.js';
import { STS_ACTIONS } from './sts.js';
import { errorXml, IAM_NAMESPACE, STS_NAMESPACE, successXml } from './xml.js';

export const IAM_VERSION = '2010-05-08';
export const STS_VERSION = '2011-06-15';
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_ADMIN_BODY_BYTES = 64 * 1024 * 1024;
const ADMIN_PREFIX = '/_emulator/';
const INLINE_USER_POLICY_LIMIT = 2048;

type Service = 'iam' | 'sts';

// ---- Public types of the control surface ------------------------------------------

export interface FaultSpec {
  /** An action name ("CreateUser"), "iam:*"/"sts:*", "iam:CreateUser", or "*" (default). */
  readonly action?: string;
  /** The AWS error code to answer with; omit for a latency-only rule. */
  readonly code?: string;
  readonly status?: number;
  readonly message?: string;
  /** How many matching calls to affect (default: unlimited). */
  readonly count?: number;
  /** How long the rule stays in force (default: until cleared). */
  readonly forMs?: number;
  /** Chance that a matching call is affected (default 1). */
  readonly probability?: number;
  /** Delay before answering a matching call. */
  readonly latencyMs?: number;
}

export interface FaultInfo {
  readonly id: number;
  readonly action: string;
  readonly code: string | null;
  readonly status: number;
  readonly message: string;
  readonly remaining: number | null;
  readonly expiresAt: string | null;
  readonly probability: number;
  readonly latencyMs: number;
}

export interface CountsSnapshot {
  readonly totalCalls: number;
  /** Every AWS-protocol call received, by action. */
  readonly calls: Record<string, number>;
  /** Error responses by action, then by error code. */
  readonly errors: Record<string, Record<string, number>>;
  /** Successful DeleteUser calls by user name (a second one for a name means a re-created user). */
  readonly deleteUserSuccesses: Record<string, number>;
  /**
   * Every DeleteUser call received, by the user name asked for, whatever its
   * outcome (NoSuchEntity, DeleteConflict, a fault): a second call for one
   * name shows a caller deleting a user it already deleted, or deleting it twice at once.
   */
  readonly deleteUserCalls: Record<string, number>;
  /**
   * The same calls by outcome: "Success" or the error code ("NoSuchEntity",
   * "DeleteConflict", ...). A DeleteConflict call found the user still holding
   * something and deleted nothing; one deletion by one caller can take a
   * DeleteConflict and then a Success.
   */
  readonly deleteUserOutcomes: Record<string, Record<string, number>>;
}

export interface SeedSpec {
  readonly users: number;
  readonly prefix?: string;
  readonly path?: string;
  readonly tags?: ReadonlyArray<{ readonly Key: string; readonly Value: string }>;
  /** JSON text, or an object that is serialised. */
  readonly policyDocument?: string | object;
  readonly policyName?: string;
}

export interface SeededUser {
  readonly userName: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface EmulatorConfig {
  readonly accountId: string;
  readonly rootAccessKeyId: string;
  readonly rootSecretAccessKey: string;
  readonly keyActivationDelayMs: number;
}

/** A bad admin request; answered with 400 (or `status`) and a JSON error. */
export class AdminError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A request body over the size limit. */
class BodyTooLarge extends Error {}

interface FaultRule {
  readonly id: number;
  readonly action: string;
  readonly code: string | undefined;
  readonly status: number;
  readonly message: string;
  remaining: number;
  readonly until: number;
  readonly probability: number;
  readonly latencyMs: number;
}

// ---- Small helpers -------------------------------------------------------------------

/** Collects a body; past `limit` it keeps draining (so a 413 can be sent) but stores nothing. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) reject(new BodyTooLarge(`request body over ${limit} bytes`));
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function parseForm(text: string, into: Map<string, string>): void {
  if (text === '') return;
  for (const [k, v] of new URLSearchParams(text)) into.set(k, v);
}

function serviceForVersion(version: string | undefined): Service | undefined {
  if (version === IAM_VERSION) return 'iam';
  if (version === STS_VERSION) return 'sts';
  return undefined;
}

/** An injected latency: it does not keep the process alive (a test that ends while calls hang need not wait for them). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

type JsonRecord = Record<string, unknown>;

function asRecord(v: unknown, what: string): JsonRecord {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AdminError(`${what} must be a JSON object`);
  return v as JsonRecord;
}

function optNumber(o: JsonRecord, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new AdminError(`${key} must be a number between ${min} and ${max}`);
  }
  return v;
}

function optString(o: JsonRecord, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new AdminError(`${key} must be a string`);
  return v;
}

// ---- The emulator server --------------------------------------------------------------

export class EmulatorServer {
  readonly account: Account;
  private readonly http: Server;
  private readonly signingKeys = new SigningKeyCache();
  private faults: FaultRule[] = [];
  private nextFaultId = 1;
  private downUntil = 0;
  private totalCalls = 0;
  private readonly calls = new Map<string, number>();
  private readonly errors = new Map<string, Map<string, number>>();
  private readonly deleteUserSuccesses = new Map<string, number>();
  private readonly deleteUserCalls = new Map<string, number>();
  private readonly deleteUserOutcomes = new Map<string, Map<string, number>>();

  constructor(config: EmulatorConfig) {
    this.account = new Account(config);
    this.http = createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
    // Longer than clients' idle keep-alive so the server is not the side that races to close.
    this.http.keepAliveTimeout = 65_000;
    this.http.headersTimeout = 66_000;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http.close((err) => (err === undefined ? resolve() : reject(err)));
      this.http.closeAllConnections();
    });
  }

  // ---- Request entry --------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url.startsWith(ADMIN_PREFIX)) {
      readBody(req, MAX_ADMIN_BODY_BYTES)
        .then((body) => this.handleAdmin(req, res, url, body))
        .catch((e: unknown) =>
          this.sendAdminError(res, e instanceof BodyTooLarge ? new AdminError(e.message, 413) : e),
        );
      return;
    }
    if (this.isDown()) {
      // An unreachable endpoint: no response at all.
      req.socket.destroy();
      return;
    }
    readBody(req, MAX_BODY_BYTES)
      .then((body) => this.handleAws(req, res, url, body))
      .catch((e: unknown) => {
        if (res.headersSent || res.destroyed) return;
        const err =
          e instanceof BodyTooLarge
            ? new AwsError('RequestEntityTooLarge', e.message, 413)
            : new AwsError('ServiceFailure', defaultMessageFor('ServiceFailure'));
        const requestId = randomUUID();
        this.sendXml(res, err.status, errorXml(IAM_NAMESPACE, err, requestId), requestId);
      });
  }

  private isDown(): boolean {
    return this.downUntil > 0 && Date.now() < this.downUntil;
  }

  private sendXml(res: ServerResponse, status: number, body: string, requestId: string): void {
    res.writeHead(status, {
      'Content-Type': 'text/xml',
      'Content-Length': Buffer.byteLength(body),
      'x-amzn-RequestId': requestId,
    });
    res.end(body);
  }

  private async handleAws(req: IncomingMessage, res: ServerResponse, url: string, body: Buffer): Promise<void> {
    const requestId = randomUUID();
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const query = new Map<string, string>();
    parseForm(rawQuery, query);
    // Action parameters: the query string (GET, presigned) plus a POST's form body.
    const params = new Map(query);
    const method = req.method ?? 'GET';
    const bodyText = body.length === 0 ? '' : body.toString('utf8');
    if (method === 'POST') parseForm(bodyText, params);
    const action = params.get('Action');
    const version = params.get('Version');
    let service = serviceForVersion(version);
    let namespace = service === 'sts' ? STS_NAMESPACE : IAM_NAMESPACE;
    let countedAction: string | undefined;
    /** The UserName of a DeleteUser call, for its outcome. */
    let deletedName: string | undefined;
    try {
      if (method !== 'POST' && method !== 'GET') {
        throw new AwsError('InvalidAction', `The HTTP method ${method} is not supported; use POST or GET.`, 405);
      }
      const contentType = req.headers['content-type'];
      if (method === 'POST' && bodyText !== '' && contentType !== undefined && !contentType.includes('x-www-form-urlencoded')) {
        throw new AwsError('InvalidAction', `Content-Type ${contentType} is not supported; the AWS Query protocol uses application/x-www-form-urlencoded.`);
      }
      if (action === undefined || action === '') throw new AwsError('MissingAction', 'Missing Action');
      countedAction = this.countCall(service, action);
      if (service === 'iam' && action === 'DeleteUser') {
        deletedName = params.get('UserName') ?? '';
        this.deleteUserCalls.set(deletedName, (this.deleteUserCalls.get(deletedName) ?? 0) + 1);
      }

      const fault = this.pickFault(service, action);
      if (fault.latencyMs > 0) await sleep(fault.latencyMs);
      if (fault.error !== undefined) throw fault.error;

      const auth = parseAuth(req.headers, query);
      if (auth === undefined) throw new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
      const scopeService = auth.service === 'iam' || auth.service === 'sts' ? auth.service : undefined;
      if (service === undefined) service = scopeService ?? 'iam';
      namespace = service === 'sts' ? STS_NAMESPACE : IAM_NAMESPACE;
      if (scopeService !== service) {
        throw new AwsError('SignatureDoesNotMatch', `Credential should be scoped to correct service: '${service}'. `);
      }
      checkRequestTime(auth, Date.now());
      const signed: SignedRequest = { method, rawPath, rawQuery, rawHeaders: req.rawHeaders, body };
      const caller = this.authenticate(signed, auth, req.socket.remoteAddress ?? '');

      const handlers: ReadonlyMap<string, ActionHandler> = service === 'sts' ? STS_ACTIONS : IAM_ACTIONS;
      const handler = handlers.get(action);
      if (handler === undefined) {
        throw new AwsError('InvalidAction', `Could not find operation ${action} for version ${version ?? (service === 'sts' ? STS_VERSION : IAM_VERSION)}`);
      }
      if (service === 'iam') checkIamAcceptsCredentials(caller);
      const ctx: ActionContext = { account: this.account, params: new Params(params), caller, deletedUserName: undefined };
      const result = handler(ctx);
      if (ctx.deletedUserName !== undefined) {
        this.deleteUserSuccesses.set(ctx.deletedUserName, (this.deleteUserSuccesses.get(ctx.deletedUserName) ?? 0) + 1);
      }
      if (deletedName !== undefined) this.countDeleteUserOutcome(deletedName, 'Success');
      this.sendXml(res, 200, successXml(action, namespace, result, requestId), requestId);
    } catch (e: unknown) {
      let err: AwsError;
      if (e instanceof AwsError) {
        err = e;
      } else {
        console.error('aws-emulator: unexpected error', e);
        err = new AwsError('ServiceFailure', defaultMessageFor('ServiceFailure'), 500);
      }
      if (countedAction !== undefined) this.countError(countedAction, err.code);
      if (deletedName !== undefined) this.countDeleteUserOutcome(deletedName, err.code);
      this.sendXml(res, err.status, errorXml(namespace, err, requestId), requestId);
    }
  }

  /** Finds whose key signed the request and verifies the signature. */
  private authenticate(req: SignedRequest, auth: AuthInfo, sourceIp: string): Caller {
    const a = this.account;
    const now = a.clock.now();
    let secret: string;
    let identity: Identity;
    let temp: TempCredential | undefined;
    const key = a.accessKeys.get(auth.accessKeyId);
    if (key !== undefined) {
      // A long-term key with a session token, an inactive key, or a key not yet propagated.
      if (key.status !== 'Active' || key.activatesAt > now || auth.securityToken !== undefined) throw invalidClientTokenId();
      secret = key.secret;
      identity = key.owner === undefined ? ROOT : { kind: 'user', user: key.owner };
    } else {
      temp = a.tempCredentials.get(auth.accessKeyId);
      if (temp === undefined || auth.securityToken !== temp.sessionToken) throw invalidClientTokenId();
      secret = temp.secret;
      identity = temp.identity;
    }
    const signingKey = this.signingKeys.get(auth.accessKeyId, secret, auth.scopeDate, auth.region, auth.service);
    if (!verifySignature(req, auth, signingKey)) {
      throw new AwsError(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    if (temp !== undefined && temp.expiration <= now) {
      throw new AwsError('ExpiredToken', 'The security token included in the request is expired');
    }
    if (key !== undefined) key.lastUsed = { date: now, service: auth.service, region: auth.region };
    return { identity, accessKeyId: auth.accessKeyId, temp, sourceIp, region: auth.region };
  }

  // ---- Counters -------------------------------------------------------------------

  /** Counts known actions under their name; anything else under "Unknown". */
  private countCall(service: Service | undefined, action: string): string {
    const known = (service !== 'sts' && IAM_ACTIONS.has(action)) || (service !== 'iam' && STS_ACTIONS.has(action));
    const name = known ? action : 'Unknown';
    this.totalCalls++;
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    return name;
  }

  private countError(action: string, code: string): void {
    let byCode = this.errors.get(action);
    if (byCode === undefined) {
      byCode = new Map();
      this.errors.set(action, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  /** Calls of one action so far: cheap to poll, unlike counts(), which copies every per-user tally. */
  callCount(action: string): number {
    return this.calls.get(action) ?? 0;
  }

  counts(): CountsSnapshot {
    const errors: Record<string, Record<string, number>> = {};
    for (const [action, byCode] of this.errors) errors[action] = Object.fromEntries(byCode);
    return {
      totalCalls: this.totalCalls,
      calls: Object.fromEntries(this.calls),
      errors,
      deleteUserSuccesses: Object.fromEntries(this.deleteUserSuccesses),
      deleteUserCalls: Object.fromEntries(this.deleteUserCalls),
      deleteUserOutcomes: Object.fromEntries([...this.deleteUserOutcomes].map(([name, byOutcome]) => [name, Object.fromEntries(byOutcome)])),
    };
  }

  resetCounts(): void {
    this.totalCalls = 0;
    this.calls.clear();
    this.errors.clear();
    this.deleteUserSuccesses.clear();
    this.deleteUserCalls.clear();
    this.deleteUserOutcomes.clear();
  }

  private countDeleteUserOutcome(name: string, outcome: string): void {
    let byOutcome = this.deleteUserOutcomes.get(name);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.deleteUserOutcomes.set(name, byOutcome);
    }
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }

  // ---- Faults -----------------------------------------------------------------------

  addFault(spec: FaultSpec): number {
    const action = spec.action ?? '*';
    if (spec.code === undefined && (spec.latencyMs ?? 0) <= 0) throw new AdminError('a fault needs a code or a latencyMs');
    if (spec.count !== undefined && (!Number.isInteger(spec.count) || spec.count < 1)) {
      throw new AdminError('count must be a positive integer');
    }
    if (spec.probability !== undefined && (spec.probability < 0 || spec.probability > 1)) {
      throw new AdminError('probability must be between 0 and 1');
    }
    if (spec.status !== undefined && (!Number.isInteger(spec.status) || spec.status < 400 || spec.status > 599)) {
      throw new AdminError('status must be an HTTP error status (400-599)');
    }
    const rule: FaultRule = {
      id: this.nextFaultId++,
      action,
      code: spec.code,
      status: spec.status ?? (spec.code === undefined ? 0 : defaultStatusFor(spec.code)),
      message: spec.message ?? (spec.code === undefined ? '' : defaultMessageFor(spec.code)),
      remaining: spec.count ?? Number.POSITIVE_INFINITY,
      until: spec.forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + spec.forMs,
      probability: spec.probability ?? 1,
      latencyMs: spec.latencyMs ?? 0,
    };
    this.faults.push(rule);
    return rule.id;
  }

  removeFault(id: number): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  clearFaults(): void {
    this.faults = [];
    this.downUntil = 0;
  }

  /** Makes every AWS-protocol request fail at the socket (for `forMs`, or until cleared). */
  setDown(down: boolean, forMs?: number): void {
    this.downUntil = down ? (forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + forMs) : 0;
  }

  listFaults(): FaultInfo[] {
    const now = Date.now();
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.until > now);
    return this.faults.map((f) => ({
      id: f.id,
      action: f.action,
      code: f.code ?? null,
      status: f.status,
      message: f.message,
      remaining: Number.isFinite(f.remaining) ? f.remaining : null,
      expiresAt: Number.isFinite(f.until) ? new Date(f.until).toISOString() : null,
      probability: f.probability,
      latencyMs: f.latencyMs,
    }));
  }

  get down(): boolean {
    return this.isDown();
  }

  private static faultMatches(rule: FaultRule, service: Service | undefined, action: string): boolean {
    const a = rule.action;
    if (a === '*' || a === action) return true;
    const colon = a.indexOf(':');
    if (colon < 0 || service === undefined || a.slice(0, colon) !== service) return false;
    const rest = a.slice(colon + 1);
    return rest === '*' || rest === action;
  }

  private pickFault(service: Service | undefined, action: string): { latencyMs: number; error: AwsError | undefined } {
    if (this.faults.length === 0) return { latencyMs: 0, error: undefined };
    const now = Date.now();
    let latencyMs = 0;
    let error: AwsError | undefined;
    for (const rule of this.faults) {
      if (rule.remaining <= 0 || rule.until <= now || !EmulatorServer.faultMatches(rule, service, action)) continue;
      if (rule.code !== undefined && error !== undefined) continue;
      if (rule.probability < 1 && Math.random() >= rule.probability) continue;
      rule.remaining--;
      latencyMs += rule.latencyMs;
      if (rule.code !== undefined) error = new AwsError(rule.code, rule.message, rule.status);
    }
    this.faults = this.faults.filter((f) => f.remaining > 0 && f.until > now);
    return { latencyMs, error };
  }

  // ---- Account-level controls ----------------------------------------------------------

  state(userNamePrefix?: string): StateSnapshot {
    return snapshotAccount(this.account, userNamePrefix);
  }

  user(name: string): UserSnapshot | undefined {
    const u = this.account.getUser(name);
    return u === undefined ? undefined : snapshotUser(u);
  }

  advanceClock(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new AdminError('advanceSeconds must be a non-negative number');
    this.account.clock.advance(seconds);
  }

  clockInfo(): { now: string; offsetSeconds: number } {
    return { now: new Date(this.account.clock.now()).toISOString(), offsetSeconds: this.account.clock.offsetSeconds };
  }

  setKeyActivationDelay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new AdminError('keyActivationDelayMs must be a non-negative number');
    this.account.keyActivationDelayMs = ms;
  }

  reset(): void {
    this.account.reset();
    this.signingKeys.clear();
    this.clearFaults();
    this.resetCounts();
  }

  /** Bulk-creates users, each with one access key and optionally one inline policy. */
  seed(spec: SeedSpec): SeededUser[] {
    const n = spec.users;
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new AdminError('users must be an integer from 1 to 1000000');
    const prefix = spec.prefix ?? 'seed-user-';
    const lastName = `${prefix}${n - 1}`;
    if (!NAME_PATTERN.test(prefix + '0') || lastName.length > 64) {
      throw new AdminError(`user names like ${lastName} must match [\\w+=,.@-]+ and be at most 64 characters`);
    }
    const path = spec.path ?? '/';
    if (!PATH_PATTERN.test(path) || path.length > 512) throw new AdminError(`invalid path ${path}`);
    const tags: Tag[] = (spec.tags ?? []).map((t) => ({ key: t.Key, value: t.Value }));
    if (tags.length > 50) throw new AdminError('at most 50 tags');
    for (const t of tags) {
      if (!TAG_KEY_PATTERN.test(t.key) || t.key.length > 128 || !TAG_VALUE_PATTERN.test(t.value) || t.value.length > 256) {
        throw new AdminError(`invalid tag ${t.key}`);
      }
    }
    let inline: InlinePolicy | undefined;
    if (spec.policyDocument !== undefined) {
      const document = typeof spec.policyDocument === 'string' ? spec.policyDocument : JSON.stringify(spec.policyDocument);
      let compiled;
      try {
        compiled = parsePolicy(document, 'identity');
      } catch (e) {
        throw new AdminError(`policyDocument: ${e instanceof Error ? e.message : String(e)}`);
      }
      const size = policySize(document);
      if (size > INLINE_USER_POLICY_LIMIT) throw new AdminError(`policyDocument exceeds ${INLINE_USER_POLICY_LIMIT} characters`);
      const name = spec.policyName ?? 'seed-policy';
      if (!NAME_PATTERN.test(name) || name.length > 128) throw new AdminError(`invalid policyName ${name}`);
      inline = { name, document, compiled, size };
    }
    const a = this.account;
    for (let i = 0; i < n; i++) {
      if (a.users.has(`${prefix}${i}`.toLowerCase())) throw new AdminError(`user ${prefix}${i} already exists`, 409);
    }
    const out: SeededUser[] = new Array<SeededUser>(n);
    for (let i = 0; i < n; i++) {
      const user = a.createUser(`${prefix}${i}`, path, tags, undefined, true);
      if (inline !== undefined) user.inline.set(inline.name.toLowerCase(), inline);
      const key = a.createAccessKey(user, 0);
      out[i] = { userName: user.name, accessKeyId: key.id, secretAccessKey: key.secret };
    }
    return out;
  }

  // ---- Admin HTTP API --------------------------------------------------------------------

  private sendJson(res: ServerResponse, status: number, value: unknown): void {
    const body = JSON.stringify(value);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private sendAdminError(res: ServerResponse, e: unknown): void {
    if (res.headersSent) return;
    if (e instanceof AdminError) this.sendJson(res, e.status, { error: e.message });
    else this.sendJson(res, 500, { error: e instanceof Error ? e.message : String(e) });
  }

  private handleAdmin(req: IncomingMessage, res: ServerResponse, url: string, body: Buffer): void {
    const parsed = new URL(url, 'http://emulator');
    const route = parsed.pathname.slice(ADMIN_PREFIX.length).replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    let json: unknown = {};
    if (body.length > 0) {
      try {
        json = JSON.parse(body.toString('utf8')) as unknown;
      } catch {
        throw new AdminError('body must be JSON');
      }
    }
    const [head = '', ...rest] = route.split('/');
    const key = `${method} ${head}`;
    switch (key) {
      case 'GET health':
        return this.sendJson(res, 200, { ok: true });
      case 'GET state':
        return this.sendJson(res, 200, this.state(parsed.searchParams.get('userNamePrefix') ?? undefined));
      case 'GET users': {
        const name = decodeURIComponent(rest.join('/'));
        if (name === '') return this.sendJson(res, 200, this.state().users);
        const user = this.user(name);
        return user === undefined ? this.sendJson(res, 404, { error: `no user ${name}` }) : this.sendJson(res, 200, user);
      }
      case 'GET counts':
        return this.sendJson(res, 200, this.counts());
      case 'DELETE counts':
        this.resetCounts();
        return this.sendJson(res, 200, { ok: true });
      case 'GET faults':
        return this.sendJson(res, 200, { down: this.down, faults: this.listFaults() });
      case 'POST faults': {
        const o = asRecord(json, 'fault');
        if (o['down'] !== undefined) {
          if (typeof o['down'] !== 'boolean') throw new AdminError('down must be a boolean');
          this.setDown(o['down'], optNumber(o, 'forMs', 0, Number.MAX_SAFE_INTEGER));
          return this.sendJson(res, 200, { down: this.down });
        }
        const spec: FaultSpec = {
          action: optString(o, 'action'),
          code: optString(o, 'code'),
          status: optNumber(o, 'status', 400, 599),
          message: optString(o, 'message'),
          count: optNumber(o, 'count', 1, Number.MAX_SAFE_INTEGER),
          forMs: optNumber(o, 'forMs', 0, Number.MAX_SAFE_INTEGER),
          probability: optNumber(o, 'probability', 0, 1),
          latencyMs: optNumber(o, 'latencyMs', 0, 600_000),
        };
        return this.sendJson(res, 200, { id: this.addFault(spec) });
      }
      case 'DELETE faults': {
        const id = rest[0];
        if (id === undefined || id === '') {
          this.clearFaults();
          return this.sendJson(res, 200, { ok: true });
        }
        return this.sendJson(res, this.removeFault(Number(id)) ? 200 : 404, { ok: true });
      }
      case 'GET clock':
        return this.sendJson(res, 200, this.clockInfo());
      case 'POST clock': {
        const seconds = optNumber(asRecord(json, 'clock'), 'advanceSeconds', 0, Number.MAX_SAFE_INTEGER);
        if (seconds === undefined) throw new AdminError('advanceSeconds is required');
        this.advanceClock(seconds);
        return this.sendJson(res, 200, this.clockInfo());
      }
      case 'GET settings':
        return this.sendJson(res, 200, { keyActivationDelayMs: this.account.keyActivationDelayMs });
      case 'POST settings': {
        const ms = optNumber(asRecord(json, 'settings'), 'keyActivationDelayMs', 0, Number.MAX_SAFE_INTEGER);
        if (ms !== undefined) this.setKeyActivationDelay(ms);
        return this.sendJson(res, 200, { keyActivationDelayMs: this.account.keyActivationDelayMs });
      }
      case 'POST seed': {
        const o = asRecord(json, 'seed');
        const users = optNumber(o, 'users', 1, 1_000_000);
        if (users === undefined) throw new AdminError('users is required');
        const rawTags = o['tags'];
        if (rawTags !== undefined && !Array.isArray(rawTags)) throw new AdminError('tags must be an array of {Key, Value}');
        const tags = rawTags as unknown[] | undefined;
        const doc = o['policyDocument'];
        if (doc !== undefined && typeof doc !== 'string' && (typeof doc !== 'object' || doc === null)) {
          throw new AdminError('policyDocument must be a string or an object');
        }
        const spec: SeedSpec = {
          users,
          prefix: optString(o, 'prefix'),
          path: optString(o, 'path'),
          policyName: optString(o, 'policyName'),
          tags: tags?.map((t: unknown) => {
            const r = asRecord(t, 'tag');
            return { Key: optString(r, 'Key') ?? '', Value: optString(r, 'Value') ?? '' };
          }),
          policyDocument: doc as string | object | undefined,
        };
        return this.sendJson(res, 200, this.seed(spec));
      }
      case 'POST reset':
        this.reset();
        return this.sendJson(res, 200, { ok: true });
      default:
        return this.sendJson(res, 404, { error: `no admin route ${method} ${parsed.pathname}` });
    }
  }
}
