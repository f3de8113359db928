// Prometheus metrics (`-metrics-listen-address`): leases by state, issuance
// and revocation counts and times, failed calls to AWS by code, the expiry
// backlog, and the time each store operation takes. Served as plain HTTP
// text on their own port, apart from gRPC, so a scraper needs no token; they
// hold counts and times only, never a secret, a lease id or a token.
import { createServer, type Server } from "node:http";
import { performance } from "node:perf_hooks";
import { status as GrpcCode } from "@grpc/grpc-js";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EngineTelemetry } from "../engines/framework/types.js";
import type { LeaseObserver } from "../leases/manager.js";
import type { LeaseState, RevokeReason, Store } from "../store/types.js";
import type { RpcObserver } from "./grpc-binding.js";
import { splitHostPort } from "./listen.js";

/** The areas of a store whose methods are timed (every property but the lifecycle ones). */
type StoreArea = Exclude<keyof Store, "cluster" | "onLeaseChange" | "close">;

/** Counting leases by state reads every lease: done at most this often, whatever the scrape rate. */
const LEASE_COUNT_MAX_AGE_MS = 10_000;

export class LessorMetrics implements LeaseObserver, EngineTelemetry, RpcObserver {
  readonly registry = new Registry();
  private readonly handledTotal: Counter<"grpc_service" | "grpc_method" | "grpc_code">;
  private readonly issuedTotal: Counter<"engine" | "secret_type">;
  private readonly issueSeconds: Histogram<"engine">;
  private readonly rolledBackTotal: Counter<"engine">;
  private readonly revokedTotal: Counter<"engine" | "reason">;
  private readonly revokeSeconds: Histogram<"engine">;
  private readonly revokeFailuresTotal: Counter<"engine" | "irrevocable">;
  private readonly externalErrorsTotal: Counter<"service" | "operation" | "code">;
  private readonly storeSeconds: Histogram<"operation">;
  /** grpc_server_handled_total's children by method path and code (a few dozen at most: the declared methods). */
  private readonly handledChildren = new Map<string, Map<GrpcCode, { inc(): void }>>();
  private leaseCounts: { at: number; counts: Promise<Record<LeaseState, number>> } | undefined;

  constructor(store: Store) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "lessor_" });
    const leaseCounts = () => {
      const now = Date.now();
      if (!this.leaseCounts || now - this.leaseCounts.at > LEASE_COUNT_MAX_AGE_MS) {
        this.leaseCounts = { at: now, counts: store.leases.countByState() };
      }
      return this.leaseCounts.counts;
    };
    new Gauge({
      name: "lessor_leases",
      help: `Leases in the store by state (counted at most every ${LEASE_COUNT_MAX_AGE_MS / 1000} s)`,
      labelNames: ["state"],
      registers,
      async collect() {
        for (const [state, n] of Object.entries(await leaseCounts())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: "lessor_expiry_backlog",
      help: "Leases whose revocation is due now (expired, queued or due for a retry) and not yet done",
      registers,
      async collect() {
        this.set(await store.leases.countDue(Date.now()));
      },
    });
    // The name and labels of go-grpc-prometheus and its kin, which dashboards already know.
    this.handledTotal = new Counter({
      name: "grpc_server_handled_total",
      help: "gRPC calls completed, by service, method and status code",
      labelNames: ["grpc_service", "grpc_method", "grpc_code"],
      registers,
    });
    this.issuedTotal = new Counter({
      name: "lessor_leases_issued_total",
      help: "Secrets issued on a lease",
      labelNames: ["engine", "secret_type"],
      registers,
    });
    this.issueSeconds = new Histogram({
      name: "lessor_lease_issue_duration_seconds",
      help: "Time to issue a secret on a lease, from the request reaching the engine to the lease committed",
      labelNames: ["engine"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.rolledBackTotal = new Counter({
      name: "lessor_issuance_rollbacks_total",
      help: "Issuances undone because the request failed mid-way or its process died",
      labelNames: ["engine"],
      registers,
    });
    this.revokedTotal = new Counter({
      name: "lessor_leases_revoked_total",
      help: "Leases revoked, by reason (revoked on request, expired)",
      labelNames: ["engine", "reason"],
      registers,
    });
    this.revokeSeconds = new Histogram({
      name: "lessor_lease_revoke_duration_seconds",
      help: "Time of one successful revocation, from its claim to the revoked state committed",
      labelNames: ["engine"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.revokeFailuresTotal = new Counter({
      name: "lessor_lease_revoke_failures_total",
      help: "Failed revocation attempts; irrevocable=true when the attempt used up the retries",
      labelNames: ["engine", "irrevocable"],
      registers,
    });
    this.externalErrorsTotal = new Counter({
      name: "lessor_external_errors_total",
      help: "Calls to an outside system (AWS IAM, STS) that failed after their retries, by error code",
      labelNames: ["service", "operation", "code"],
      registers,
    });
    this.storeSeconds = new Histogram({
      name: "lessor_store_operation_duration_seconds",
      help: "Time of each store operation (area.method)",
      labelNames: ["operation"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
  }

  handled(path: string, code: GrpcCode): void {
    // The labelled child is looked up once per method and code: prom-client
    // otherwise builds and hashes the label set on every call (it showed in profiles).
    let byCode = this.handledChildren.get(path);
    if (!byCode) this.handledChildren.set(path, (byCode = new Map()));
    let child = byCode.get(code);
    if (!child) {
      // "/lessor.v1.SecretsService/Read": the service and method from the descriptor's path.
      const slash = path.lastIndexOf("/");
      child = this.handledTotal.labels({ grpc_service: path.slice(1, slash), grpc_method: path.slice(slash + 1), grpc_code: GrpcCode[code] });
      byCode.set(code, child);
    }
    child.inc();
  }

  issued(engine: string, secretType: string, seconds: number): void {
    this.issuedTotal.inc({ engine, secret_type: secretType });
    this.issueSeconds.observe({ engine }, seconds);
  }

  rolledBack(engine: string): void {
    this.rolledBackTotal.inc({ engine });
  }

  revoked(engine: string, reason: RevokeReason, seconds: number): void {
    this.revokedTotal.inc({ engine, reason });
    this.revokeSeconds.observe({ engine }, seconds);
  }

  revokeFailed(engine: string, irrevocable: boolean): void {
    this.revokeFailuresTotal.inc({ engine, irrevocable: String(irrevocable) });
  }

  externalError(service: string, operation: string, code: string): void {
    this.externalErrorsTotal.inc({ service, operation, code });
  }

  /**
   * The same store, every method of every area (leases, tokens, ...) timed.
   * Built once (not a Proxy), so the cost per call is one closure and a clock
   * read. Areas are listed, so a new one cannot be missed (the type says so).
   */
  timedStore(store: Store): Store {
    const area = <K extends StoreArea>(name: K): Store[K] => this.timedArea(name, store[name]);
    return {
      mounts: area("mounts"),
      entries: area("entries"),
      leases: area("leases"),
      events: area("events"),
      intents: area("intents"),
      tokens: area("tokens"),
      policies: area("policies"),
      quotas: area("quotas"),
      auditDevices: area("auditDevices"),
      settings: area("settings"),
      tokenTree: area("tokenTree"),
      sealed: area("sealed"),
      jobs: area("jobs"),
      cluster: store.cluster && this.timedArea("cluster", store.cluster),
      onLeaseChange: (listener) => store.onLeaseChange(listener),
      close: () => store.close(),
    };
  }

  /** An object that inherits from `target` and times each of its methods. */
  private timedArea<T extends object>(area: string, target: T): T {
    const timed: T = Object.create(target);
    for (const name of methodNames(target)) {
      const method: unknown = Reflect.get(target, name);
      if (typeof method !== "function") continue;
      const histogram = this.storeSeconds.labels({ operation: `${area}.${name}` });
      Reflect.set(timed, name, (...args: unknown[]): unknown => {
        const start = performance.now();
        const result: unknown = method.apply(target, args);
        // then() with both handlers, not finally(): one promise per call instead of three.
        if (result instanceof Promise) {
          return result.then(
            (value: unknown) => {
              histogram.observe((performance.now() - start) / 1000);
              return value;
            },
            (err: unknown) => {
              histogram.observe((performance.now() - start) / 1000);
              throw err;
            },
          );
        }
        histogram.observe((performance.now() - start) / 1000);
        return result;
      });
    }
    return timed;
  }

  /** Serves GET /metrics on host:port (port 0 picks a free one); resolves with the bound address. */
  async serve(listenAddress: string): Promise<{ address: string; close(): Promise<void> }> {
    const { host, port } = splitHostPort(listenAddress);
    const server: Server = createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at GET /metrics\n");
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics could not be collected\n"),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    const boundPort = typeof bound === "object" && bound !== null ? bound.port : port;
    return {
      address: `${host}:${boundPort}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}

/** Own and inherited method names of a store object (classes keep methods on prototypes). */
function methodNames(target: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = target; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === "constructor") continue;
      const descriptor = Object.getOwnPropertyDescriptor(o, name);
      if (descriptor && typeof descriptor.value === "function") names.add(name);
    }
  }
  return [...names];
}
