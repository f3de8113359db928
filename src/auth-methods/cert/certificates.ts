// X.509 for the cert auth method, with node:crypto's X509Certificate: a
// role's trusted bundle (CA certificates, or a pinned client certificate),
// the names a client certificate carries (CN, OUs, DNS and URI SANs: a SPIFFE
// X.509-SVID's ID is its URI SAN), and whether one was issued by a trusted
// certificate and may be used for client authentication now.
import { X509Certificate } from "node:crypto";
import { z } from "zod";

/** The most certificates one role may trust: a CA, its intermediates, a few during a rotation. */
export const MAX_TRUSTED_CERTIFICATES = 16;

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

/** The certificates in a PEM bundle, or what is wrong with it. */
export function parseTrustedBundle(pem: string): { certificates: X509Certificate[] } | { problem: string } {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) return { problem: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)" };
  if (blocks.length > MAX_TRUSTED_CERTIFICATES) return { problem: `holds ${blocks.length} certificates; at most ${MAX_TRUSTED_CERTIFICATES} are accepted` };
  const certificates: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      return { problem: `certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate` };
    }
  }
  return { certificates };
}

/** What a client certificate says about its holder. */
export interface CertificateNames {
  commonName: string;
  organizationalUnits: string[];
  dnsSans: string[];
  uriSans: string[];
  serialNumber: string;
}

const subjectSchema = z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional();

export function namesOf(cert: X509Certificate): CertificateNames {
  const subject = subjectSchema.parse(cert.toLegacyObject().subject) ?? {};
  const all = (key: string): string[] => [subject[key] ?? []].flat();
  const sans = parseSubjectAltName(cert.subjectAltName ?? "");
  return {
    commonName: all("CN")[0] ?? "",
    organizationalUnits: all("OU"),
    dnsSans: sans.filter((s) => s.type === "DNS").map((s) => s.value),
    uriSans: sans.filter((s) => s.type === "URI").map((s) => s.value),
    serialNumber: cert.serialNumber,
  };
}

/**
 * Node's subjectAltName text: "DNS:a.example, URI:spiffe://x/y, IP
 * Address:10.0.0.1", where a value holding a comma or another special
 * character is a JSON string ("URI:\"spiffe://x\\u002cy\""), so no value can
 * pass for two. Entries that do not parse end the list (nothing is guessed).
 */
export function parseSubjectAltName(text: string): { type: string; value: string }[] {
  const entries: { type: string; value: string }[] = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(":", at);
    if (colon < 0) break;
    const type = text.slice(at, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      const close = endOfJsonString(text, colon + 1);
      if (close < 0) break;
      try {
        value = z.string().parse(JSON.parse(text.slice(colon + 1, close + 1)));
      } catch {
        break;
      }
      next = close + 1;
    } else {
      const comma = text.indexOf(", ", colon + 1);
      next = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    entries.push({ type, value });
    if (next < text.length && !text.startsWith(", ", next)) break;
    at = next + 2;
  }
  return entries;
}

/** Index of the quote closing the JSON string that starts at `open`, or -1. */
function endOfJsonString(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}

function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

/**
 * Why `client` may not log in against `trusted` at `now`, or undefined when
 * it may: it must be within its validity dates, allowed for client
 * authentication when it names its extended key usages, and either be one of
 * the trusted certificates (pinned) or be signed by a trusted CA certificate
 * that is itself valid now. The TLS layer only hands over the client's own
 * certificate, so an intermediate CA must be in the trusted bundle.
 */
export function whyUntrusted(client: X509Certificate, trusted: readonly X509Certificate[], now: number): string | undefined {
  if (!validAt(client, now)) return `the client certificate is outside its validity dates (${client.validFrom} to ${client.validTo})`;
  const usages = client.keyUsage;
  if (usages !== undefined && !usages.includes(CLIENT_AUTH) && !usages.includes(ANY_EXTENDED_KEY_USAGE)) {
    return "the client certificate's extended key usage does not allow client authentication";
  }
  for (const anchor of trusted) {
    if (anchor.raw.equals(client.raw)) return undefined;
    if (anchor.ca && validAt(anchor, now) && client.checkIssued(anchor) && client.verify(anchor.publicKey)) return undefined;
  }
  return "the client certificate was not issued by a certificate this role trusts";
}
