import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AuthInfo,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  deriveSigningKey,
  parseAuth,
  type SignedRequest,
  verifySignature,
} from '../../tools/aws-emulator/sigv4.js';
import { createHash } from 'node:crypto';

/**
 * The worked example of the AWS Signature Version 4 documentation: an IAM
 * ListUsers GET signed by AKIDEXAMPLE on 2015-08-30.
 */
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const EXPECTED_SIGNATURE = '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7';
const request: SignedRequest = {
  method: 'GET',
  rawPath: '/',
  rawQuery: 'Action=ListUsers&Version=2010-05-08',
  rawHeaders: [
    'Host',
    'iam.amazonaws.com',
    'Content-Type',
    'application/x-www-form-urlencoded; charset=utf-8',
    'X-Amz-Date',
    '20150830T123600Z',
  ],
  body: Buffer.alloc(0),
};

function authFor(signature: string): AuthInfo {
  const auth = parseAuth(
    {
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${signature}`,
      'x-amz-date': '20150830T123600Z',
    },
    new Map(),
  );
  assert.ok(auth !== undefined);
  return auth;
}

describe('SigV4 against the AWS documentation example', () => {
  test('derives the documented signing key', () => {
    assert.equal(
      deriveSigningKey(SECRET, '20150830', 'us-east-1', 'iam').toString('hex'),
      'c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9',
    );
  });

  test('builds the documented canonical request', () => {
    const canonical = canonicalRequest(request, authFor(EXPECTED_SIGNATURE));
    assert.equal(
      createHash('sha256').update(canonical).digest('hex'),
      'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59',
    );
  });

  test('accepts the documented signature and rejects any other', () => {
    const key = deriveSigningKey(SECRET, '20150830', 'us-east-1', 'iam');
    assert.equal(verifySignature(request, authFor(EXPECTED_SIGNATURE), key), true);
    const tampered = EXPECTED_SIGNATURE.slice(0, -1) + (EXPECTED_SIGNATURE.endsWith('7') ? '8' : '7');
    assert.equal(verifySignature(request, authFor(tampered), key), false);
    assert.equal(verifySignature({ ...request, rawQuery: 'Action=ListUsers&Version=2010-05-09' }, authFor(EXPECTED_SIGNATURE), key), false);
    assert.equal(verifySignature(request, authFor('not-hex'), key), false);
  });
});

describe('canonical forms', () => {
  test('query: sorted by name, RFC 3986 encoded, signature left out when presigned', () => {
    assert.equal(canonicalQuery('b=2&a=1&a=0', false), 'a=0&a=1&b=2');
    assert.equal(canonicalQuery('k=a%20b&x=*', false), 'k=a%20b&x=%2A');
    assert.equal(canonicalQuery('X-Amz-Signature=abc&A=1', true), 'A=1');
  });

  test('URI: normalised and encoded', () => {
    assert.equal(canonicalUri('/'), '/');
    assert.equal(canonicalUri('/a/./b/../c/'), '/a/c/');
    assert.equal(canonicalUri('/a%20b'), '/a%2520b');
  });

  test('no Authorization and no presigned query means no auth info', () => {
    assert.equal(parseAuth({}, new Map()), undefined);
  });
});
