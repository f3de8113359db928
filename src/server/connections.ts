// The gRPC port's connections, bounded: at most `maxConnections` open at
// once, each given `handshakeTimeoutMs` to finish its TLS handshake (when
// TLS is on) and send HTTP/2's connection preface, or it is closed. At the
// cap, the oldest connection still in its handshake makes room for a new
// one, so sockets that connect and send nothing cannot keep real clients
// out; only connections that really speak HTTP/2 reach grpc-js (through its
// connection injector), where idle connections are closed, old ones
// retired, streams per connection limited, and dead peers found by
// keepalive pings.
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { ServerCredentials, type ChannelOptions, type Server as GrpcServer } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { splitHostPort, type ConnectionLimits } from "./listen.js";
import type { TlsSource } from "./listener.js";

/** How long calls under way may finish once a connection reached its max age. */
const MAX_AGE_GRACE_MS = 30_000;
/** At most one log line per this many ms about connections refused at the cap. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** What every HTTP/2 client sends first (RFC 9113, 3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** grpc-js server options for the limits grpc-js enforces itself (idle, age, streams). */
export function grpcConnectionOptions(limits: ConnectionLimits): ChannelOptions {
  return {
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    ...(limits.maxConnectionAgeMs > 0 ? { "grpc.max_connection_age_ms": limits.maxConnectionAgeMs, "grpc.max_connection_age_grace_ms": MAX_AGE_GRACE_MS } : {}),
  };
}

export interface GuardedListener {
  /** The port bound (the one asked for, or a free one for port 0). */
  port: number;
  /** Stops accepting and closes connections still in their handshake (grpc-js closes the others). */
  close(): void;
}

/** Listens on `address` for `server`, plaintext or TLS, within `limits`. */
export async function listenGuarded(
  server: GrpcServer,
  address: string,
  tls: TlsSource | undefined,
  limits: ConnectionLimits,
  logger: Logger,
): Promise<GuardedListener> {
  // TLS, when on, is done here (Node's TLS server), so the handshake is under the same deadline; grpc-js gets the decrypted stream.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const guard = new ConnectionGuard(limits, logger, (stream) => injector.injectConnection(stream));
  let listener: NetServer;
  if (tls) {
    const secure = createTlsServer({
      ...tls.context,
      // Asked for, or required (mTLS): Node's TLS server verifies it against the client CA.
      requestCert: tls.clientCertificate !== "none",
      rejectUnauthorized: tls.clientCertificate === "require",
      ALPNProtocols: ["h2"],
      handshakeTimeout: limits.handshakeTimeoutMs,
    });
    // A renewed certificate (SIGHUP) is served to connections accepted from now on.
    tls.watch((context) => secure.setSecureContext(context));
    secure.on("secureConnection", (socket: TLSSocket) => guard.secured(socket));
    // A failed handshake (no client certificate, an unknown CA, a plaintext client): the socket is closed.
    secure.on("tlsClientError", (err) => logger.debug({ err: err.message }, "TLS handshake failed"));
    listener = secure;
  } else {
    listener = createNetServer({ pauseOnConnect: true });
  }
  listener.on("connection", (socket: Socket) => guard.accept(socket, tls === undefined));
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host.replace(/^\[|\]$/g, ""), () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const bound = listener.address();
  return {
    port: typeof bound === "object" && bound !== null ? bound.port : port,
    close() {
      listener.close();
      guard.closePending();
      injector.destroy();
    },
  };
}

/** Connections in their handshake, by peer address: a TLS socket and the TCP socket under it share it. */
class ConnectionGuard {
  private open = 0;
  /** Connections in their handshake, oldest first (a Map keeps insertion order). */
  private readonly pending = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  private refused = 0;
  private lastRefusalLog = 0;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly inject: (stream: Socket) => void,
  ) {}

  accept(socket: Socket, plaintext: boolean): void {
    if (socket.remoteAddress === undefined) return void socket.destroy(); // already gone
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on("error", () => socket.destroy());
    if (this.open >= this.limits.maxConnections && !this.evictOldestPending()) {
      socket.destroy();
      this.noteRefusal();
      return;
    }
    this.open++;
    const timer = setTimeout(() => {
      if (this.pending.get(key)?.socket === socket) socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    timer.unref();
    this.pending.set(key, { socket, timer });
    socket.once("close", () => {
      this.open--;
      clearTimeout(timer);
      if (this.pending.get(key)?.socket === socket) this.pending.delete(key);
    });
    if (plaintext) this.readPreface(socket, key);
  }

  /** A TLS connection finished its handshake: the preface comes next, under the same deadline. */
  secured(socket: TLSSocket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on("error", () => socket.destroy());
    if (!this.pending.has(key)) {
      // Its deadline passed, or it was evicted, as the handshake ended.
      socket.destroy();
      return;
    }
    this.readPreface(socket, key);
  }

  closePending(): void {
    for (const { socket, timer } of this.pending.values()) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.pending.clear();
  }

  /** Reads the 24-byte preface; if it is HTTP/2's, hands the connection (preface put back) to grpc-js. */
  private readPreface(stream: Socket, key: string): void {
    let received = Buffer.alloc(0);
    const onReadable = () => {
      for (let chunk: Buffer | null; (chunk = stream.read() as Buffer | null) !== null; ) received = Buffer.concat([received, chunk]);
      if (received.length < PREFACE.length) {
        if (!PREFACE.subarray(0, received.length).equals(received)) stream.destroy();
        return;
      }
      stream.off("readable", onReadable);
      if (!received.subarray(0, PREFACE.length).equals(PREFACE)) return void stream.destroy();
      const entry = this.pending.get(key);
      if (entry === undefined) return void stream.destroy();
      clearTimeout(entry.timer);
      this.pending.delete(key);
      stream.unshift(received);
      this.inject(stream);
    };
    stream.on("readable", onReadable);
  }

  /** Closes the connection longest in its handshake, to make room; false if every connection is established. */
  private evictOldestPending(): boolean {
    const oldest = this.pending.entries().next();
    if (oldest.done) return false;
    const [key, { socket, timer }] = oldest.value;
    clearTimeout(timer);
    this.pending.delete(key);
    socket.destroy();
    return true;
  }

  private noteRefusal(): void {
    this.refused++;
    const now = Date.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastRefusalLog = now;
    this.logger.warn(
      { refused: this.refused, max_connections: this.limits.maxConnections },
      "connections refused: every connection slot holds an established connection (see -max-connections)",
    );
    this.refused = 0;
  }
}
