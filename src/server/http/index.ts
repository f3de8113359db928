// Vault's HTTP API, served: the Fastify app (vault-api.ts) on an HTTP server
// whose connections pass the LIST rewriter (connections.ts), with the gRPC
// listener's TLS files and plaintext rule, and a graceful stop that lets
// requests under way finish.
import { Server as HttpsServer } from "node:https";
import type { Logger } from "pino";
import type { RequestPipeline } from "../pipeline.js";
import { guardPlaintext, listenerTls, type ListenerOptions, type ListenerTls, type Transport } from "../listener.js";
import { splitHostPort } from "../listen.js";
import { rewritingServer } from "./connections.js";
import { DEFAULT_VAULT_API_LIMITS, vaultApi } from "./vault-api.js";

export interface VaultHttpOptions extends ListenerOptions {
  /** host:port for Vault's HTTP API; port 0 picks a free one. */
  httpListenAddress: string;
  /** Connections open at once (default 1024); more are refused. */
  httpMaxConnections?: number;
}

export interface VaultHttpServer {
  /** host:port bound. */
  address: string;
  transport: Transport;
  /** Reads the TLS files again for new connections; throws, keeping the old ones, when they are unusable. */
  reload(): void;
  /** Stops taking connections, lets requests under way finish (at most `graceMs`), then closes the rest. */
  close(graceMs: number): Promise<void>;
}

export const DEFAULT_HTTP_MAX_CONNECTIONS = 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The HTTP listener's TLS (the gRPC listener's files and settings) and the plaintext rule, checked before anything starts. */
export function vaultHttpTls(options: VaultHttpOptions, logger: Logger): ListenerTls | undefined {
  const tls = listenerTls(options);
  guardPlaintext(options.httpListenAddress, tls === undefined, options, logger, "HTTP");
  return tls;
}

/** Serves Vault's HTTP API on `address`, with `tls` from vaultHttpTls. */
export async function serveVaultHttp(
  pipeline: RequestPipeline,
  address: string,
  tls: ListenerTls | undefined,
  options: { httpMaxConnections?: number },
  logger: Logger,
): Promise<VaultHttpServer> {
  const limits = { maxConnections: options.httpMaxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS };
  const app = vaultApi(pipeline, logger, DEFAULT_VAULT_API_LIMITS, (handler) => rewritingServer(handler, tls, limits, logger));
  const { host, port } = splitHostPort(address);
  await app.listen({ host: host.replace(/^\[|\]$/g, ""), port });
  const bound = app.server.address();
  return {
    address: `${host}:${typeof bound === "object" && bound !== null ? bound.port : port}`,
    transport: tls?.transport ?? "plaintext",
    reload: () => {
      if (tls && app.server instanceof HttpsServer) app.server.setSecureContext(tls.load());
    },
    async close(graceMs) {
      // Closing stops new connections, closes idle ones, answers 503 to new requests on open ones,
      // and ends each connection once its request is answered; a request still running after the grace is cut.
      const cut = setTimeout(() => app.server.closeAllConnections(), graceMs);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
