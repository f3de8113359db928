// The HTTP side of the agent: the AWS container credentials endpoint every
// AWS SDK and the AWS CLI speak (AWS_CONTAINER_CREDENTIALS_FULL_URI, a GET
// answered with AccessKeyId, SecretAccessKey, Token and Expiration; errors as
// {"code", "message"}), one path per Lessor role, plus health and Prometheus
// metrics that need no token. Everything is bounded: connections, header and
// body sizes, the time a connection may sit idle or a request may take.
import { createHash, timingSafeEqual } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import type { ListenTarget } from "./config.js";
import { AgentError } from "./errors.js";
import type { AgentMetrics } from "./metrics.js";
import type { ServedCredentials } from "./role-lease.js";

/** Limits of the listener: a credential request is a GET of a short path with one header that matters. */
export const ENDPOINT_LIMITS = {
  maxConnections: 256,
  maxHeaderBytes: 8 * 1024,
  bodyBytes: 1024,
  /** A socket with nothing happening for this long is closed. */
  idleMs: 10_000,
  /** Whole request, headers included. */
  requestMs: 30_000,
  headersMs: 10_000,
  keepAliveMs: 5_000,
  /** How long a request waits for a lease being issued (SDKs give up sooner and ask again). */
  issueWaitMs: 20_000,
} as const;

export interface HealthReport {
  status: "ok" | "unauthenticated" | "stopping";
  auth: string;
  roles: Record<string, { leases: number; seconds_left: number; last_error?: string }>;
}

export interface EndpointHandlers {
  /** Credentials for a role, or an AgentError saying why not. */
  credentials(role: string, deadline: number): Promise<ServedCredentials>;
  /** The role as a metrics label: itself when it is one the agent holds or may hold, else "other" (labels stay bounded). */
  roleLabel(role: string): string;
  health(): HealthReport;
  metrics: AgentMetrics;
  /** The authorization token callers must send; undefined: this listener serves no credentials (metrics only). */
  authorizationToken: string | undefined;
}

/** The body of an answer: AWS's field names, Token empty for an IAM user's key (the JS SDK and botocore require the field). */
export function credentialBody(served: ServedCredentials): Record<string, string> {
  return {
    AccessKeyId: served.key.accessKeyId,
    SecretAccessKey: served.key.secretAccessKey,
    Token: served.key.sessionToken ?? "",
    Expiration: new Date(served.expiration).toISOString(),
    ...(served.accountId ? { AccountId: served.accountId } : {}),
  };
}

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

function sendError(reply: FastifyReply, err: AgentError): FastifyReply {
  return reply.code(err.status).header("cache-control", "no-store").send({ code: err.code, message: err.message });
}

export class Endpoint {
  private constructor(
    readonly app: FastifyInstance,
    /** http://host:port, or unix:/path. */
    readonly url: string,
    private readonly socketPath: string | undefined,
  ) {}

  static async start(target: ListenTarget, handlers: EndpointHandlers, logger: Logger): Promise<Endpoint> {
    const loggerInstance: FastifyBaseLogger = logger;
    const app = Fastify({
      loggerInstance,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: ENDPOINT_LIMITS.bodyBytes,
      routerOptions: { maxParamLength: 128 },
      connectionTimeout: ENDPOINT_LIMITS.idleMs,
      keepAliveTimeout: ENDPOINT_LIMITS.keepAliveMs,
      requestTimeout: ENDPOINT_LIMITS.requestMs,
      forceCloseConnections: true,
      return503OnClosing: true,
      serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void): Server =>
        createServer({ maxHeaderSize: ENDPOINT_LIMITS.maxHeaderBytes }, handler),
    });
    routes(app, handlers);
    let url: string;
    let socketPath: string | undefined;
    if ("socketPath" in target) {
      rmSync(target.socketPath, { force: true });
      await app.listen({ path: target.socketPath });
      chmodSync(target.socketPath, 0o600);
      socketPath = target.socketPath;
      url = `unix:${target.socketPath}`;
    } else {
      await app.listen({ host: target.host, port: target.port });
      const address = app.server.address();
      const port = typeof address === "object" && address !== null ? address.port : target.port;
      url = `http://${target.host.includes(":") ? `[${target.host}]` : target.host}:${port}`;
    }
    app.server.maxConnections = ENDPOINT_LIMITS.maxConnections;
    app.server.headersTimeout = ENDPOINT_LIMITS.headersMs;
    return new Endpoint(app, url, socketPath);
  }

  async close(): Promise<void> {
    await this.app.close();
    if (this.socketPath) rmSync(this.socketPath, { force: true });
  }
}

function routes(app: FastifyInstance, handlers: EndpointHandlers): void {
  const expected = handlers.authorizationToken === undefined ? undefined : digest(handlers.authorizationToken);

  app.setNotFoundHandler((request, reply) => sendError(reply, new AgentError(404, "NotFound", `nothing is served at ${request.method} ${request.url.slice(0, 100)}`)));
  app.setErrorHandler((err: { statusCode?: number; message?: string }, _request, reply) => {
    const status = typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    return sendError(reply, new AgentError(status, status === 500 ? "InternalError" : "InvalidRequest", err.message ?? "request failed"));
  });

  app.get("/health", (_request, reply) => {
    const report = handlers.health();
    return reply.code(report.status === "ok" ? 200 : 503).header("cache-control", "no-store").send(report);
  });

  app.get("/metrics", async (_request, reply) => {
    const text = await handlers.metrics.registry.metrics();
    return reply.header("content-type", handlers.metrics.registry.contentType).send(text);
  });

  if (expected === undefined) return;
  app.route<{ Params: { role: string } }>({
    method: ["GET", "POST", "PUT", "DELETE", "PATCH"],
    url: "/aws/creds/:role",
    handler: async (request, reply) => {
      const role = request.params.role;
      const answer = (status: number): void => handlers.metrics.request(handlers.roleLabel(role), status);
      if (request.method !== "GET") {
        answer(405);
        return sendError(reply.header("allow", "GET, HEAD"), new AgentError(405, "MethodNotAllowed", "the credentials endpoint answers GET"));
      }
      const given = request.headers.authorization;
      if (given === undefined || given === "") {
        answer(401);
        return sendError(reply, new AgentError(401, "Unauthorized", "no Authorization header: set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or AWS_CONTAINER_AUTHORIZATION_TOKEN) to the agent's token"));
      }
      if (!timingSafeEqual(digest(given.trim()), expected)) {
        answer(403);
        return sendError(reply, new AgentError(403, "Forbidden", "the Authorization header is not the agent's token"));
      }
      try {
        const served = await handlers.credentials(role, Date.now() + ENDPOINT_LIMITS.issueWaitMs);
        answer(200);
        return reply.header("cache-control", "no-store").send(credentialBody(served));
      } catch (err) {
        const failure = err instanceof AgentError ? err : new AgentError(500, "InternalError", err instanceof Error ? err.message : String(err));
        answer(failure.status);
        request.log.warn({ role, status: failure.status, err: failure.message }, "credential request failed");
        return sendError(reply, failure);
      }
    },
  });
}
