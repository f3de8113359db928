/**
 * XML for the AWS Query protocol: `<XResponse><XResult>...</XResult>
 * <ResponseMetadata/></XResponse>` on success, `<ErrorResponse>` on failure.
 */

import type { AwsError } from './errors.js';

export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

// One test per value on the hot path; the replace only runs when needed.
const NEEDS_ESCAPE = /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const ESCAPE_ALL = /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '"':
      return '&quot;';
    case "'":
      return '&apos;';
    case '\r':
      // A literal CR would be normalised away by the client's XML parser.
      return '&#13;';
    default:
      // Not representable in XML 1.0 at all.
      return '\uFFFD';
  }
}

export function esc(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPE_ALL, escapeChar) : value;
}

/** ISO-8601 in the second-precision form AWS uses: 2026-11-23T17:50:00Z. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

/** `<name>value</name>`, or nothing when the value is absent. */
export function el(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? esc(value) : String(value);
  return `<${name}>${text}</${name}>`;
}

/** `<name><member>..</member>..</name>` where each item is already XML. */
export function memberList(name: string, itemsXml: readonly string[]): string {
  if (itemsXml.length === 0) return `<${name}/>`;
  let out = `<${name}>`;
  for (const item of itemsXml) out += `<member>${item}</member>`;
  return out + `</${name}>`;
}

/** A list of plain strings (e.g. PolicyNames). */
export function stringList(name: string, values: readonly string[]): string {
  return memberList(name, values.map(esc));
}

export function successXml(action: string, namespace: string, result: string | null, requestId: string): string {
  const body = result === null ? '' : `<${action}Result>${result}</${action}Result>`;
  return (
    `<${action}Response xmlns="${namespace}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function errorXml(namespace: string, error: AwsError, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${namespace}"><Error><Type>${error.type}</Type>` +
    `<Code>${esc(error.code)}</Code><Message>${esc(error.message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

// RFC 3986 leaves only A-Z a-z 0-9 - . _ ~ unescaped; encodeURIComponent also spares !'()*.
const RFC3986_EXTRA = /[!'()*]/g;

function hexEscape(c: string): string {
  return '%' + c.charCodeAt(0).toString(16).toUpperCase();
}

/** RFC 3986 percent-encoding: IAM returns policy documents this way, and SigV4 uses it. */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(RFC3986_EXTRA, hexEscape);
}
