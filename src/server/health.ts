// The standard health service, grpc.health.v1.Health (grpc-health-check):
// "" is the whole server, and each Lessor service has its own status. All are
// SERVING once the server listens and NOT_SERVING from the moment shutdown
// starts, while calls are still answered, so load balancers and Kubernetes
// probes move traffic away before the port closes. Needs no token.
import type { Server, ServerWritableStream } from "@grpc/grpc-js";
import { status as Code } from "@grpc/grpc-js";
import { HealthImplementation, service as healthServiceDefinition } from "grpc-health-check";
import { serviceNameOf } from "./grpc-server.js";

export const HEALTH_SERVICE_NAME = serviceNameOf(healthServiceDefinition) ?? "grpc.health.v1.Health";

export class HealthReporter {
  private readonly health = new HealthImplementation({ "": "NOT_SERVING" });
  /** Open Watch streams, ended at shutdown so they do not hold the server open. */
  private readonly watches = new Set<ServerWritableStream<unknown, unknown>>();
  private services: readonly string[] = [];

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

  /** Every listed service, and the server as a whole, is SERVING. */
  serving(services: readonly string[]): void {
    this.services = services;
    this.set("SERVING");
  }

  /** Shutdown has begun: NOT_SERVING everywhere (Watch streams see it at once). */
  draining(): void {
    this.set("NOT_SERVING");
  }

  /** Ends the Watch streams (after draining), so a graceful shutdown need not wait for them. */
  endWatches(): void {
    for (const call of this.watches) call.emit("error", { code: Code.UNAVAILABLE, details: "the server is shutting down" });
    this.watches.clear();
  }

  private set(status: "SERVING" | "NOT_SERVING"): void {
    this.health.setStatus("", status);
    for (const name of this.services) this.health.setStatus(name, status);
  }
}
