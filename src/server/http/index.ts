// Vault's HTTP API, served: the Fastify app (vault-api.ts) on an HTTP server
// whose connections pass the LIST rewriter (connections.ts), with the gRPC
// listener's TLS, connection limits and plaintext rule, and a graceful stop
// that lets requests under way finish.
import type { Logger } from "pino";
import type { RequestPipeline } from "../pipeline.js";
import { guardPlaintext, type Listener, type ListenerOptions } from "../listener.js";
import { splitHostPort } from "../listen.js";
import { rewritingServer } from "./connections.js";

export interface VaultHttpServer {
  /** host:port bound. */
  address: string;
  /** Stops taking connections, lets requests under way finish (at most `graceMs`), then closes the rest. */
  close(graceMs: number): Promise<void>;
}

/** The plaintext rule for the HTTP address, as for gRPC's: checked before anything starts. */
export function checkVaultHttp(address: string, listener: Pick<Listener, "tls">, options: ListenerOptions, logger: Logger): void {
  splitHostPort(address);
  guardPlaintext(address, listener.tls === undefined, options, logger, "HTTP");
}

/**
 * Serves Vault's HTTP API on `address` with the gRPC listener's TLS (its
 * certificates reloaded with it) and connection limits, each port counting
 * its own connections.
 */
export async function serveVaultHttp(pipeline: RequestPipeline, address: string, listener: Pick<Listener, "tls" | "limits">, logger: Logger): Promise<VaultHttpServer> {
  const { tls, limits } = listener;
  // Fastify and its dependencies are loaded only when the HTTP API is served: a gRPC-only server starts faster.
  const { DEFAULT_VAULT_API_LIMITS, vaultApi } = await import("./vault-api.js");
  const app = vaultApi(pipeline, logger, { ...DEFAULT_VAULT_API_LIMITS, keepAliveTimeoutMs: limits.idleTimeoutMs }, (handler) => rewritingServer(handler, tls, limits, logger));
  const { host, port } = splitHostPort(address);
  await app.listen({ host: host.replace(/^\[|\]$/g, ""), port });
  const bound = app.server.address();
  return {
    address: `${host}:${typeof bound === "object" && bound !== null ? bound.port : port}`,
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
