// The HTTP port: a TCP (or TLS) listener whose connections reach the HTTP
// server through the LIST rewriter (list-method.ts), at most
// `maxConnections` at a time. Node's HTTP server takes any duplex stream as
// a connection; this one carries the socket's bytes, rewritten, and answers
// what the server and the request handlers ask of a socket (the peer's
// address and certificate, timeouts).
import { Duplex } from "node:stream";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, TLSSocket } from "node:tls";
import type { Server as HttpServer } from "node:http";
import type { Logger } from "pino";
import { splitHostPort } from "../listen.js";
import type { TlsFiles } from "../listener.js";
import { ListMethodRewriter } from "./list-method.js";

export interface HttpConnectionLimits {
  /** Connections open at once; more are refused (closed at once). */
  maxConnections: number;
  /** How long a TLS handshake may take. */
  handshakeTimeoutMs: number;
}

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
    socket.on("drain", () => this.emit("drain"));
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

  /** The client's certificate (DER) on an mTLS connection. */
  get peerCertificate(): Buffer | undefined {
    if (!(this.socket instanceof TLSSocket)) return undefined;
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

export interface HttpListener {
  /** host:port bound. */
  address: string;
  /** Stops taking connections; those open are left to the HTTP server to close. */
  close(): Promise<void>;
}

/** Listens on `address` and hands each connection to `server`, plaintext or TLS, within `limits`. */
export async function listenHttp(server: HttpServer, address: string, tls: TlsFiles | undefined, limits: HttpConnectionLimits, logger: Logger): Promise<HttpListener> {
  const accept = (socket: Socket): void => {
    server.emit("connection", new RewrittenConnection(socket));
  };
  let listener: NetServer;
  if (tls) {
    const secure = createTlsServer({
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
      ALPNProtocols: ["http/1.1"],
      handshakeTimeout: limits.handshakeTimeoutMs,
    });
    secure.on("secureConnection", accept);
    // A failed handshake (no client certificate, an unknown CA, a plaintext client): the socket is closed.
    secure.on("tlsClientError", (err) => logger.debug({ err: err.message }, "HTTP: TLS handshake failed"));
    listener = secure;
  } else {
    listener = createNetServer(accept);
  }
  listener.maxConnections = limits.maxConnections;
  let lastRefusalLog = 0;
  listener.on("drop", () => {
    const now = Date.now();
    if (now - lastRefusalLog < 10_000) return;
    lastRefusalLog = now;
    logger.warn({ max_connections: limits.maxConnections }, "HTTP: connection refused, the connection limit is reached");
  });
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host.replace(/^\[|\]$/g, ""), () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const bound = listener.address();
  const boundPort = typeof bound === "object" && bound !== null ? bound.port : port;
  return {
    address: `${host}:${boundPort}`,
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
  };
}
