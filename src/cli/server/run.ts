// Running the server in the foreground: start it, print the banner, then
// let the log stream. SIGTERM/SIGINT stop it gracefully (a second one exits
// at once); SIGHUP reads the TLS files again.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { LessorServer } from "../../server/app.js";
import { silenceAwsSdkNodeNotice } from "../../util/aws-sdk-notice.js";
import { processIo as io } from "../context.js";
import { banner } from "./banner.js";
import { serverLog } from "./logging.js";
import type { ServerSettings } from "./settings.js";

export async function runServer(settings: ServerSettings): Promise<void> {
  silenceAwsSdkNodeNotice();
  const { logger, release } = await serverLog(settings.log.level, settings.log.format);
  const dataDir = settings.dev || settings.dataDir === undefined ? mkdtempSync(join(tmpdir(), "lessor-dev-")) : resolve(settings.dataDir);
  const cleanUp = (): void => {
    if (settings.dev) rmSync(dataDir, { recursive: true, force: true });
  };
  // Loaded only when this command runs, so the other commands start fast.
  const { startLessor } = await import("../../server/app.js");
  const { describeStorage } = await import("../../store/open.js");
  let server: LessorServer;
  try {
    server = await startLessor({ ...settings.options, dataDir, logger });
  } catch (err) {
    release();
    io.err(`Error starting the server: ${err instanceof Error ? err.message : String(err)}`);
    cleanUp();
    process.exitCode = 1;
    return;
  }
  const storage = await describeStorage({ dataDir, storageUrl: settings.options.storageUrl });
  const facts = {
    dev: settings.dev,
    address: server.address,
    storage,
    rootToken: server.rootToken,
    transport: server.transport,
    metricsAddress: server.metricsAddress,
    httpAddress: server.httpAddress,
  };
  release(`${banner(facts)}\n`);
  handleSignals(server, logger, cleanUp);
}

function handleSignals(server: LessorServer, logger: Logger, cleanUp: () => void): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting at once, without waiting for calls and revocations under way");
      cleanUp();
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down (send the signal again to exit at once)");
    server.stop().then(
      () => {
        cleanUp();
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, "stopping failed");
        cleanUp();
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // Without a handler SIGHUP would end the process; Vault's operators send it to reload certificates.
  process.on("SIGHUP", () => {
    if (server.transport === "plaintext") {
      logger.info("SIGHUP: nothing to reload (the listener has no TLS)");
      return;
    }
    try {
      server.reloadCertificates();
      logger.info("SIGHUP: reloaded the TLS certificate and key; new connections get them, open ones keep theirs");
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, "SIGHUP: the TLS files were not reloaded; the previous certificate stays in use");
    }
  });
}
