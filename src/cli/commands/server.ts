// `lessor server`: run the server. `-dev` is the easy start: a throw-away data
// directory, kv at secret/, and the root token printed and saved for the CLI.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Argv } from "yargs";
import { DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort } from "../../server/listen.js";
import { DEFAULT_EXPIRY_CONCURRENCY } from "../../leases/expiry.js";
import { DEFAULT_RETRY_POLICY } from "../../leases/retry.js";
import { DEFAULT_REVOKE_RATE } from "../../leases/rate-limit.js";
import { formatDuration, parseDuration, parseDurationMs } from "../../util/duration.js";
import { processIo as io } from "../context.js";

export function serverCommand<T>(y: Argv<T>): Argv<T> {
  return y.command(
    "server",
    "Run a Lessor server",
    (b) =>
      b
        .option("dev", { type: "boolean", default: false, describe: "Development mode: throw-away data, root token printed and saved" })
        .option("dev-listen-address", { type: "string", describe: "Listen address in dev mode" })
        .option("listen-address", { type: "string", describe: `host:port to serve gRPC on (default ${DEFAULT_LISTEN_ADDRESS})` })
        .option("data-dir", { type: "string", describe: "Directory for lessor.db (and lessor.key unless -key-file)" })
        .option("key-file", { type: "string", describe: "Encryption key file (default <data-dir>/lessor.key)" })
        .option("storage-url", {
          type: "string",
          describe:
            "PostgreSQL URL (postgres://user:password@host:port/db?sslmode=verify-full) for a store several replicas share, instead of <data-dir>/lessor.db (env LESSOR_STORAGE_URL)",
        })
        .option("storage-ca-file", { type: "string", describe: "CA bundle (PEM) to verify the PostgreSQL server's certificate (env LESSOR_STORAGE_CA_FILE)" })
        .option("log-level", { type: "string", default: "info", choices: ["trace", "debug", "info", "warn", "error"] })
        .option("no-expire", { type: "boolean", default: false, describe: "Start with lease expiry paused (after restoring a backup)" })
        .option("tls-disable", { type: "boolean", default: false, describe: "Allow plaintext on a non-loopback address (dangerous: tokens and secrets in clear)" })
        .option("tls-cert-file", { type: "string", describe: "TLS: the server's certificate chain (PEM)" })
        .option("tls-key-file", { type: "string", describe: "TLS: the server's private key (PEM)" })
        .option("tls-client-ca-file", { type: "string", describe: "mTLS: CA bundle (PEM) client certificates must chain to" })
        .option("http-listen-address", {
          type: "string",
          describe:
            "host:port to serve Vault's HTTP API on, with the same TLS settings as gRPC (env LESSOR_HTTP_LISTEN_ADDRESS; off unless given; -dev serves it on the port after gRPC's)",
        })
        .option("metrics-listen-address", {
          type: "string",
          describe: "host:port to serve Prometheus metrics on, at GET /metrics (off unless given)",
        })
        .option("shutdown-delay", {
          type: "string",
          default: "0s",
          describe: "On SIGTERM/SIGINT, keep answering calls this long with health NOT_SERVING before stopping (e.g. 5s)",
        })
        .group(
          ["revoke-retry-base", "revoke-retry-max", "revoke-max-attempts", "expiry-concurrency", "revoke-rate", "revoke-burst", "lease-retention"],
          "Lease expiry and revocation:",
        )
        .option("revoke-retry-base", {
          type: "string",
          default: formatDuration(DEFAULT_RETRY_POLICY.baseMs / 1000),
          describe: "First delay before retrying a failed revocation (doubles each try, with jitter)",
        })
        .option("revoke-retry-max", {
          type: "string",
          default: formatDuration(DEFAULT_RETRY_POLICY.capMs / 1000),
          describe: "Longest delay between two revocation attempts",
        })
        .option("revoke-max-attempts", {
          type: "number",
          default: DEFAULT_RETRY_POLICY.maxAttempts,
          describe: "Failed attempts after which a lease is marked irrevocable (retried only when asked, or forced)",
        })
        .option("expiry-concurrency", { type: "number", default: DEFAULT_EXPIRY_CONCURRENCY, describe: "Revocations running at once" })
        .option("revoke-rate", {
          type: "number",
          default: DEFAULT_REVOKE_RATE.perSecond,
          describe: "Revocations per second per engine mount (0: unlimited); keeps mass expiry under AWS IAM throttling",
        })
        .option("revoke-burst", { type: "number", default: DEFAULT_REVOKE_RATE.burst, describe: "Revocations a mount may start at once" })
        .option("lease-retention", {
          type: "string",
          default: "168h",
          describe: "How long revoked leases and lease events are kept before `lessor lease tidy` removes them",
        }),
    async (argv) => {
      const dev = argv.dev === true;
      let tuning;
      try {
        tuning = leaseTuning(argv);
      } catch (err) {
        io.err(`Error: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
        return;
      }
      for (const flag of ["storage-url", "storage-ca-file", "http-listen-address"]) {
        if (Array.isArray(argv[flag])) {
          io.err(`Error: -${flag} was given more than once`);
          process.exitCode = 1;
          return;
        }
      }
      if (!dev && !argv["data-dir"]) {
        io.err("Error: -data-dir is required (or use -dev for a throw-away development server)");
        process.exitCode = 1;
        return;
      }
      const shutdownDelay = parseDuration(argv["shutdown-delay"] as string);
      if ("error" in shutdownDelay) {
        io.err(`Error: -shutdown-delay ${shutdownDelay.error}`);
        process.exitCode = 1;
        return;
      }
      const dataDir = dev ? mkdtempSync(join(tmpdir(), "lessor-dev-")) : resolve(argv["data-dir"] as string);
      const listenAddress = (dev ? argv["dev-listen-address"] : undefined) ?? argv["listen-address"] ?? process.env.LESSOR_LISTEN_ADDRESS ?? DEFAULT_LISTEN_ADDRESS;
      const httpListenAddress =
        (argv["http-listen-address"] as string | undefined) ?? (process.env.LESSOR_HTTP_LISTEN_ADDRESS || undefined) ?? (dev ? nextPort(listenAddress) : undefined);
      const { default: pino } = await import("pino");
      const logger = pino({ name: "lessor", level: argv["log-level"] as string });
      // Loaded only when this command runs, so the other commands start fast.
      const { startLessor } = await import("../../server/app.js");
      const storageUrl = (argv["storage-url"] as string | undefined) ?? (process.env.LESSOR_STORAGE_URL || undefined);
      const storageCaFile = (argv["storage-ca-file"] as string | undefined) ?? (process.env.LESSOR_STORAGE_CA_FILE || undefined);
      let server;
      try {
        server = await startLessor({
          dataDir,
          listenAddress,
          keyFile: argv["key-file"] as string | undefined,
          sealKey: process.env.LESSOR_SEAL_KEY,
          mountDefaultKv: dev,
          noExpire: argv["no-expire"] === true,
          allowPlaintextNonLoopback: argv["tls-disable"] === true,
          tlsCertFile: argv["tls-cert-file"] as string | undefined,
          tlsKeyFile: argv["tls-key-file"] as string | undefined,
          tlsClientCaFile: argv["tls-client-ca-file"] as string | undefined,
          shutdownDelayMs: shutdownDelay.seconds * 1000,
          metricsListenAddress: (argv["metrics-listen-address"] as string | undefined) ?? process.env.LESSOR_METRICS_LISTEN_ADDRESS,
          storageUrl,
          storageCaFile,
          httpListenAddress,
          logger,
          ...tuning,
        });
      } catch (err) {
        io.err(`Error starting the server: ${err instanceof Error ? err.message : String(err)}`);
        if (dev) rmSync(dataDir, { recursive: true, force: true });
        process.exitCode = 1;
        return;
      }
      const { describeStorage } = await import("../../store/open.js");
      io.out(banner(dev, server.address, describeStorage({ dataDir, storageUrl }), server.rootToken, server.transport, server.metricsAddress, server.httpAddress));

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "shutting down");
        void server.stop().finally(() => {
          if (dev) rmSync(dataDir, { recursive: true, force: true });
          process.exit(0);
        });
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    },
  ) as unknown as Argv<T>;
}

/** Dev mode's HTTP API: the port after gRPC's (a free one when gRPC's is picked, port 0). */
function nextPort(address: string): string {
  const { host, port } = splitHostPort(address);
  return `${host.includes(":") ? `[${host}]` : host}:${port === 0 ? 0 : port + 1}`;
}

/** How a listener is reached: its protocol and whether it is encrypted. */
function describeListener(protocol: string, address: string, transport: string): string {
  if (transport !== "plaintext") return `${protocol}, ${transport}`;
  return `${protocol}, plaintext, ${isLoopbackAddress(splitHostPort(address).host) ? "loopback" : "NOT ENCRYPTED (-tls-disable)"}`;
}

function banner(
  dev: boolean,
  address: string,
  storage: string,
  rootToken: string | undefined,
  transport: string,
  metricsAddress: string | undefined,
  httpAddress: string | undefined,
): string {
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
  if (dev) {
    let saved = true;
    if (rootToken !== undefined) {
      try {
        writeFileSync(join(process.env.HOME ?? homedir(), ".lessor-token"), `${rootToken}\n`, { mode: 0o600 });
      } catch {
        saved = false;
      }
    }
    lines.push(
      "WARNING! Dev mode is enabled: data lives in a throw-away directory that is",
      "deleted on exit, and the root token is printed. Never run dev mode in production.",
      "",
      saved ? "The root token was saved to ~/.lessor-token, so the CLI is already signed in. Point it here with:" : "Point the CLI here with:",
      "",
      `    $ export LESSOR_ADDR='${transport === "plaintext" ? "" : "https://"}${address}'`,
      "",
    );
    if (httpAddress !== undefined) lines.push("and Vault's tools (vault, hvac, node-vault, Terraform) with:", "", `    $ export VAULT_ADDR='${scheme}://${httpAddress}'`, "");
  } else if (rootToken !== undefined) {
    lines.push(
      "This is the first start: the root token above is shown once and never again.",
      "Store it safely; Lessor keeps only its hash.",
      "",
    );
  }
  return lines.join("\n");
}

/** The lease tuning flags, checked: each error names its flag. */
function leaseTuning(argv: Record<string, unknown>) {
  const duration = (flag: string): number => {
    const parsed = parseDurationMs(String(argv[flag]));
    if ("error" in parsed) throw new Error(`-${flag} ${parsed.error}`);
    return parsed.ms;
  };
  const count = (flag: string, min: number): number => {
    const n = Number(argv[flag]);
    if (!Number.isFinite(n) || n < min) throw new Error(`-${flag} must be a number of at least ${min}`);
    return n;
  };
  const baseMs = duration("revoke-retry-base");
  const capMs = duration("revoke-retry-max");
  if (baseMs < 1) throw new Error("-revoke-retry-base must be at least 1ms");
  if (capMs < baseMs) throw new Error("-revoke-retry-max must not be shorter than -revoke-retry-base");
  return {
    retry: { baseMs, capMs, maxAttempts: Math.floor(count("revoke-max-attempts", 1)) },
    expiry: { concurrency: Math.floor(count("expiry-concurrency", 1)) },
    revokeRate: { perSecond: count("revoke-rate", 0), burst: Math.floor(count("revoke-burst", 1)) },
    leaseRetentionMs: duration("lease-retention"),
  };
}
