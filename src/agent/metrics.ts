// The agent's Prometheus metrics, as the server's: counts and times only,
// never a key, a token or a lease id. Role names are labels; the agent holds
// at most MAX_ROLES of them, so the label sets stay bounded.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";

export interface RoleGauges {
  role: string;
  /** Leases the agent holds for the role: the one served, the next one, and those being retired. */
  leases: number;
  /** Seconds until the credentials served now may no longer be handed out; 0 when there are none. */
  secondsLeft: number;
  /** Why the last issuance failed, while that is the latest news (for health, not a label). */
  lastError: string | undefined;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"role" | "status">;
  private readonly issued: Counter<"role">;
  private readonly renewals: Counter<"role" | "result">;
  private readonly revoked: Counter<"role" | "reason">;
  private readonly lessorErrors: Counter<"operation" | "code">;

  constructor(roles: () => RoleGauges[], authenticated: () => boolean) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "lessor_agent_" });
    this.requests = new Counter({
      name: "lessor_agent_requests_total",
      help: "Credential requests answered, by role and HTTP status",
      labelNames: ["role", "status"],
      registers,
    });
    this.issued = new Counter({ name: "lessor_agent_leases_issued_total", help: "Leases the agent was issued (first use and replacements)", labelNames: ["role"], registers });
    this.renewals = new Counter({
      name: "lessor_agent_lease_renewals_total",
      help: "Lease renewals, by result (ok, failed)",
      labelNames: ["role", "result"],
      registers,
    });
    this.revoked = new Counter({
      name: "lessor_agent_leases_revoked_total",
      help: "Leases the agent revoked, by reason (replaced, unusable: too close to its end, idle, shutdown, refused: AWS never accepted its key)",
      labelNames: ["role", "reason"],
      registers,
    });
    this.lessorErrors = new Counter({
      name: "lessor_agent_lessor_errors_total",
      help: "Calls to Lessor that failed, by operation and gRPC code",
      labelNames: ["operation", "code"],
      registers,
    });
    new Gauge({
      name: "lessor_agent_leases",
      help: "Leases held, by role (the one served, the next one, those being retired)",
      labelNames: ["role"],
      registers,
      collect() {
        this.reset();
        for (const r of roles()) this.set({ role: r.role }, r.leases);
      },
    });
    new Gauge({
      name: "lessor_agent_credentials_seconds_left",
      help: "Seconds until the credentials served for a role may no longer be handed out",
      labelNames: ["role"],
      registers,
      collect() {
        this.reset();
        for (const r of roles()) this.set({ role: r.role }, r.secondsLeft);
      },
    });
    new Gauge({
      name: "lessor_agent_authenticated",
      help: "1 while the agent holds a token Lessor has not refused",
      registers,
      collect() {
        this.set(authenticated() ? 1 : 0);
      },
    });
  }

  request(role: string, status: number): void {
    this.requests.inc({ role, status: String(status) });
  }

  leaseIssued(role: string): void {
    this.issued.inc({ role });
  }

  leaseRenewed(role: string, ok: boolean): void {
    this.renewals.inc({ role, result: ok ? "ok" : "failed" });
  }

  leaseRevoked(role: string, reason: "replaced" | "unusable" | "idle" | "shutdown" | "refused"): void {
    this.revoked.inc({ role, reason });
  }

  lessorError(operation: string, code: string): void {
    this.lessorErrors.inc({ operation, code });
  }
}
