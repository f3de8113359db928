// Vault's HTTP API, served: the Fastify app (vault-api.ts) behind its own
// listener (connections.ts), with the gRPC listener's TLS files and
// plaintext rule, and a graceful stop that lets requests under way finish.
import type { Logger } from "pino";
import type { RequestPipeline } from "../pipeline.js";
import { guardPlaintext, readTlsFiles, transportOf, type ListenerOptions, type Transport } from "../listener.js";
import { listenHttp } from "./connections.js";
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
  /** Stops taking connections, lets requests under way finish (at most `graceMs`), then closes the rest. */
  close(graceMs: number): Promise<void>;
}

export const DEFAULT_HTTP_MAX_CONNECTIONS = 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export async function serveVaultHttp(pipeline: RequestPipeline, options: VaultHttpOptions, logger: Logger): Promise<VaultHttpServer> {
  const tls = readTlsFiles(options);
  guardPlaintext(options.httpListenAddress, tls === undefined, options, logger, "HTTP");
  const app = vaultApi(pipeline, logger, DEFAULT_VAULT_API_LIMITS);
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  app.addHook("onRequest", async () => {
    inFlight++;
  });
  app.addHook("onResponse", async () => {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  });
  await app.ready();
  const listener = await listenHttp(
    app.server,
    options.httpListenAddress,
    tls,
    { maxConnections: options.httpMaxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS },
    logger,
  );
  return {
    address: listener.address,
    transport: transportOf(tls),
    async close(graceMs) {
      const closed = listener.close();
      app.server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      app.server.closeAllConnections();
      await closed;
      await app.close();
    },
  };
}
