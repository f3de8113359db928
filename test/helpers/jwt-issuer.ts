// A JWT issuer for tests, as a Kubernetes API server or a CI provider is one:
// signing keys made at test time with jose, a JWKS and an OIDC discovery
// document served over HTTPS (a CA and server certificate made with openssl),
// and a count of every fetch, so tests can see what Lessor asked for.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { tempDir } from "./processes.js";

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export interface JwtIssuer {
  /** https://127.0.0.1:PORT: the issuer URL (the discovery document names it). */
  url: string;
  jwksUrl: string;
  /** The CA (PEM) that signed the server's certificate. */
  caPem: string;
  /** Keys published in the JWKS. */
  published: SigningKey[];
  /** Fetches of each path so far. */
  fetches: { jwks: number; discovery: number };
  /** Makes a key (published in the JWKS unless `publish` is false). */
  addKey(kid: string, options?: { publish?: boolean; alg?: "RS256" | "ES256" }): Promise<SigningKey>;
  /** A signed token: iss, iat and exp (10 minutes) unless `claims` says otherwise. */
  sign(claims: JWTPayload, key?: SigningKey): Promise<string>;
  close(): Promise<void>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA and a certificate for 127.0.0.1 signed by it (EC P-256: quick to make). */
function serverCertificate(): { ca: string; cert: string; key: string } {
  const dir = tempDir("jwt-issuer");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=JWT Issuer Test CA"]);
  openssl(dir, ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"]);
  return { ca: readFileSync(join(dir, "ca.pem"), "utf8"), cert: readFileSync(join(dir, "server.pem"), "utf8"), key: readFileSync(join(dir, "server.key"), "utf8") };
}

export async function startJwtIssuer(): Promise<JwtIssuer> {
  const tls = serverCertificate();
  const published: SigningKey[] = [];
  const fetches = { jwks: 0, discovery: 0 };
  let url = "";
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const json = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/jwks") {
      fetches.jwks++;
      json({ keys: published.map((k) => k.jwk) });
    } else if (req.url === "/.well-known/openid-configuration") {
      fetches.discovery++;
      json({ issuer: url, jwks_uri: `${url}/jwks`, id_token_signing_alg_values_supported: ["RS256", "ES256"] });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const issuer: JwtIssuer = {
    url,
    jwksUrl: `${url}/jwks`,
    caPem: tls.ca,
    published,
    fetches,
    async addKey(kid, options = {}) {
      const alg = options.alg ?? "RS256";
      const { privateKey, publicKey } = await generateKeyPair(alg);
      const key: SigningKey = { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
      if (options.publish !== false) published.push(key);
      return key;
    },
    async sign(claims, key = published[0]) {
      if (!key) throw new Error("the issuer has no key yet");
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: url, iat: now, exp: now + 600, ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" }).sign(key.privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  await issuer.addKey("key-1");
  return issuer;
}
