// What happens around every handler after the bearer token: the audit
// request record (no record, no service), the rate limit quota, the handler,
// and the audit response record. With no audit device and no quota it is
// authentication and the handler, nothing else.
import { randomUUID } from "node:crypto";
import { status as Code, type Metadata } from "@grpc/grpc-js";
import type { AuditBroker } from "../audit/audit.js";
import type { AuthenticatedToken } from "../auth/tokens.js";
import { isLessorError } from "../errors.js";
import type { RateLimiter } from "../quotas/rate-limits.js";
import { bearerToken, type CallDeps } from "./call.js";
import { requestTarget } from "./request-paths.js";
import { assertDecoded } from "./decode.js";

export interface RequestGuard {
  audit: AuditBroker;
  quotas: RateLimiter;
}

/** Authenticates, then runs the handler under audit and quotas. */
export async function runGuarded<Res>(
  deps: CallDeps & { guard?: RequestGuard },
  method: string,
  peer: string,
  metadata: Metadata,
  request: unknown,
  handler: (caller: AuthenticatedToken) => Promise<Res>,
): Promise<Res> {
  const run = (caller: AuthenticatedToken): Promise<Res> => {
    assertDecoded(request);
    return handler(caller);
  };
  const guard = deps.guard;
  const token = bearerToken(metadata);
  if (!guard || (!guard.audit.enabled && !guard.quotas.active)) {
    return run(await deps.tokens.authenticate(token, Date.now()));
  }
  const target = requestTarget(method, request);
  const id = randomUUID();
  const { audit } = guard;
  const [address, port] = splitPeer(peer);
  const entry = (caller: AuthenticatedToken | undefined) => ({
    auth: caller
      ? {
          client_token: token === undefined ? undefined : audit.hash(token),
          accessor: caller.accessor,
          display_name: caller.displayName,
          policies: caller.policies,
        }
      : { client_token: token === undefined ? undefined : audit.hash(token) },
    request: { id, operation: target.operation, method, path: target.path, remote_address: address, remote_port: port },
  });
  const settle = (caller: AuthenticatedToken | undefined, outcome: { response?: unknown; error?: unknown }): void => {
    if (!audit.enabled) return;
    const base = entry(caller);
    const error = outcome.error;
    audit.record({
      type: "response",
      ...base,
      response: error === undefined ? { data: audit.redact(outcome.response) } : undefined,
      code: error === undefined ? "OK" : Code[isLessorError(error) ? error.code : Code.UNKNOWN],
      error: error === undefined ? undefined : isLessorError(error) ? error.message : "internal error",
    });
  };

  let caller: AuthenticatedToken;
  try {
    caller = await deps.tokens.authenticate(token, Date.now());
  } catch (err) {
    if (audit.enabled) {
      audit.record({ type: "request", ...entry(undefined), request: { ...entry(undefined).request, data: audit.redact(request) } });
      settle(undefined, { error: err });
    }
    throw err;
  }
  if (audit.enabled) {
    const base = entry(caller);
    audit.record({ type: "request", ...base, request: { ...base.request, data: audit.redact(request) } });
  }
  let response: Res;
  try {
    guard.quotas.take(target.path, caller.accessor, Date.now());
    response = await run(caller);
  } catch (err) {
    settle(caller, { error: err });
    throw err;
  }
  settle(caller, { response });
  return response;
}

function splitPeer(peer: string): [string, number | undefined] {
  const m = /^(?:ipv[46]:)?\[?([^\]]*?)\]?:(\d+)$/.exec(peer);
  return m ? [m[1] as string, Number(m[2])] : [peer, undefined];
}
