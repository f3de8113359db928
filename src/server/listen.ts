// Listen addresses: "host:port", "[v6]:port". Plaintext is for loopback only.
// And the limits on the connections a listener takes (enforced in connections.ts).
export { isLoopbackAddress } from "../util/net.js";

/** Where `lessor server` listens unless told otherwise (loopback only). */
export const DEFAULT_LISTEN_ADDRESS = "127.0.0.1:8200";

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new Error(`listen address "${address}" is not host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}

export interface ConnectionLimits {
  /** Connections open at once, in their handshake or not. */
  maxConnections: number;
  /** Time a new connection has to finish TLS (if on) and send the HTTP/2 preface. */
  handshakeTimeoutMs: number;
  /** A connection with no call for this long is closed. */
  idleTimeoutMs: number;
  /** A connection is asked to go away (GOAWAY, calls under way finish) after this long; 0: never. */
  maxConnectionAgeMs: number;
  /** Calls at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 1000,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxConnectionAgeMs: 0,
  maxConcurrentStreams: 256,
};
