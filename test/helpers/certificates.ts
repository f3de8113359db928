// X.509 certificates made with openssl at test time (EC P-256: fast to make):
// CAs, a server certificate for 127.0.0.1, and client certificates with the
// names and extensions a test asks for.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface IssuedCertificate {
  cert: string;
  key: string;
  /** The certificate's PEM text. */
  pem: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function issued(dir: string, name: string): IssuedCertificate {
  const cert = join(dir, `${name}.pem`);
  return { cert, key: join(dir, `${name}.key`), pem: readFileSync(cert, "utf8") };
}

/** A self-signed CA named `name` (files <name>.pem and <name>.key in dir). */
export function makeCa(dir: string, name: string, subject = `/CN=${name}`): IssuedCertificate {
  openssl(dir, ["req", "-x509", ...EC, "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", subject]);
  return issued(dir, name);
}

/**
 * A certificate for `subject` signed by `ca`, with these extension lines
 * (openssl x509v3 config, e.g. "subjectAltName=URI:spiffe://x/y").
 */
export function issueCertificate(dir: string, ca: IssuedCertificate, name: string, subject: string, extensions: string[]): IssuedCertificate {
  openssl(dir, ["req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
  writeFileSync(join(dir, `${name}.ext`), `${extensions.join("\n")}\n`);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", `${name}.pem`, "-days", "1", "-extfile", `${name}.ext`]);
  return issued(dir, name);
}

/** A server certificate for 127.0.0.1 and localhost. */
export function issueServerCertificate(dir: string, ca: IssuedCertificate): IssuedCertificate {
  return issueCertificate(dir, ca, "server", "/CN=localhost", ["subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth"]);
}

/** A SPIFFE X.509-SVID-like client certificate: the ID as its URI SAN. */
export function issueSvid(dir: string, ca: IssuedCertificate, name: string, spiffeId: string, commonName = name): IssuedCertificate {
  return issueCertificate(dir, ca, name, `/O=Example/OU=workloads/CN=${commonName}`, [`subjectAltName=URI:${spiffeId}`, "extendedKeyUsage=clientAuth"]);
}

/**
 * grpc-js sends an IP-literal address as the TLS server name (SNI), and Node
 * warns of that once per process (DEP0123); the server's certificate is still
 * checked against its IP SAN. Tests that connect over TLS to 127.0.0.1 drop
 * that one warning, and only it, so their output stays clean.
 */
export function ignoreIpServernameWarning(): void {
  const emit = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === "object" && rest[0] !== null && "code" in rest[0] ? rest[0].code : rest[1];
    if (code === "DEP0123") return;
    Reflect.apply(emit, process, [warning, ...rest]);
  }) as typeof process.emitWarning;
}
