// The one route every request takes, whatever its transport (a typed gRPC
// method, the generic Read/Write, Vault's HTTP API): the path is cleaned once,
// then authentication → routing → audit (request record) → quota → ACL →
// the backend's handler → audit (response record). Every layer sees the same
// cleaned path and the capability the route decided, so the path audited,
// the path quota'd and the path the ACL checked are one string. Services hold
// no permission checks; backends declare which paths are root-protected or
// answer without a token, and this reads the declarations through the router.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Acl } from "../auth/acl.js";
import type { AuthenticatedToken, TokenAuthority } from "../auth/tokens.js";
import type { AuditBroker } from "../audit/audit.js";
import { Code, LessorError, describeError, isLessorError } from "../errors.js";
import type { Caller, Connection, JsonObject, Operation } from "../engines/framework/types.js";
import type { LeaseManager } from "../leases/manager.js";
import type { RateLimiter } from "../quotas/rate-limits.js";
import { describeRoute } from "../router/help.js";
import { normalizeRequestPath } from "../router/paths.js";
import { callerGone, type Capability, type Route, type Router, type RouterRequest, type RouterResponse } from "../router/router.js";
import type { StreamGuard } from "./streams.js";

/** What a request does: a backend operation, or "help" (describe the path; needs only a valid token). */
export type LogicalOperation = Operation | "help";

/** One request, as any transport hands it to the pipeline. */
export interface Call {
  /** The request's id in audit records (the transport's, when it answers with one: HTTP's request_id). */
  requestId?: string;
  /** The method for logs and audit: "SecretsService/Read", or the HTTP verb ("GET", "LIST"). */
  method: string;
  operation: LogicalOperation;
  /** The path as sent; cleaned here, once. */
  path: string;
  /** Which request field carried the path, for errors ("path", "lease_id", "prefix"). */
  pathField: string;
  data: JsonObject;
  /** The bearer token, if one was sent. */
  token: string | undefined;
  connection: Connection;
  /** Aborted when the caller goes away. */
  signal: AbortSignal;
  /** Streaming transports: sends one message to the caller. */
  stream?: (message: JsonObject) => Promise<void>;
}

/** What a call is, once the pipeline has looked at it. */
export interface CallTarget {
  /** The cleaned path: the one the ACL checked, the quota counted and the audit recorded. */
  path: string;
  /** The capability checked ("create" or "update" for a write, by whether the entry exists). */
  operation: Capability | "help";
  sudo: boolean;
  unauthenticated: boolean;
}

export interface PipelineParts {
  tokens: TokenAuthority;
  acl: Acl;
  quotas: RateLimiter;
  audit: AuditBroker;
  router: Router;
  leases: Pick<LeaseManager, "revoke" | "revokeByToken">;
  /** Limits on long-lived streams, and their end with their token. */
  streams: StreamGuard;
  logger: Logger;
}

/** The caller on a path that needs no token (a login): no accessor, no policies. */
const ANONYMOUS: Caller = { tokenAccessor: "", displayName: "", policies: [], metadata: {} };

export class RequestPipeline {
  /** Told the target of every call before it runs (tests check that every layer saw the same path). */
  onTarget: ((method: string, target: CallTarget) => void) | undefined;

  constructor(private readonly parts: PipelineParts) {}

  async handle(call: Call): Promise<RouterResponse> {
    const { router, tokens } = this.parts;
    const path = normalizeRequestPath(call.path, call.pathField);
    const unauthenticated = call.operation !== "help" && router.isUnauthenticated(path);
    const audit = new AuditTrail(this.parts.audit, call, path);
    // Each step below answers at once when it can (a remembered token, a
    // mounted path, a read): awaiting only real promises saves a promise and
    // a microtask turn per step on every request.
    let caller: AuthenticatedToken | undefined;
    try {
      if (!unauthenticated) {
        const authenticated = tokens.authenticateSoon(call.token, Date.now(), call.connection);
        caller = authenticated instanceof Promise ? await authenticated : authenticated;
      }
    } catch (err) {
      audit.failedBeforeRouting(undefined, err);
      throw err;
    }
    let route: Route;
    let needs: { capability: Capability | "help"; sudo: boolean };
    try {
      const routed = router.route(path);
      route = routed instanceof Promise ? await routed : routed;
      if (call.operation === "help") needs = { capability: "help", sudo: false };
      else {
        const needed = router.capability(route, call.operation);
        needs = needed instanceof Promise ? await needed : needed;
      }
    } catch (err) {
      audit.failedBeforeRouting(caller, err);
      throw err;
    }
    const target: CallTarget = { path, operation: needs.capability, sudo: needs.sudo, unauthenticated };
    this.onTarget?.(call.method, target);
    audit.request(caller, target);
    let response: RouterResponse;
    try {
      this.parts.quotas.take(path, caller?.accessor, Date.now());
      if (caller && needs.capability !== "help") this.authorize(caller, target, needs.capability);
      response =
        call.operation === "help"
          ? { data: describeRoute(route), warnings: [], mountType: route.mounted.mount.type }
          : await this.dispatch(route, call, call.operation, caller);
    } catch (err) {
      audit.response(caller, { error: err });
      throw err;
    }
    const settled = this.settle(audit, caller, response, call);
    if (settled) await settled;
    return response;
  }

  /** Runs the handler; a stream is held within its limits and ends with its token. */
  private dispatch(route: Route, call: Call, operation: Operation, caller: AuthenticatedToken | undefined): Promise<RouterResponse> {
    const request = {
      operation,
      data: call.data,
      caller: caller ? callerOf(caller) : ANONYMOUS,
      connection: call.connection,
      // Read only when a handler asks (the transport makes it on demand).
      get signal() {
        return call.signal;
      },
      stream: call.stream,
    };
    // Not async: the router's promise is returned as it is, without another around it.
    if (!call.stream || !caller) return this.parts.router.dispatch(route, request);
    return this.dispatchStream(route, request, caller, call.signal);
  }

  /** A streaming call: held within the stream limits, and ended with its token. */
  private async dispatchStream(route: Route, request: RouterRequest, caller: AuthenticatedToken, callerSignal: AbortSignal): Promise<RouterResponse> {
    const guarded = this.parts.streams.enter(caller, callerSignal);
    try {
      const response = await this.parts.router.dispatch(route, { ...request, signal: guarded.signal });
      const ended = guarded.ended();
      if (ended) throw ended;
      return response;
    } finally {
      guarded.close();
    }
  }

  /** The capability on the path, and sudo too where the backend declares the path root-protected. */
  private authorize(caller: AuthenticatedToken, target: CallTarget, capability: Capability): void {
    this.parts.acl.check(caller, target.path, capability);
    if (target.sudo) this.parts.acl.check(caller, target.path, "sudo");
  }

  /**
   * Records the response. A lease or token the caller will not get (the
   * record cannot be written) is undone at once: nothing lives without a holder.
   */
  private settle(audit: AuditTrail, caller: AuthenticatedToken | undefined, response: RouterResponse, call: Pick<Call, "signal">): Promise<void> | undefined {
    try {
      audit.response(caller, { response });
      // The caller went away as the lease was recorded: nobody would hold it.
      if (response.lease && call.signal.aborted) throw callerGone();
    } catch (err) {
      return this.undeliverable(response, err);
    }
    // Recorded: nothing to wait for (no promise on the hot path).
    return undefined;
  }

  /** A lease or token the caller will not get (its record could not be written) is undone at once. */
  private async undeliverable(response: RouterResponse, err: unknown): Promise<void> {
    if (response.lease) {
      await this.parts.leases.revoke(response.lease.id).catch((revokeErr: unknown) => {
        this.parts.logger.error({ lease_id: response.lease?.id, err: describeError(revokeErr) }, "revoking an unaudited lease failed; the expiry scheduler will retry it");
      });
      throw undelivered(err, "the lease issued for it has been revoked");
    }
    if (response.token) {
      await this.parts.tokens.revoke(response.token.accessor, this.parts.leases, false);
      throw undelivered(err, "the token made for it has been revoked");
    }
    throw err;
  }
}

function callerOf(token: AuthenticatedToken): Caller {
  return { tokenAccessor: token.accessor, displayName: token.displayName, policies: token.policies, metadata: token.metadata };
}

function undelivered(err: unknown, what: string): LessorError {
  const message = isLessorError(err) ? err.message : "the response could not be recorded";
  return new LessorError(Code.UNAVAILABLE, `${message}; ${what}`, { reason: "AUDIT_FAILED", cause: err });
}

/** The request and response records of one call, on every enabled audit device. */
class AuditTrail {
  /** The transport's request id, else made when the first record is written: most servers audit nothing, and this is the hot path. */
  private id: string | undefined;
  private recordedRequest = false;

  constructor(
    private readonly audit: AuditBroker,
    private readonly call: Call,
    private readonly path: string,
  ) {
    this.id = call.requestId;
  }

  /** Authentication or routing failed: the request and its failure, with the operation as asked. */
  failedBeforeRouting(caller: AuthenticatedToken | undefined, error: unknown): void {
    if (!this.audit.enabled) return;
    const operation = this.call.operation === "write" ? "update" : this.call.operation;
    this.request(caller, { path: this.path, operation, sudo: false, unauthenticated: false });
    this.response(caller, { error });
  }

  request(caller: AuthenticatedToken | undefined, target: CallTarget): void {
    if (!this.audit.enabled) return;
    this.operation = target.operation;
    this.audit.record({ type: "request", ...this.entry(caller), request: { ...this.requestFields(), data: this.audit.redact(this.call.data) } });
    this.recordedRequest = true;
  }

  response(caller: AuthenticatedToken | undefined, outcome: { response?: RouterResponse; error?: unknown }): void {
    if (!this.audit.enabled || !this.recordedRequest) return;
    const { response, error } = outcome;
    this.audit.record({
      type: "response",
      ...this.entry(caller),
      request: this.requestFields(),
      response: response === undefined ? undefined : this.responseFields(response),
      code: error === undefined ? "OK" : Code[isLessorError(error) ? error.code : Code.UNKNOWN],
      error: error === undefined ? undefined : isLessorError(error) ? error.message : "internal error",
      error_detail: isLessorError(error) ? error.detail : undefined,
    });
  }

  private operation: CallTarget["operation"] = "read";

  private entry(caller: AuthenticatedToken | undefined) {
    const clientToken = this.call.token === undefined ? undefined : this.audit.hash(this.call.token);
    return {
      auth: caller
        ? { client_token: clientToken, accessor: caller.accessor, display_name: caller.displayName, policies: caller.policies, metadata: this.audit.redact(caller.metadata) }
        : { client_token: clientToken },
    };
  }

  private requestFields() {
    const { connection } = this.call;
    return {
      id: (this.id ??= randomUUID()),
      operation: this.operation,
      method: this.call.method,
      path: this.path,
      transport: connection.transport,
      remote_address: connection.remoteAddress,
      remote_port: connection.remotePort,
    };
  }

  /** Vault's response shape: data, the secret's lease, the token made (every string as its digest). */
  private responseFields(response: RouterResponse) {
    const { lease, token } = response;
    return {
      data: this.audit.redact(response.data),
      secret: lease ? { lease_id: lease.id, lease_duration: lease.durationSeconds, renewable: lease.renewable } : undefined,
      auth: token
        ? { client_token: this.audit.hash(token.token), accessor: token.accessor, policies: token.policies, metadata: this.audit.redact(token.metadata), ttl: token.ttlSeconds }
        : undefined,
      warnings: response.warnings.length > 0 ? response.warnings : undefined,
    };
  }
}
