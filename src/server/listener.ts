// Where the gRPC server listens, and how: TLS, mTLS, TLS that asks for (but
// does not require) a client certificate, or plaintext (only on loopback
// unless asked for by name, with a loud warning). The TLS files can
// be read again while the server runs (SIGHUP), so a renewed certificate is
// served to new connections without a restart and without dropping the
// connections already open. Vault's HTTP API listens with the same files
// and the same rules (listenerTls, guardPlaintext).
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { ServerCredentials } from "@grpc/grpc-js";
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

export interface Listener {
  address: string;
  host: string;
  credentials: ServerCredentials;
  transport: Transport;
  /**
   * Reads the TLS files again and serves what they now hold to new
   * connections. Throws (naming the file) and keeps the certificate in use
   * when the files cannot be read or do not make a valid key pair. No-op on
   * plaintext.
   */
  reload(): void;
}

/** The listener's address and credentials; refuses plaintext off loopback unless allowed. */
export function listenerCredentials(options: ListenerOptions, logger: Logger): Listener {
  const address = options.listenAddress ?? DEFAULT_LISTEN_ADDRESS;
  const { host } = splitHostPort(address);
  const tls = listenerTls(options);
  guardPlaintext(address, tls === undefined, options, logger, "gRPC");
  if (!tls) return { address, host, credentials: ServerCredentials.createInsecure(), transport: "plaintext", reload: () => undefined };
  const credentials = new ReloadableServerCredentials(tls.clientCertificate, tls.load());
  return { address, host, credentials, transport: tls.transport, reload: () => credentials.replace(tls.load()) };
}

/**
 * Plaintext only on loopback: elsewhere it is refused unless allowed by name
 * (-tls-disable), and then logged loudly. The same rule for every listener.
 */
export function guardPlaintext(address: string, plaintext: boolean, options: ListenerOptions, logger: Logger, protocol: "gRPC" | "HTTP"): void {
  if (!plaintext || isLoopbackAddress(splitHostPort(address).host)) return;
  if (!options.allowPlaintextNonLoopback) {
    throw new Error(
      `refusing to serve plaintext ${protocol} on ${address}, which is not a loopback address; give -tls-cert-file and -tls-key-file, listen on 127.0.0.1, or pass -tls-disable to accept the risk`,
    );
  }
  logger.warn({ address, protocol }, "WARNING: TLS IS DISABLED on a non-loopback address (-tls-disable): tokens and secrets cross the network in plaintext");
}

/** A listener's TLS: whether and how it asks for client certificates, and its files, read again on each load. */
export interface ListenerTls {
  clientCertificate: "none" | "request" | "require";
  transport: Transport;
  /** Reads and checks the files (throws naming the file). */
  load(): SecureContextOptions;
}

/** The TLS settings from the options, checked; undefined for plaintext. */
export function listenerTls(options: ListenerOptions): ListenerTls | undefined {
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile, tlsRequestClientCert } = options;
  if (tlsRequestClientCert && !tlsClientCaFile) {
    throw new Error("-tls-request-client-cert needs -tls-client-ca-file: the CA bundle whose client certificates the listener accepts");
  }
  if (!tlsCertFile && !tlsKeyFile) {
    if (tlsClientCaFile) throw new Error("-tls-client-ca-file needs -tls-cert-file and -tls-key-file (mTLS is TLS with client certificates)");
    return undefined;
  }
  if (!tlsCertFile || !tlsKeyFile) throw new Error("TLS needs both -tls-cert-file and -tls-key-file");
  const load = (): SecureContextOptions => readContext(tlsCertFile, tlsKeyFile, tlsClientCaFile);
  const mode = tlsClientCaFile === undefined ? "none" : tlsRequestClientCert ? "request" : "require";
  const transport = mode === "none" ? "TLS" : mode === "request" ? "TLS, client certificates optional" : "mTLS";
  return { clientCertificate: mode, transport, load };
}

/**
 * grpc-js's server credentials watch their secure context: each update is
 * handed to the listening HTTP/2 server's setSecureContext, which applies it
 * to connections accepted from then on. This class only makes that update
 * reachable (ServerCredentials.createSsl gives no way to change it).
 */
class ReloadableServerCredentials extends ServerCredentials {
  constructor(clientCertificate: "none" | "request" | "require", context: SecureContextOptions) {
    // createSsl can only require a client certificate or not ask for one. Asked
    // for but not required, a certificate the client CA bundle does not verify
    // leaves the connection up, unauthenticated: grpc-js then shows the call none.
    super({ requestCert: clientCertificate !== "none", rejectUnauthorized: clientCertificate === "require" }, context);
  }

  replace(context: SecureContextOptions): void {
    this.updateSecureContextOptions(context);
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/** Reads the PEM files and checks that they make a usable context (the key matches the certificate). */
function readContext(certFile: string, keyFile: string, clientCaFile: string | undefined): SecureContextOptions {
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const context: SecureContextOptions = { cert: read("-tls-cert-file", certFile), key: read("-tls-key-file", keyFile) };
  if (clientCaFile) context.ca = read("-tls-client-ca-file", clientCaFile);
  try {
    createSecureContext(context);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`the TLS files ${certFile} and ${keyFile}${clientCaFile ? ` and ${clientCaFile}` : ""} are not usable: ${reason}`);
  }
  return context;
}
