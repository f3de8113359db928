// Where the gRPC server listens, and how: TLS, mTLS, or plaintext (only on
// loopback unless asked for by name, with a loud warning). Vault's HTTP API
// listens with the same files and the same rule.
import { readFileSync } from "node:fs";
import { ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort } from "./listen.js";

export type Transport = "mTLS" | "TLS" | "plaintext";

/** The server's certificate and key, and for mTLS the CA that client certificates must chain to (PEM). */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer | undefined;
}

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
}

/** The listener's address and credentials; refuses plaintext off loopback unless allowed. */
export function listenerCredentials(options: ListenerOptions, logger: Logger): { address: string; host: string; credentials: ServerCredentials; transport: Transport } {
  const address = options.listenAddress ?? DEFAULT_LISTEN_ADDRESS;
  const { host } = splitHostPort(address);
  const files = readTlsFiles(options);
  guardPlaintext(address, files === undefined, options, logger, "gRPC");
  if (!files) return { address, host, credentials: ServerCredentials.createInsecure(), transport: "plaintext" };
  return {
    address,
    host,
    credentials: ServerCredentials.createSsl(files.clientCa ?? null, [{ cert_chain: files.cert, private_key: files.key }], files.clientCa !== undefined),
    transport: transportOf(files),
  };
}

/** "mTLS", "TLS" or "plaintext", for these files. */
export function transportOf(files: TlsFiles | undefined): Transport {
  return files === undefined ? "plaintext" : files.clientCa ? "mTLS" : "TLS";
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

/** The TLS files, read (PEM): none when no certificate is given; errors name the flag. */
export function readTlsFiles(options: ListenerOptions): TlsFiles | undefined {
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile } = options;
  if (!tlsCertFile && !tlsKeyFile) {
    if (tlsClientCaFile) throw new Error("-tls-client-ca-file needs -tls-cert-file and -tls-key-file (mTLS is TLS with client certificates)");
    return undefined;
  }
  if (!tlsCertFile || !tlsKeyFile) throw new Error("TLS needs both -tls-cert-file and -tls-key-file");
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return {
    cert: read("-tls-cert-file", tlsCertFile),
    key: read("-tls-key-file", tlsKeyFile),
    clientCa: tlsClientCaFile ? read("-tls-client-ca-file", tlsClientCaFile) : undefined,
  };
}
