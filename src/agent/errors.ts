// What the endpoint answers when it has no credentials to give: an HTTP
// status and the `{"code", "message"}` body the container credential
// protocol describes for errors. Messages name the role and what failed,
// never a key or a token.
import { Code, LessorClientError } from "@lessor/client";

export class AgentError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AgentError";
  }
}

/** Codes worth another try later: Lessor (or the way to it) is down or busy. */
export const TRANSIENT_CODES: ReadonlySet<Code> = new Set([
  Code.UNAVAILABLE,
  Code.DEADLINE_EXCEEDED,
  Code.RESOURCE_EXHAUSTED,
  Code.ABORTED,
  Code.UNKNOWN,
  Code.INTERNAL,
  Code.CANCELLED,
]);

export function isTransient(err: unknown): boolean {
  return !(err instanceof LessorClientError) || TRANSIENT_CODES.has(err.code);
}

/** The endpoint's answer for a failed issuance of `<mount>/creds/<role>`. */
export function agentErrorFrom(err: unknown, what: string): AgentError {
  if (err instanceof AgentError) return err;
  if (!(err instanceof LessorClientError)) return new AgentError(500, "InternalError", `${what}: ${err instanceof Error ? err.message : String(err)}`);
  const message = `${what}: Lessor answered ${err.codeName}: ${err.message}`;
  switch (err.code) {
    case Code.PERMISSION_DENIED:
      return new AgentError(403, "AccessDenied", message);
    case Code.NOT_FOUND:
      return new AgentError(404, "NotFound", message);
    case Code.INVALID_ARGUMENT:
    case Code.FAILED_PRECONDITION:
      return new AgentError(400, "InvalidRequest", message);
    case Code.UNAUTHENTICATED:
      return new AgentError(503, "AgentNotAuthenticated", message);
    default:
      return new AgentError(503, "LessorUnavailable", message);
  }
}
