/**
 * Shared test helpers: real AWS SDK clients pointed at an emulator, an
 * assertion for AWS errors as the SDK surfaces them, and an independent
 * SigV4 signer (written from the AWS docs) for raw-HTTP protocol tests.
 */

import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsEmulator } from '../../tools/aws-emulator/index.js';

export interface Creds {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export function rootCreds(emu: AwsEmulator): Creds {
  return { accessKeyId: emu.rootAccessKeyId, secretAccessKey: emu.rootSecretAccessKey };
}

/**
 * maxAttempts defaults to 1: the SDK classifies IAM's LimitExceededException
 * as throttling and would otherwise retry it with back-off.
 */
export function iamClient(emu: AwsEmulator, creds: Creds = rootCreds(emu), maxAttempts = 1): IAMClient {
  return new IAMClient({ endpoint: emu.endpoint, region: 'us-east-1', credentials: creds, maxAttempts });
}

export function stsClient(emu: AwsEmulator, creds: Creds = rootCreds(emu), maxAttempts = 1): STSClient {
  return new STSClient({ endpoint: emu.endpoint, region: 'us-east-1', credentials: creds, maxAttempts });
}

interface SdkError {
  readonly name: string;
  readonly message: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly attempts?: number };
  readonly $fault?: string;
}

function isSdkError(e: unknown): e is SdkError {
  return e instanceof Error;
}

/** Awaits a call that must fail with the given exception name and HTTP status. */
export async function expectAwsError(
  call: Promise<unknown>,
  name: string,
  status: number,
  message?: string | RegExp,
): Promise<SdkError> {
  let caught: unknown;
  try {
    await call;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${name}, but the call succeeded`);
  assert.ok(isSdkError(caught), `expected an Error, got ${String(caught)}`);
  assert.equal(caught.name, name, `error name (message: ${caught.message})`);
  assert.equal(caught.$metadata?.httpStatusCode, status, 'HTTP status');
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

export function policyDoc(statements: readonly object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

export const ALLOW_ALL = policyDoc([{ Effect: 'Allow', Action: '*', Resource: '*' }]);

// ---- Raw SigV4 (per the "Create a signed AWS API request" documentation) ----------------

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

export function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15) + 'Z';
}

function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

export interface RawRequest {
  readonly endpoint: string;
  readonly creds: Creds;
  readonly service: 'iam' | 'sts';
  readonly body: string;
  readonly signedAt?: number;
}

/** A POST signed with the Authorization header, sent with fetch. */
export async function signedPost(r: RawRequest): Promise<Response> {
  const url = new URL(r.endpoint);
  const date = amzDate(r.signedAt ?? Date.now());
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    host: url.host,
    'x-amz-date': date,
  };
  if (r.creds.sessionToken !== undefined) headers['x-amz-security-token'] = r.creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = [
    'POST',
    '/',
    '',
    names.map((n) => `${n}:${headers[n] ?? ''}\n`).join(''),
    names.join(';'),
    sha256(r.body),
  ].join('\n');
  const scope = `${date.slice(0, 8)}/us-east-1/${r.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${sha256(canonical)}`;
  const signature = createHmac('sha256', signingKey(r.creds.secretAccessKey, date.slice(0, 8), 'us-east-1', r.service))
    .update(toSign)
    .digest('hex');
  const { host: _host, ...sent } = headers;
  return fetch(`${r.endpoint}/`, {
    method: 'POST',
    body: r.body,
    headers: {
      ...sent,
      authorization: `AWS4-HMAC-SHA256 Credential=${r.creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
    },
  });
}

/** A presigned GET URL: everything, signature included, in the query string. */
export function presignedUrl(endpoint: string, creds: Creds, service: 'iam' | 'sts', params: Record<string, string>, expiresSeconds: number): string {
  const url = new URL(endpoint);
  const date = amzDate(Date.now());
  const scope = `${date.slice(0, 8)}/us-east-1/${service}/aws4_request`;
  const query: Record<string, string> = {
    ...params,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${creds.accessKeyId}/${scope}`,
    'X-Amz-Date': date,
    'X-Amz-Expires': String(expiresSeconds),
    'X-Amz-SignedHeaders': 'host',
  };
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${uriEncode(k)}=${uriEncode(query[k] ?? '')}`)
    .join('&');
  const canonical = ['GET', '/', canonicalQuery, `host:${url.host}\n`, 'host', sha256('')].join('\n');
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${sha256(canonical)}`;
  const signature = createHmac('sha256', signingKey(creds.secretAccessKey, date.slice(0, 8), 'us-east-1', service))
    .update(toSign)
    .digest('hex');
  return `${endpoint}/?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

/** Pulls `<Code>` out of an AWS error response body. */
export function errorCode(xml: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
}

// ---- SSH keys -------------------------------------------------------------------------

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

function sshMpint(unsigned: Buffer): Buffer {
  return sshString((unsigned[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), unsigned]) : unsigned);
}

/** A fresh RSA public key in OpenSSH format ("ssh-rsa AAAA... comment"). */
export function sshRsaPublicKey(bits = 2048): { body: string; blob: Buffer } {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    sshMpint(Buffer.from(jwk.e ?? '', 'base64url')),
    sshMpint(Buffer.from(jwk.n ?? '', 'base64url')),
  ]);
  return { body: `ssh-rsa ${blob.toString('base64')} test@emulator`, blob };
}
