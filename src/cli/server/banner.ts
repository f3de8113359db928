// The banner `lessor server` prints once it listens, as Vault's "==> Vault
// server started!": where it listens, where it stores, and in dev mode how
// to point the CLI at it.
import { writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { isLoopbackAddress, splitHostPort } from "../../server/listen.js";
import type { Transport } from "../../server/listener.js";

export interface BannerFacts {
  dev: boolean;
  address: string;
  storage: string;
  rootToken: string | undefined;
  transport: Transport;
  metricsAddress: string | undefined;
}

export function banner({ dev, address, storage, rootToken, transport, metricsAddress }: BannerFacts): string {
  const loopback = isLoopbackAddress(splitHostPort(address).host);
  const listener =
    transport === "plaintext" ? `gRPC, plaintext, ${loopback ? "loopback" : "NOT ENCRYPTED (-tls-disable)"}` : `gRPC, ${transport}`;
  const lines = [
    `==> Lessor server started${dev ? " in dev mode" : ""}! Log data will stream in below:`,
    "",
    `          Listener: ${address} (${listener})`,
    `           Storage: ${storage}`,
  ];
  if (metricsAddress !== undefined) lines.push(`           Metrics: http://${metricsAddress}/metrics`);
  if (rootToken !== undefined) lines.push(`        Root Token: ${rootToken}`);
  lines.push("");
  if (dev) lines.push(...devNotes(rootToken, transport, address));
  else if (rootToken !== undefined) {
    lines.push("This is the first start: the root token above is shown once and never again.", "Store it safely; Lessor keeps only its hash.", "");
  }
  return lines.join("\n");
}

/** Dev mode saves the root token for the CLI and says how to point the CLI here. */
function devNotes(rootToken: string | undefined, transport: Transport, address: string): string[] {
  let saved = true;
  if (rootToken !== undefined) {
    try {
      writeFileSync(join(process.env.HOME ?? homedir(), ".lessor-token"), `${rootToken}\n`, { mode: 0o600 });
    } catch {
      saved = false;
    }
  }
  return [
    "WARNING! Dev mode is enabled: data lives in a throw-away directory that is",
    "deleted on exit, and the root token is printed. Never run dev mode in production.",
    "",
    saved ? "The root token was saved to ~/.lessor-token, so the CLI is already signed in. Point it here with:" : "Point the CLI here with:",
    "",
    `    $ export LESSOR_ADDR='${transport === "plaintext" ? "" : "https://"}${address}'`,
    "",
  ];
}
