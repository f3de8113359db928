// Where the gRPC server listens, and how: TLS, mTLS, TLS that asks for (but
// does not require) a client certificate, or plaintext (only on loopback
// unless asked for by name, with a loud warning).
import { readFileSync } from "node:fs";
import { experimental, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort } from "./listen.js";

export type Transport = "mTLS" | "TLS" | "TLS, client certificates optional" | "plaintext";

export interface ListenerOptions {
  /** host:port; port 0 picks a free one. Default 127.0.0.1:8200. */
  listenAddress?: string;
  /** Allow plaintext on a non-loopback address. */
  allowPlaintextNonLoopback?: boolean;
  /** TLS: the server's certificate chain and private key (PEM files). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** mTLS: CA bundle (PEM) that client certificates must chain to; clients without one are refused. */
  tlsClientCaFile?: string;
  /**
   * Ask clients for a certificate without requiring one (for the cert auth
   * method): clients without a certificate connect as over TLS; a certificate
   * that chains to tlsClientCaFile is seen by the request.
   */
  tlsRequestClientCert?: boolean;
}

/** The listener's address and credentials; refuses plaintext off loopback unless allowed. */
export function listenerCredentials(options: ListenerOptions, logger: Logger): { address: string; host: string; credentials: ServerCredentials; transport: Transport } {
  const address = options.listenAddress ?? DEFAULT_LISTEN_ADDRESS;
  const { host } = splitHostPort(address);
  const tls = transportCredentials(options);
  if (tls.transport === "plaintext" && !isLoopbackAddress(host)) {
    if (!options.allowPlaintextNonLoopback) {
      throw new Error(
        `refusing to serve plaintext gRPC on ${address}, which is not a loopback address; give -tls-cert-file and -tls-key-file, listen on 127.0.0.1, or pass -tls-disable to accept the risk`,
      );
    }
    logger.warn({ address }, "WARNING: TLS IS DISABLED on a non-loopback address (-tls-disable): tokens and secrets cross the network in plaintext");
  }
  return { address, host, ...tls };
}

/** The listener's credentials from the TLS options; plaintext when none are given. */
function transportCredentials(options: ListenerOptions): { credentials: ServerCredentials; transport: Transport } {
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile, tlsRequestClientCert } = options;
  if (tlsRequestClientCert && !tlsClientCaFile) {
    throw new Error("-tls-request-client-cert needs -tls-client-ca-file: the CA bundle whose client certificates the listener accepts");
  }
  if (!tlsCertFile && !tlsKeyFile) {
    if (tlsClientCaFile) throw new Error("-tls-client-ca-file needs -tls-cert-file and -tls-key-file (mTLS is TLS with client certificates)");
    return { credentials: ServerCredentials.createInsecure(), transport: "plaintext" };
  }
  if (!tlsCertFile || !tlsKeyFile) throw new Error("TLS needs both -tls-cert-file and -tls-key-file");
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const cert = read("-tls-cert-file", tlsCertFile);
  const key = read("-tls-key-file", tlsKeyFile);
  const ca = tlsClientCaFile ? read("-tls-client-ca-file", tlsClientCaFile) : null;
  if (ca && tlsRequestClientCert) {
    // createSsl can only require a client certificate or not ask for one;
    // grpc-js's certificate-provider credentials can ask without requiring.
    // A certificate the CA bundle does not verify leaves the connection up
    // but unauthenticated (grpc-js then shows the call no certificate).
    const fixed = new FixedCertificates(ca, cert, key);
    return { credentials: experimental.createCertificateProviderServerCredentials(fixed, fixed, false), transport: "TLS, client certificates optional" };
  }
  return {
    credentials: ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null),
    transport: ca ? "mTLS" : "TLS",
  };
}

/**
 * Certificates read once at start, served to grpc-js as a provider of both
 * the CA bundle and the server's identity. Updates are delivered after the
 * current turn, as a file-watching provider's are: grpc-js registers the
 * server's watcher only after subscribing to the provider.
 */
class FixedCertificates implements experimental.CertificateProvider {
  constructor(
    private readonly ca: Buffer,
    private readonly cert: Buffer,
    private readonly key: Buffer,
  ) {}
  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    queueMicrotask(() => listener({ caCertificate: this.ca }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    queueMicrotask(() => listener({ certificate: this.cert, privateKey: this.key }));
  }
  removeIdentityCertificateListener(): void {}
}
