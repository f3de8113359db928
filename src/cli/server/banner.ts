// The banner `lessor server` prints once it listens, as Vault's "==> Vault
// server started!": where it listens (gRPC, and Vault's HTTP API when served),
// where it stores, and in dev mode how to point the CLI and Vault's tools at it.
import { saveToken } from "../context.js";
import { isLoopbackAddress, splitHostPort } from "../../server/listen.js";
import type { Transport } from "../../server/listener.js";

export interface BannerFacts {
  dev: boolean;
  address: string;
  storage: string;
  rootToken: string | undefined;
  transport: Transport;
  metricsAddress: string | undefined;
  /** Vault's HTTP API, when served (with the same transport as gRPC). */
  httpAddress: string | undefined;
}

/** How a listener is reached: its protocol, and whether and how it is encrypted. */
function describeListener(protocol: string, address: string, transport: Transport): string {
  if (transport !== "plaintext") return `${protocol}, ${transport}`;
  return `${protocol}, plaintext, ${isLoopbackAddress(splitHostPort(address).host) ? "loopback" : "NOT ENCRYPTED (-tls-disable)"}`;
}

export function banner({ dev, address, storage, rootToken, transport, metricsAddress, httpAddress }: BannerFacts): string {
  const scheme = transport === "plaintext" ? "http" : "https";
  const lines = [
    `==> Lessor server started${dev ? " in dev mode" : ""}! Log data will stream in below:`,
    "",
    `          Listener: ${address} (${describeListener("gRPC", address, transport)})`,
  ];
  if (httpAddress !== undefined) lines.push(`         Vault API: ${scheme}://${httpAddress} (${describeListener("HTTP", httpAddress, transport)})`);
  lines.push(`           Storage: ${storage}`);
  if (metricsAddress !== undefined) lines.push(`           Metrics: http://${metricsAddress}/metrics`);
  if (rootToken !== undefined) lines.push(`        Root Token: ${rootToken}`);
  lines.push("");
  if (dev) lines.push(...devNotes(rootToken, transport, address, httpAddress === undefined ? undefined : `${scheme}://${httpAddress}`));
  else if (rootToken !== undefined) {
    lines.push("This is the first start: the root token above is shown once and never again.", "Store it safely; Lessor keeps only its hash.", "");
  }
  return lines.join("\n");
}

/** Dev mode saves the root token for the CLI and says how to point the CLI here. */
function devNotes(rootToken: string | undefined, transport: Transport, address: string, httpUrl: string | undefined): string[] {
  let saved = true;
  if (rootToken !== undefined) {
    try {
      saveToken(rootToken);
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
    ...(httpUrl === undefined ? [] : ["and Vault's tools (vault, hvac, node-vault, Terraform) with:", "", `    $ export VAULT_ADDR='${httpUrl}'`, ""]),
  ];
}
