// Where the gRPC server listens, and how: TLS, mTLS, TLS that asks for (but
// does not require) a client certificate, or plaintext (only on loopback
// unless asked for by name, with a loud warning). The TLS files can
// be read again while the server runs (SIGHUP), so a renewed certificate is
// served to new connections without a restart and without dropping the
// connections already open. The limits on its connections go with it
// (connections.ts enforces them, and does the TLS).
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { Logger } from "pino";
import { DEFAULT_CONNECTION_LIMITS, DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort, type ConnectionLimits } from "./listen.js";

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
  /** Limits on the port's connections (DEFAULT_CONNECTION_LIMITS for what is not given). */
  connections?: Partial<ConnectionLimits>;
}

export interface Listener {
  address: string;
  host: string;
  /** The TLS to serve, absent for plaintext. */
  tls: TlsSource | undefined;
  transport: Transport;
  limits: ConnectionLimits;
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
  const tls = transportCredentials(options);
  if (tls.transport === "plaintext" && !isLoopbackAddress(host)) {
    if (!options.allowPlaintextNonLoopback) {
      throw new Error(
        `refusing to serve plaintext gRPC on ${address}, which is not a loopback address; give -tls-cert-file and -tls-key-file, listen on 127.0.0.1, or pass -tls-disable to accept the risk`,
      );
    }
    logger.warn({ address }, "WARNING: TLS IS DISABLED on a non-loopback address (-tls-disable): tokens and secrets cross the network in plaintext");
  }
  return { address, host, ...tls, limits: { ...DEFAULT_CONNECTION_LIMITS, ...options.connections } };
}

/** Whether a client certificate is asked for, and whether it is required. */
export type ClientCertificateMode = "none" | "request" | "require";

/**
 * The TLS the listener serves: the context (certificate, key, client CA) in
 * use, replaced by reload() for the connections accepted from then on.
 */
export class TlsSource {
  private readonly watchers = new Set<(context: SecureContextOptions) => void>();

  constructor(
    /**
     * "require": mTLS. "request": asked for, not required; a certificate the
     * client CA bundle does not verify leaves the connection up,
     * unauthenticated (grpc-js then shows the call no certificate).
     */
    readonly clientCertificate: ClientCertificateMode,
    private current: SecureContextOptions,
    private readonly load: () => SecureContextOptions,
  ) {}

  get context(): SecureContextOptions {
    return this.current;
  }

  /** Reads the files again (throwing, and keeping the context in use, when they are unusable) and tells the watchers. */
  reload(): void {
    this.current = this.load();
    for (const watcher of this.watchers) watcher(this.current);
  }

  /** Calls `watcher` with each new context. */
  watch(watcher: (context: SecureContextOptions) => void): void {
    this.watchers.add(watcher);
  }
}

/** The listener's TLS from the TLS options; plaintext when none are given. */
function transportCredentials(options: ListenerOptions): Pick<Listener, "tls" | "transport" | "reload"> {
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile, tlsRequestClientCert } = options;
  if (tlsRequestClientCert && !tlsClientCaFile) {
    throw new Error("-tls-request-client-cert needs -tls-client-ca-file: the CA bundle whose client certificates the listener accepts");
  }
  if (!tlsCertFile && !tlsKeyFile) {
    if (tlsClientCaFile) throw new Error("-tls-client-ca-file needs -tls-cert-file and -tls-key-file (mTLS is TLS with client certificates)");
    return { tls: undefined, transport: "plaintext", reload: () => undefined };
  }
  if (!tlsCertFile || !tlsKeyFile) throw new Error("TLS needs both -tls-cert-file and -tls-key-file");
  const load = (): SecureContextOptions => readContext(tlsCertFile, tlsKeyFile, tlsClientCaFile);
  const mode = tlsClientCaFile === undefined ? "none" : tlsRequestClientCert ? "request" : "require";
  const tls = new TlsSource(mode, load(), load);
  const transport = mode === "none" ? "TLS" : mode === "request" ? "TLS, client certificates optional" : "mTLS";
  return { tls, transport, reload: () => tls.reload() };
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
