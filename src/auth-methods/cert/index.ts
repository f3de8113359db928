// The cert auth method (Vault's `cert`): a workload logs in with the client
// certificate of its own TLS connection — an mTLS certificate or a SPIFFE
// X.509-SVID. A role (certs/<name>) trusts a CA bundle and may narrow the
// certificates it accepts by common name, OU, and DNS or URI SANs (globs:
// spiffe://example.org/ns/*/sa/payments). The listener must ask for client
// certificates (-tls-request-client-cert, or mTLS with -tls-client-ca-file).
import { X509Certificate } from "node:crypto";
import { z } from "zod";
import { LessorError } from "../../errors.js";
import { definePath, type EngineFactory, type EngineStorage, type FieldSpecs, type FieldValue } from "../../engines/framework/types.js";
import { anyGlobMatch } from "../glob.js";
import { loginIdentity, loginRefused, TOKEN_FIELDS, tokenSettingsSchema } from "../common.js";
import { namesOf, parseTrustedBundle, whyUntrusted, type CertificateNames } from "./certificates.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** The most roles one login tries when it names none. */
const MAX_ROLES_TRIED = 256;

const CERT_FIELDS = {
  certificate: {
    type: "string",
    description: "The trusted CA certificate(s), PEM: client certificates must be issued by one (or be one, to pin a client certificate).",
    required: true,
    check: (v: FieldValue) => {
      const parsed = parseTrustedBundle(String(v));
      return "problem" in parsed ? parsed.problem : undefined;
    },
  },
  display_name: { type: "string", description: "Display name of the tokens (default: the certificate's common name).", default: "" },
  allowed_common_names: { type: "list", description: "Common names accepted (globs); empty for any.", default: [] },
  allowed_dns_sans: { type: "list", description: "DNS SANs accepted (globs): the certificate needs one that matches; empty for any.", default: [] },
  allowed_uri_sans: {
    type: "list",
    description: "URI SANs accepted (globs, e.g. spiffe://example.org/ns/*/sa/payments): the certificate needs one that matches; empty for any.",
    default: [],
  },
  allowed_organizational_units: { type: "list", description: "Organizational units accepted (globs): the certificate needs one that matches; empty for any.", default: [] },
  ...TOKEN_FIELDS,
} satisfies FieldSpecs;

const roleSchema = tokenSettingsSchema.extend({
  certificate: z.string(),
  display_name: z.string().default(""),
  allowed_common_names: z.array(z.string()).default([]),
  allowed_dns_sans: z.array(z.string()).default([]),
  allowed_uri_sans: z.array(z.string()).default([]),
  allowed_organizational_units: z.array(z.string()).default([]),
});
type CertRole = z.infer<typeof roleSchema>;

const roleKey = (name: string): string => `certs/${name}`;

async function loadRole(storage: EngineStorage, name: string): Promise<CertRole | undefined> {
  const stored = await storage.get(roleKey(name));
  return stored === undefined ? undefined : roleSchema.parse(stored);
}

/** Why the certificate's names do not fit the role, or undefined when they do (every non-empty list must match). */
function whyNamesRefused(role: CertRole, names: CertificateNames): string | undefined {
  const checks: [string, readonly string[], readonly string[]][] = [
    ["common name", role.allowed_common_names, [names.commonName]],
    ["DNS SANs", role.allowed_dns_sans, names.dnsSans],
    ["URI SANs", role.allowed_uri_sans, names.uriSans],
    ["organizational units", role.allowed_organizational_units, names.organizationalUnits],
  ];
  for (const [what, allowed, values] of checks) {
    if (allowed.length > 0 && !anyGlobMatch(allowed, values)) return `the certificate's ${what} (${values.join(", ") || "none"}) match none allowed`;
  }
  return undefined;
}

/** Why the certificate may not log in with this role, or undefined when it may. */
function whyRefused(role: CertRole, cert: X509Certificate, names: CertificateNames, now: number): string | undefined {
  const bundle = parseTrustedBundle(role.certificate);
  if ("problem" in bundle) return `the role's certificate ${bundle.problem}`;
  return whyUntrusted(cert, bundle.certificates, now) ?? whyNamesRefused(role, names);
}

export const certAuthMethod: EngineFactory = {
  type: "cert",
  kind: "auth",
  synopsis: "Log in with the TLS client certificate of the connection (mTLS, SPIFFE X.509-SVIDs).",
  special: { unauthenticated: ["login"] },
  create({ storage, system }) {
    const role = definePath({
      pattern: "certs/:name",
      synopsis: "A trusted certificate role: the CA bundle, the names it accepts, and the token fields.",
      description:
        "A client certificate logs in with this role when a certificate of `certificate` issued it and its names match every non-empty allowed_* list (globs: * matches any characters). Writing replaces the role.",
      fields: CERT_FIELDS,
      async exists(params) {
        return (await storage.get(roleKey(params.name))) !== undefined;
      },
      operations: {
        async read(req) {
          const entry = await loadRole(storage, req.params.name);
          if (!entry) throw LessorError.notFound(`no certificate role named "${req.params.name}" at ${req.mount.path}`, "ROLE_NOT_FOUND");
          return { data: { ...entry } };
        },
        async write(req) {
          if (!NAME.test(req.params.name)) throw LessorError.invalidField("name", "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
          await storage.put(roleKey(req.params.name), roleSchema.parse(req.fields));
          return {};
        },
        async delete(req) {
          await storage.delete(roleKey(req.params.name));
          return {};
        },
      },
    });
    const list = definePath({
      pattern: "certs/",
      synopsis: "The certificate roles.",
      fields: {},
      operations: {
        async list() {
          return { data: { keys: await storage.list("certs/") } };
        },
      },
    });
    const login = definePath({
      pattern: "login",
      synopsis: "Log in with the connection's TLS client certificate.",
      description:
        "Needs no token. The client certificate of this TLS connection must be trusted by the role named (or, without `name`, by the first role, in name order, that accepts it).",
      fields: { name: { type: "string", description: "The certificate role to log in with (default: the first that accepts the certificate).", default: "" } },
      operations: {
        async write(req) {
          const der = req.connection.peerCertificate;
          if (der === undefined) throw loginRefused("no client certificate on the connection (or one the listener's -tls-client-ca-file does not verify)");
          let cert: X509Certificate;
          try {
            cert = new X509Certificate(der);
          } catch {
            throw loginRefused("the client certificate could not be parsed");
          }
          const names = namesOf(cert);
          const wanted = req.fields.name;
          const candidates = wanted !== "" ? [wanted] : (await storage.list("certs/")).sort().slice(0, MAX_ROLES_TRIED);
          const reasons: string[] = [];
          for (const name of candidates) {
            const entry = await loadRole(storage, name);
            const why = entry === undefined ? "no such role" : whyRefused(entry, cert, names, system.now());
            if (entry !== undefined && why === undefined) {
              const metadata: Record<string, string> = { cert_name: name, common_name: names.commonName, serial_number: names.serialNumber };
              if (names.uriSans.length > 0) metadata.uri_san = names.uriSans.join(",");
              const displayName = entry.display_name || names.commonName || names.uriSans[0] || name;
              return { login: loginIdentity(entry, displayName, metadata) };
            }
            reasons.push(`${name}: ${why ?? "refused"}`);
          }
          throw loginRefused(candidates.length === 0 ? "no certificate roles are configured" : reasons.join("; ").slice(0, 2000));
        },
      },
    });
    return { paths: [role, list, login], secrets: {} };
  },
};
