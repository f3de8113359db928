// The standard health service, grpc.health.v1.Health (grpc-health-check):
// "" is the whole server, and each Lessor service has its own status. All are
// SERVING once the server listens, NOT_SERVING while the store cannot be
// reached (a probe every second), and NOT_SERVING from the moment shutdown
// starts, while calls are still answered, so load balancers and Kubernetes
// probes move traffic away before the port closes. Needs no token.
import type { Server, ServerWritableStream } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { status as Code } from "@grpc/grpc-js";
import { HealthImplementation, service as healthServiceDefinition } from "grpc-health-check";
import { serviceNameOf } from "./grpc-server.js";

export const HEALTH_SERVICE_NAME = serviceNameOf(healthServiceDefinition) ?? "grpc.health.v1.Health";

/** How often the store is probed, and how long a probe may take before the store counts as unreachable. */
export const STORE_PROBE_INTERVAL_MS = 1_000;
export const STORE_PROBE_TIMEOUT_MS = 5_000;

export class HealthReporter {
  private readonly health = new HealthImplementation({ "": "NOT_SERVING" });
  /** Open Watch streams, ended at shutdown so they do not hold the server open. */
  private readonly watches = new Set<ServerWritableStream<unknown, unknown>>();
  private services: readonly string[] = [];
  private started = false;
  private shuttingDown = false;
  private storeReachable = true;
  private probeTimer: NodeJS.Timeout | undefined;

  addToServer(server: Server): void {
    this.health.addToServer({
      addService: (definition, implementation) => {
        const watch = implementation.watch as ((call: ServerWritableStream<unknown, unknown>) => void) | undefined;
        server.addService(definition, {
          ...implementation,
          watch: (call: ServerWritableStream<unknown, unknown>) => {
            this.watches.add(call);
            call.on("cancelled", () => this.watches.delete(call));
            watch?.(call);
          },
        });
      },
    });
  }

  /** Every listed service, and the server as a whole, is SERVING (while the store can be reached). */
  serving(services: readonly string[]): void {
    this.services = services;
    this.started = true;
    this.update();
  }

  /** Shutdown has begun: NOT_SERVING everywhere (Watch streams see it at once). */
  draining(): void {
    this.shuttingDown = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.update();
  }

  /**
   * Probes the store every STORE_PROBE_INTERVAL_MS with a cheap read: while a
   * probe fails or takes longer than STORE_PROBE_TIMEOUT_MS, every status is
   * NOT_SERVING; the first probe that answers makes them SERVING again.
   */
  watchStore(probe: () => Promise<unknown>, logger: Logger): void {
    const next = () => {
      if (this.shuttingDown) return;
      this.probeTimer = setTimeout(() => void once(), STORE_PROBE_INTERVAL_MS);
      this.probeTimer.unref();
    };
    const once = async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${STORE_PROBE_TIMEOUT_MS} ms`)), STORE_PROBE_TIMEOUT_MS);
      });
      let reachable = true;
      let error: unknown;
      try {
        await Promise.race([probe(), timedOut]);
      } catch (err) {
        reachable = false;
        error = err;
      } finally {
        clearTimeout(timer);
      }
      if (reachable !== this.storeReachable) {
        this.storeReachable = reachable;
        if (reachable) logger.info("the store answers again: health is SERVING");
        else logger.error({ err: error instanceof Error ? error.message : String(error) }, "the store cannot be reached: health is NOT_SERVING");
        this.update();
      }
      next();
    };
    next();
  }

  /** Ends the Watch streams (after draining), so a graceful shutdown need not wait for them. */
  endWatches(): void {
    for (const call of this.watches) call.emit("error", { code: Code.UNAVAILABLE, details: "the server is shutting down" });
    this.watches.clear();
  }

  private update(): void {
    this.set(this.started && !this.shuttingDown && this.storeReachable ? "SERVING" : "NOT_SERVING");
  }

  private set(status: "SERVING" | "NOT_SERVING"): void {
    this.health.setStatus("", status);
    for (const name of this.services) this.health.setStatus(name, status);
  }
}
