/**
 * AWS Signature Version 4 verification, recomputed per the documented
 * algorithm: canonical request -> string to sign -> HMAC chain signing key.
 * Supports the Authorization header form and the presigned query form.
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AwsError } from './errors.js';
import { rfc3986 } from './xml.js';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** AWS rejects requests whose signing time is more than 15 minutes off. */
export const MAX_SKEW_MS = 15 * 60 * 1000;
const AMZ_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const MULTI_SPACE = / {2,}/g;
const HEX64 = /^[0-9a-f]{64}$/;
const SCOPE_DATE = /^\d{8}$/;

export interface SignedRequest {
  readonly method: string;
  /** The path as sent on the request line, without the query string. */
  readonly rawPath: string;
  /** The raw query string without `?` (may be empty). */
  readonly rawQuery: string;
  /** Node's `rawHeaders`: [name, value, name, value, ...]. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export interface AuthInfo {
  readonly accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  /** Lower-cased, in the order given (which SigV4 requires to be sorted). */
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** ISO basic format: 20150830T123600Z. */
  readonly amzDate: string;
  readonly securityToken: string | undefined;
  readonly presigned: boolean;
  /** X-Amz-Expires of a presigned request, seconds. */
  readonly expiresSeconds: number | undefined;
}

const incomplete = (message: string): AwsError => new AwsError('IncompleteSignature', message);

function parseCredential(credential: string): Pick<AuthInfo, 'accessKeyId' | 'scopeDate' | 'region' | 'service'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') {
    throw incomplete(
      `Credential should be scoped to a valid region, and terminated with 'aws4_request'. Got '${credential}'.`,
    );
  }
  const [accessKeyId = '', scopeDate = '', region = '', service = ''] = parts;
  if (accessKeyId === '' || !SCOPE_DATE.test(scopeDate) || region === '' || service === '') {
    throw incomplete(`Credential should be scoped correctly. Got '${credential}'.`);
  }
  return { accessKeyId, scopeDate, region, service };
}

/**
 * Reads the signature parameters from the Authorization header, or from the
 * query for a presigned request. Returns undefined when there are none.
 */
export function parseAuth(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  query: ReadonlyMap<string, string>,
): AuthInfo | undefined {
  const token = headerValue(headers, 'x-amz-security-token');
  const authorization = headerValue(headers, 'authorization');
  if (authorization !== undefined) {
    if (!authorization.startsWith(ALGORITHM + ' ')) {
      throw incomplete(`Unsupported AWS 'algorithm': '${authorization.split(' ')[0] ?? ''}'`);
    }
    const fields = new Map<string, string>();
    for (const part of authorization.slice(ALGORITHM.length + 1).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const credential = fields.get('Credential');
    const signedHeaders = fields.get('SignedHeaders');
    const signature = fields.get('Signature');
    const missing: string[] = [];
    if (credential === undefined) missing.push("Authorization header requires 'Credential' parameter.");
    if (signedHeaders === undefined) missing.push("Authorization header requires 'SignedHeaders' parameter.");
    if (signature === undefined) missing.push("Authorization header requires 'Signature' parameter.");
    const amzDate = headerValue(headers, 'x-amz-date');
    if (amzDate === undefined) {
      missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    }
    if (credential === undefined || signedHeaders === undefined || signature === undefined || amzDate === undefined) {
      throw incomplete(`${missing.join(' ')} Authorization=${authorization}`);
    }
    return {
      ...parseCredential(credential),
      signedHeaders: signedHeaders.toLowerCase().split(';'),
      signature,
      amzDate,
      securityToken: token,
      presigned: false,
      expiresSeconds: undefined,
    };
  }
  const algorithm = query.get('X-Amz-Algorithm');
  if (algorithm === undefined) return undefined;
  if (algorithm !== ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': '${algorithm}'`);
  const credential = query.get('X-Amz-Credential');
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  const signature = query.get('X-Amz-Signature');
  const amzDate = query.get('X-Amz-Date');
  const expires = query.get('X-Amz-Expires');
  if (credential === undefined || signedHeaders === undefined || signature === undefined || amzDate === undefined) {
    throw incomplete(
      'AWS query-string parameters must include X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-SignedHeaders and X-Amz-Date.',
    );
  }
  return {
    ...parseCredential(credential),
    signedHeaders: signedHeaders.toLowerCase().split(';'),
    signature,
    amzDate,
    securityToken: query.get('X-Amz-Security-Token') ?? token,
    presigned: true,
    expiresSeconds: expires === undefined ? undefined : Number(expires),
  };
}

function headerValue(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function parseAmzDate(amzDate: string): number | undefined {
  const m = AMZ_DATE_PATTERN.exec(amzDate);
  if (m === null) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function basicFormat(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15) + 'Z';
}

/**
 * Checks the signing time against the real clock (clients sign with their own
 * clocks, so this deliberately ignores the emulator's adjustable clock).
 */
export function checkRequestTime(auth: AuthInfo, nowMs: number): void {
  const signedAt = parseAmzDate(auth.amzDate);
  if (signedAt === undefined) {
    throw incomplete(`Date must be in ISO-8601 'basic format'. Got '${auth.amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`);
  }
  if (auth.amzDate.slice(0, 8) !== auth.scopeDate) {
    throw new AwsError(
      'SignatureDoesNotMatch',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${auth.amzDate.slice(0, 8)}', from '${auth.amzDate}'.`,
    );
  }
  if (auth.presigned) {
    const expires = auth.expiresSeconds;
    if (expires === undefined || !Number.isInteger(expires) || expires < 1 || expires > 604800) {
      throw incomplete('X-Amz-Expires must be an integer between 1 and 604800.');
    }
    if (nowMs > signedAt + expires * 1000) {
      throw new AwsError(
        'SignatureDoesNotMatch',
        `Signature expired: ${auth.amzDate} is now earlier than ${basicFormat(nowMs - expires * 1000)} (${basicFormat(nowMs)} - ${expires} sec.)`,
      );
    }
  } else if (signedAt < nowMs - MAX_SKEW_MS) {
    throw new AwsError(
      'SignatureDoesNotMatch',
      `Signature expired: ${auth.amzDate} is now earlier than ${basicFormat(nowMs - MAX_SKEW_MS)} (${basicFormat(nowMs)} - 15 min.)`,
    );
  }
  if (signedAt > nowMs + MAX_SKEW_MS) {
    throw new AwsError(
      'SignatureDoesNotMatch',
      `Signature not yet current: ${auth.amzDate} is still later than ${basicFormat(nowMs + MAX_SKEW_MS)} (${basicFormat(nowMs)} + 15 min.)`,
    );
  }
}

/** Derived keys, cached per access key and scope: four HMACs saved per request. */
export class SigningKeyCache {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly maxEntries = 200_000) {}

  get(accessKeyId: string, secret: string, date: string, region: string, service: string): Buffer {
    const cacheKey = `${accessKeyId}/${date}/${region}/${service}`;
    let key = this.keys.get(cacheKey);
    if (key === undefined) {
      key = deriveSigningKey(secret, date, region, service);
      if (this.keys.size >= this.maxEntries) this.keys.clear();
      this.keys.set(cacheKey, key);
    }
    return key;
  }

  clear(): void {
    this.keys.clear();
  }
}

export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', 'AWS4' + secret).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

/** SigV4 canonical URI: normalised segments, each URI-encoded again. */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '/' || rawPath === '') return '/';
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(rfc3986(seg));
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return '/' + segments.join('/') + trailing;
}

function decodeQueryComponent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Sorted, RFC 3986-encoded query; the signature itself is left out when presigned. */
export function canonicalQuery(rawQuery: string, presigned: boolean): string {
  if (rawQuery === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = rfc3986(decodeQueryComponent(eq < 0 ? part : part.slice(0, eq)));
    if (presigned && name === 'X-Amz-Signature') continue;
    const value = eq < 0 ? '' : rfc3986(decodeQueryComponent(part.slice(eq + 1)));
    pairs.push([name, value]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function trimAll(v: string): string {
  const t = v.trim();
  return t.includes('  ') ? t.replace(MULTI_SPACE, ' ') : t;
}

export function canonicalHeaders(rawHeaders: readonly string[], signedHeaders: readonly string[]): string {
  const values: Array<string | undefined> = new Array<string | undefined>(signedHeaders.length);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const idx = signedHeaders.indexOf((rawHeaders[i] ?? '').toLowerCase());
    if (idx < 0) continue;
    const v = trimAll(rawHeaders[i + 1] ?? '');
    const prev = values[idx];
    values[idx] = prev === undefined ? v : `${prev},${v}`;
  }
  let out = '';
  for (let i = 0; i < signedHeaders.length; i++) out += `${signedHeaders[i]}:${values[i] ?? ''}\n`;
  return out;
}

export function canonicalRequest(req: SignedRequest, auth: AuthInfo): string {
  let payloadHash: string | undefined;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if ((req.rawHeaders[i] ?? '').toLowerCase() === 'x-amz-content-sha256') payloadHash = req.rawHeaders[i + 1];
  }
  if (payloadHash === undefined) {
    payloadHash = req.body.length === 0 ? EMPTY_SHA256 : createHash('sha256').update(req.body).digest('hex');
  }
  return (
    `${req.method}\n${canonicalUri(req.rawPath)}\n${canonicalQuery(req.rawQuery, auth.presigned)}\n` +
    `${canonicalHeaders(req.rawHeaders, auth.signedHeaders)}\n${auth.signedHeaders.join(';')}\n${payloadHash}`
  );
}

export function stringToSign(auth: AuthInfo, canonical: string): string {
  const scope = `${auth.scopeDate}/${auth.region}/${auth.service}/aws4_request`;
  const hash = createHash('sha256').update(canonical).digest('hex');
  return `${ALGORITHM}\n${auth.amzDate}\n${scope}\n${hash}`;
}

/** Recomputes the signature and compares it in constant time. */
export function verifySignature(req: SignedRequest, auth: AuthInfo, signingKey: Buffer): boolean {
  if (!HEX64.test(auth.signature)) return false;
  const expected = createHmac('sha256', signingKey).update(stringToSign(auth, canonicalRequest(req, auth))).digest();
  return timingSafeEqual(expected, Buffer.from(auth.signature, 'hex'));
}
