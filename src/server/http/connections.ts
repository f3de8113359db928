// The HTTP port's server: Node's HTTP (or HTTPS) server, with the LIST
// rewriter (list-method.ts) between each accepted socket and the server's
// parser, and a cap on open connections. Node's HTTP server takes any duplex
// stream as a connection; the one made here carries the socket's bytes,
// rewritten, and answers what the server and the handlers ask of a socket
// (the peer's address and certificate, timeouts). Everything else (request
// timeouts, keep-alive, closing) is Node's own.
import { Duplex } from "node:stream";
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import type { ConnectionLimits } from "../listen.js";
import type { TlsSource } from "../listener.js";
import { ListMethodRewriter } from "./list-method.js";

/** A client connection as the HTTP server sees it: the socket's bytes after the LIST rewriter. */
export class RewrittenConnection extends Duplex {
  private readonly rewriter = new ListMethodRewriter();

  constructor(readonly socket: Socket) {
    super({ allowHalfOpen: false });
    socket.on("data", (chunk: Buffer) => {
      const out = this.rewriter.rewrite(chunk);
      if (out.length > 0 && !this.push(out)) socket.pause();
    });
    socket.on("end", () => {
      const rest = this.rewriter.end();
      if (rest.length > 0) this.push(rest);
      this.push(null);
    });
    socket.on("error", (err) => this.destroy(err));
    socket.on("close", () => this.destroy());
    socket.on("timeout", () => this.emit("timeout"));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    callback(error);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }

  get encrypted(): boolean {
    return this.socket instanceof TLSSocket;
  }

  /**
   * The client's certificate (DER), only when the client CA verified it: a
   * listener that asks for certificates without requiring them lets the
   * others connect, and their certificates prove nothing.
   */
  get peerCertificate(): Buffer | undefined {
    if (!(this.socket instanceof TLSSocket) || !this.socket.authorized) return undefined;
    const raw = this.socket.getPeerCertificate().raw as Buffer | undefined;
    return raw && raw.length > 0 ? raw : undefined;
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.socket.setTimeout(ms);
    if (callback) this.once("timeout", callback);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  destroySoon(): void {
    this.end();
  }
}

/**
 * An HTTP server (HTTPS with `tls`: the gRPC listener's, certificates
 * reloaded with it, client certificates asked for as it asks) whose
 * connections pass through the LIST rewriter.
 */
export function rewritingServer(
  handler: RequestListener,
  tls: TlsSource | undefined,
  limits: Pick<ConnectionLimits, "maxConnections" | "handshakeTimeoutMs">,
  logger: Logger,
): HttpServer {
  let server: HttpServer;
  // How often Node checks the header and request timeouts (its default, 30 s, would let them run that much late).
  const checks = { connectionsCheckingInterval: 5_000 };
  if (tls) {
    const secure = createHttpsServer(
      {
        ...checks,
        ...tls.context,
        requestCert: tls.clientCertificate !== "none",
        rejectUnauthorized: tls.clientCertificate === "require",
        handshakeTimeout: limits.handshakeTimeoutMs,
      },
      handler,
    );
    tls.watch((context) => secure.setSecureContext(context));
    server = secure;
  } else {
    server = createHttpServer(checks, handler);
  }
  // The server's own listener, the one that attaches its parser, gets the rewritten stream instead of the socket.
  const event = tls ? "secureConnection" : "connection";
  const parse = server.listeners(event);
  server.removeAllListeners(event);
  server.on(event, (socket: Socket) => {
    const connection = new RewrittenConnection(socket);
    for (const listener of parse) listener.call(server, connection);
  });
  // A failed handshake (no client certificate, an unknown CA, a plaintext client): the socket is closed.
  server.on("tlsClientError", (err: Error) => logger.debug({ err: err.message }, "HTTP: TLS handshake failed"));
  server.maxConnections = limits.maxConnections;
  let lastRefusalLog = 0;
  server.on("drop", () => {
    const now = Date.now();
    if (now - lastRefusalLog < 10_000) return;
    lastRefusalLog = now;
    logger.warn({ max_connections: limits.maxConnections }, "HTTP: connection refused, the connection limit is reached");
  });
  return server;
}
