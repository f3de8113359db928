// Network addresses, for what may go unencrypted: only what cannot leave the machine.
import { isIP } from "node:net";

/** Whether `host` names this machine's loopback interface ("localhost", 127.0.0.0/8, ::1). */
export function isLoopbackAddress(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}
