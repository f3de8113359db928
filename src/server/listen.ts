// Listen addresses: "host:port", "[v6]:port". Plaintext is for loopback only.
export { isLoopbackAddress } from "../util/net.js";

/** Where `lessor server` listens unless told otherwise (loopback only). */
export const DEFAULT_LISTEN_ADDRESS = "127.0.0.1:8200";

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new Error(`listen address "${address}" is not host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}
