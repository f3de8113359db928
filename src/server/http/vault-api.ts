// Vault's HTTP API over the one request pipeline: every request under /v1/
// becomes one Call (the verb as its method, transport "http"), so it is
// authenticated, routed, audited, rate limited and checked against the ACL
// exactly as its gRPC twin; the answer is shaped as Vault's
// (vault-responses.ts). Fastify does the HTTP: routing, body limits,
// timeouts; Vault's JSON is read by vault-requests.ts.
import { STATUS_CODES, type RequestListener, type Server as HttpServer } from "node:http";
import type { Duplex } from "node:stream";
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { describeError, isLessorError, LessorError } from "../../errors.js";
import type { Connection } from "../../engines/framework/types.js";
import { normalizeRequestPath } from "../../router/paths.js";
import type { JsonObject } from "../../util/json.js";
import type { RequestPipeline } from "../pipeline.js";
import { callerError } from "../status.js";
import { RewrittenConnection } from "./connections.js";
import { LIST_STAND_IN } from "./list-method.js";
import { distinctHeaders, logicalRequest, parseBody, refuseUnsupportedHeaders, requestToken, vaultVerb } from "./vault-requests.js";
import { errorAnswer, vaultAnswer, type HttpAnswer } from "./vault-responses.js";

export interface VaultApiLimits {
  /** Largest request body (as gRPC's largest message). */
  bodyLimit: number;
  /** Time to receive a request's headers, and the whole request. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_VAULT_API_LIMITS: VaultApiLimits = {
  bodyLimit: 4 * 1024 * 1024,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
};

/** The Fastify app serving /v1/, on the HTTP server `serverFactory` makes (connections.ts). */
export function vaultApi(
  pipeline: RequestPipeline,
  logger: Logger,
  limits: VaultApiLimits,
  serverFactory: (handler: RequestListener) => HttpServer,
): FastifyInstance<HttpServer> {
  const app = Fastify({
    serverFactory,
    bodyLimit: limits.bodyLimit,
    // The path is checked once, by the pipeline; the router only has to hand it over whole.
    routerOptions: { maxParamLength: 8192 },
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // Vault's clients send their own ids as they like; the request id is always Lessor's.
    requestIdHeader: false,
    logger: false,
    frameworkErrors: (error, request, reply) => send(reply, frameworkAnswer(error, limits), request.method === "HEAD"),
    clientErrorHandler: refuseUnparsable,
  });
  // The server comes from serverFactory, so its timeouts are set here (Fastify sets them only on servers it makes).
  app.server.headersTimeout = limits.headersTimeoutMs;
  app.server.requestTimeout = limits.requestTimeoutMs;
  app.server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const bodies = new WeakMap<object, JsonObject>();
  // LIST reaches the server as LOCK (list-method.ts): a method without a body.
  app.addHttpMethod(LIST_STAND_IN);
  // Every body is read as Vault reads it: JSON, whatever the content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: limits.bodyLimit }, (request, body, done) => {
    try {
      const parsed = parseBody(Buffer.isBuffer(body) ? body : Buffer.from(body));
      bodies.set(request.raw, parsed);
      done(null, parsed);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)), undefined);
    }
  });
  app.setErrorHandler((error: FastifyError | LessorError, request, reply) => {
    const answer = isLessorError(error) ? errorAnswer(error, false) : frameworkAnswer(error, limits);
    logger.info({ method: request.method, url: request.url.slice(0, 200), status: answer.status, error: answer.body?.errors }, "http request refused");
    return send(reply, answer, request.method === "HEAD");
  });
  app.setNotFoundHandler((request, reply) => {
    const answer = request.url.startsWith("/v1/")
      ? errorAnswer(unsupportedMethod(request.method), false)
      : { status: 404, body: { errors: ["Lessor serves Vault's HTTP API under /v1/"] }, headers: {} };
    return send(reply, answer, request.method === "HEAD");
  });
  app.all("/v1/*", (request, reply) => handle(pipeline, logger, request, reply, bodies.get(request.raw) ?? {}));
  return app;
}

async function handle(pipeline: RequestPipeline, logger: Logger, request: FastifyRequest, reply: FastifyReply, body: JsonObject): Promise<FastifyReply> {
  const started = performance.now();
  const headers = distinctHeaders(request.raw.headersDistinct);
  let token: string | undefined;
  const head = request.method === "HEAD";
  try {
    token = requestToken(headers);
    refuseUnsupportedHeaders(headers);
    const verb = vaultVerb(request.method);
    const rawPath = routePath(request);
    const logical = logicalRequest(verb, rawPath, queryOf(request), body);
    const path = normalizeRequestPath(logical.path);
    const requestId = randomUUID();
    const caller = callerSignal(reply);
    const response = await pipeline
      .handle({
        requestId,
        method: verb,
        operation: logical.operation,
        path,
        pathField: "path",
        data: logical.data,
        token,
        connection: connectionOf(request),
        signal: caller.signal,
      })
      .finally(() => caller.done());
    const answer = vaultAnswer({ requestId, operation: logical.operation, path, token, data: logical.data }, response);
    if (logger.isLevelEnabled("debug")) logger.debug({ method: verb, path, status: answer.status, ms: since(started) }, "http");
    return send(reply, answer, head);
  } catch (err) {
    const { error, reference } = callerError(err);
    const answer = errorAnswer(error, token !== undefined);
    const fields = { method: request.method, url: request.url.slice(0, 200), status: answer.status, ms: since(started) };
    if (reference) logger.error({ ...fields, reference, err: describeError(err) }, "http request failed with an internal error");
    else logger.info({ ...fields, error: error.message }, "http request failed");
    return send(reply, answer, head);
  }
}

function send(reply: FastifyReply, answer: HttpAnswer, head: boolean): FastifyReply {
  reply.code(answer.status).headers(answer.headers);
  if (answer.body === undefined || answer.status === 204) return reply.send();
  reply.type("application/json");
  return head ? reply.send() : reply.send(JSON.stringify(answer.body));
}

/** The path after /v1/ (the router decodes it; the pipeline checks it). */
function routePath(request: FastifyRequest): string {
  const params = request.params;
  const rest = params !== null && typeof params === "object" && "*" in params ? params["*"] : "";
  return typeof rest === "string" ? rest : "";
}

function queryOf(request: FastifyRequest): Record<string, unknown> {
  const query = request.query;
  return query !== null && typeof query === "object" ? { ...query } : {};
}

function connectionOf(request: FastifyRequest): Connection {
  const socket = request.raw.socket;
  if (socket instanceof RewrittenConnection) {
    return { transport: "http", remoteAddress: socket.remoteAddress ?? "", remotePort: socket.remotePort, peerCertificate: socket.peerCertificate };
  }
  return { transport: "http", remoteAddress: request.ip, remotePort: undefined, peerCertificate: undefined };
}

/** Aborted when the client goes away before its answer is sent. */
function callerSignal(reply: FastifyReply): { signal: AbortSignal; done(): void } {
  const abort = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableFinished) abort.abort();
  };
  reply.raw.once("close", onClose);
  return { signal: abort.signal, done: () => reply.raw.off("close", onClose) };
}

function unsupportedMethod(method: string): LessorError {
  try {
    vaultVerb(method);
  } catch (err) {
    if (isLessorError(err)) return err;
  }
  return LessorError.notFound(`no such path`, "PATH_NOT_FOUND");
}

/** Fastify's own refusals (a body too large, a malformed URL, a server closing), in Vault's shape, status kept. */
function frameworkAnswer(error: FastifyError, limits: VaultApiLimits): HttpAnswer {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 400;
  const message =
    status === 413
      ? `request body is larger than the ${Math.round(limits.bodyLimit / 1024 / 1024)} MiB the server accepts`
      : status === 503
        ? "the server is shutting down; retry on another replica"
        : `bad request: ${error.message.slice(0, 200)}`;
  return { status, body: { errors: [message] }, headers: { "cache-control": "no-store" } };
}

/**
 * A request Node's parser refused before any handler (an unknown method,
 * headers too large, a malformed request line): answered in Vault's shape,
 * then the connection is closed, as the parser cannot go on reading it.
 */
function refuseUnparsable(error: { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] =
    error.code === "HPE_INVALID_METHOD"
      ? [405, "unsupported HTTP method: Vault's API takes GET, LIST, PUT, POST and DELETE"]
      : error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "request headers are larger than the server accepts"]
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "the request did not arrive in time"]
          : [400, "malformed HTTP request"];
  const body = JSON.stringify({ errors: [message] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function since(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
