/**
 * RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits), the algorithm virtual MFA
 * devices use, so EnableMFADevice and MFA-protected STS calls can check codes.
 */

import { createHmac, randomBytes } from 'node:crypto';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const STEP_MS = 30_000;

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const idx = BASE32_ALPHABET.indexOf(ch);
    if (idx < 0) throw new Error(`invalid base32 character ${ch}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A new virtual MFA seed: 40 bytes rendered as 64 base32 characters, like IAM's. */
export function newTotpSeed(): string {
  return base32Encode(randomBytes(40));
}

/** The 6-digit code for the 30-second window containing `timeMs`. */
export function totp(base32Seed: string, timeMs: number): string {
  const counter = Math.floor(timeMs / STEP_MS);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', base32Decode(base32Seed)).update(msg).digest();
  const offset = (digest[digest.length - 1] ?? 0) & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

/** Accepts the current window and one on either side for clock drift. */
export function verifyTotp(base32Seed: string, code: string, timeMs: number): boolean {
  for (const drift of [0, -1, 1]) {
    if (totp(base32Seed, timeMs + drift * STEP_MS) === code) return true;
  }
  return false;
}

/** EnableMFADevice takes two consecutive codes; find them near `timeMs`. */
export function verifyConsecutiveTotp(base32Seed: string, code1: string, code2: string, timeMs: number): boolean {
  for (let drift = -2; drift <= 1; drift++) {
    const t = timeMs + drift * STEP_MS;
    if (totp(base32Seed, t) === code1 && totp(base32Seed, t + STEP_MS) === code2) return true;
  }
  return false;
}
