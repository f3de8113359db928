// node:net as grpc-js sees it in the CLI bundle (scripts/bundle-cli.js): the
// same module, but for an isIPv6 that answers false at once for a host with
// no colon, as every IPv6 address has one. grpc-js asks about every address
// it connects to, and Node's answer runs a large regular expression compiled
// at its first use: about 5 ms of each `lessor read`, to learn that
// 127.0.0.1 is not IPv6.
import * as net from "node:net";

export * from "node:net";

export function isIPv6(input: string): boolean {
  return typeof input === "string" && !input.includes(":") ? false : net.isIPv6(input);
}
