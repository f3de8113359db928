// `lessor agent` as a library: a session with Lessor, one RoleLease per role
// asked for, the HTTP endpoint(s), and the files others read (authorization
// token, agent file). `lessor agent` runs it until SIGTERM; `lessor aws exec`
// runs one for the lifetime of a command.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { DEFAULT_ADDRESS } from "@lessor/client";
import { ConfigError, ROLE_NAME, type AgentSettings } from "./config.js";
import { Endpoint, type EndpointHandlers, type HealthReport } from "./endpoint.js";
import { AgentError } from "./errors.js";
import { processAlive, readAgentFile, removeFile, writeAgentFile, writePrivateFile } from "./files.js";
import { AgentMetrics, type RoleGauges } from "./metrics.js";
import { RoleLease } from "./role-lease.js";
import { LESSOR_CALL_DEADLINE_MS, openSession, type LessorSession } from "./session.js";

/** Roles one agent holds leases for at once (each is a lease, and a metrics label). */
export const MAX_ROLES = 32;

export interface RunningAgent {
  /** The listener: http://127.0.0.1:8100, or unix:/path. */
  readonly url: string;
  readonly authorizationToken: string;
  /** Where the token was written, if anywhere. */
  readonly authorizationTokenFile: string | undefined;
  /** What the agent authenticates to Lessor with ("token file /run/token"). */
  readonly auth: string;
  /** The metrics listener's URL, when one was asked for. */
  readonly metricsUrl: string | undefined;
  /** The URL an SDK is given for a role: <url>/aws/creds/<role>. */
  credentialsUrl(role: string): string;
  /** Issues the role's lease now rather than at the first request. */
  prefetch(role: string): Promise<void>;
  /** Stops serving, then revokes every lease held (unless `revoke` is false), and removes the agent's files. */
  stop(options?: { revoke?: boolean }): Promise<void>;
}

/** Refuses to take over an agent file another running agent wrote. */
function claimAgentFile(path: string | undefined): void {
  if (path === undefined) return;
  const existing = readAgentFile(path);
  if (existing && existing.pid !== process.pid && processAlive(existing.pid)) {
    throw new ConfigError(`another agent (pid ${existing.pid}, ${existing.url}) uses the agent file ${path}; stop it, or give this one -agent-file`);
  }
}

/** The roles the agent holds leases for: made on first use, within the allow-list and MAX_ROLES. */
class Roles {
  private readonly leases = new Map<string, RoleLease>();
  private readonly allowed: Set<string>;
  readonly metrics: AgentMetrics;

  constructor(
    private readonly settings: AgentSettings,
    private readonly session: LessorSession,
    private readonly logger: Logger,
  ) {
    this.allowed = new Set(settings.roles);
    this.metrics = new AgentMetrics(() => this.status(), () => session.authenticated());
  }

  get(role: string): RoleLease {
    if (!ROLE_NAME.test(role)) throw new AgentError(404, "NotFound", `"${role.slice(0, 80)}" is not a role name`);
    if (this.allowed.size > 0 && !this.allowed.has(role)) {
      throw new AgentError(404, "NotFound", `this agent serves the roles ${[...this.allowed].join(", ")}, not ${role}`);
    }
    let lease = this.leases.get(role);
    if (!lease) {
      if (this.leases.size >= MAX_ROLES) throw new AgentError(503, "TooManyRoles", `this agent already holds leases for ${MAX_ROLES} roles`);
      const { mount, credentialTtlMs, verifyTimeoutMs } = this.settings;
      lease = new RoleLease({ role, mount, session: this.session, credentialTtlMs, verifyTimeoutMs, logger: this.logger, metrics: this.metrics });
      this.leases.set(role, lease);
    }
    return lease;
  }

  /** The role as a metrics label: bounded to the roles held. */
  label(role: string): string {
    return this.leases.has(role) ? role : "other";
  }

  status(): RoleGauges[] {
    return [...this.leases.values()].map((r) => ({ role: r.role, ...r.status() }));
  }

  health(stopping: boolean): HealthReport {
    return {
      status: stopping ? "stopping" : this.session.authenticated() ? "ok" : "unauthenticated",
      auth: this.session.description,
      roles: Object.fromEntries(
        this.status().map((r) => [r.role, { leases: r.leases, seconds_left: r.secondsLeft, ...(r.lastError ? { last_error: r.lastError } : {}) }]),
      ),
    };
  }

  async stop(revoke: boolean): Promise<void> {
    await Promise.all([...this.leases.values()].map((r) => r.stop(revoke)));
  }
}

/** Opens the listeners (and writes the token first, so nothing can be asked before it is on disk), then the agent file. */
async function listen(settings: AgentSettings, handlers: EndpointHandlers, logger: Logger): Promise<Endpoint[]> {
  const endpoints: Endpoint[] = [];
  try {
    if (settings.authorizationTokenFile !== undefined) writePrivateFile(settings.authorizationTokenFile, handlers.authorizationToken ?? "");
    const main = await Endpoint.start(settings.listen, handlers, logger.child({ component: "endpoint" }));
    endpoints.push(main);
    if (settings.metricsListen) {
      endpoints.push(await Endpoint.start(settings.metricsListen, { ...handlers, authorizationToken: undefined }, logger.child({ component: "metrics" })));
    }
    if (settings.agentFile !== undefined) {
      writeAgentFile(settings.agentFile, {
        version: 1,
        pid: process.pid,
        url: main.url,
        authorization_token_file: settings.authorizationTokenFile ?? "",
        lessor_address: settings.lessor.address ?? process.env.LESSOR_ADDR ?? DEFAULT_ADDRESS,
        mount: settings.mount,
        roles: settings.roles,
      });
    }
    return endpoints;
  } catch (err) {
    await Promise.all(endpoints.map((e) => e.close()));
    removeFile(settings.authorizationTokenFile);
    throw err;
  }
}

export async function startAgent(settings: AgentSettings, logger: Logger): Promise<RunningAgent> {
  claimAgentFile(settings.agentFile);
  const session = openSession(settings.auth, settings.lessor, logger);
  const roles = new Roles(settings, session, logger);
  let stopping = false;
  const authorizationToken = randomBytes(32).toString("base64url");
  let endpoints: Endpoint[];
  try {
    endpoints = await listen(
      settings,
      {
        credentials: (role, deadline) => roles.get(role).credentials(deadline),
        roleLabel: (role) => roles.label(role),
        health: () => roles.health(stopping),
        metrics: roles.metrics,
        authorizationToken,
      },
      logger,
    );
  } catch (err) {
    session.close();
    throw err;
  }
  const main = endpoints[0] as Endpoint;
  let stopped: Promise<void> | undefined;
  return {
    url: main.url,
    authorizationToken,
    authorizationTokenFile: settings.authorizationTokenFile,
    auth: session.description,
    metricsUrl: endpoints[1]?.url,
    credentialsUrl: (role) => `${main.url}/aws/creds/${role}`,
    async prefetch(role) {
      await roles.get(role).credentials(Date.now() + LESSOR_CALL_DEADLINE_MS * 3);
    },
    stop(options = {}) {
      stopped ??= (async () => {
        stopping = true;
        await Promise.all(endpoints.map((e) => e.close()));
        await roles.stop(options.revoke ?? settings.revokeOnExit);
        session.close();
        if (settings.agentFile !== undefined && readAgentFile(settings.agentFile)?.pid === process.pid) removeFile(settings.agentFile);
        removeFile(settings.authorizationTokenFile);
      })();
      return stopped;
    },
  };
}
