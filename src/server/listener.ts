// Where the gRPC server listens, and how: TLS, mTLS, or plaintext (only on
// loopback unless asked for by name, with a loud warning), within which
// connection limits (connections.ts enforces them).
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { Logger } from "pino";
import type { TlsMaterial } from "./connections.js";
import { DEFAULT_CONNECTION_LIMITS, DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort, type ConnectionLimits } from "./listen.js";

export type Transport = "mTLS" | "TLS" | "plaintext";

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
  /** Limits on the port's connections (DEFAULT_CONNECTION_LIMITS for what is not given). */
  connections?: Partial<ConnectionLimits>;
}

/** The listener's address, TLS material and limits; refuses plaintext off loopback unless allowed. */
export function listenerCredentials(
  options: ListenerOptions,
  logger: Logger,
): { address: string; host: string; tls: TlsMaterial | undefined; transport: Transport; limits: ConnectionLimits } {
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

/** The listener's TLS material from the TLS options; plaintext when none are given. */
function transportCredentials(options: ListenerOptions): { tls: TlsMaterial | undefined; transport: Transport } {
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile } = options;
  if (!tlsCertFile && !tlsKeyFile) {
    if (tlsClientCaFile) throw new Error("-tls-client-ca-file needs -tls-cert-file and -tls-key-file (mTLS is TLS with client certificates)");
    return { tls: undefined, transport: "plaintext" };
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
  const clientCa = tlsClientCaFile ? read("-tls-client-ca-file", tlsClientCaFile) : null;
  // Checked now, so a bad certificate or key stops the start with a clear error rather than failing each handshake.
  try {
    createSecureContext({ cert, key, ...(clientCa ? { ca: clientCa } : {}) });
  } catch (err) {
    throw new Error(`the TLS certificate, key or client CA cannot be used: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { tls: { cert, key, clientCa }, transport: clientCa ? "mTLS" : "TLS" };
}
