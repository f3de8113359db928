// Where the gRPC server listens, and how: TLS, mTLS, or plaintext (only on
// loopback unless asked for by name, with a loud warning).
import { readFileSync } from "node:fs";
import { ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort } from "./listen.js";

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
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile } = options;
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
  return {
    credentials: ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null),
    transport: ca ? "mTLS" : "TLS",
  };
}
