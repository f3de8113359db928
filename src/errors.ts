// The one error type of Lessor. Every layer throws LessorError with a gRPC
// status code and a stable reason; src/server turns it into a gRPC status with
// google.rpc details. Anything else that escapes is an internal error and
// surfaces as UNKNOWN without its message or stack.
import { status as Code } from "@grpc/grpc-js";

export { Code };

export interface FieldViolation {
  field: string;
  description: string;
}

export interface LessorErrorOptions {
  /** Stable, machine-readable cause, e.g. "FIELD_INVALID", "PATH_NOT_FOUND". */
  reason: string;
  /** Extra facts for programs (ErrorInfo metadata). Never secret values. */
  metadata?: Record<string, string>;
  /** Invalid request fields (BadRequest field violations). */
  fieldViolations?: FieldViolation[];
  /** How long a caller should wait before trying again (RetryInfo). */
  retryDelayMs?: number;
  /**
   * What exactly went wrong, for the server log and the audit log only, never
   * for the caller (a refused login says the same whatever check failed).
   */
  detail?: string;
  cause?: unknown;
}

export class LessorError extends Error {
  readonly code: Code;
  readonly reason: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];
  readonly retryDelayMs: number | undefined;
  readonly detail: string | undefined;

  constructor(code: Code, message: string, options: LessorErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LessorError";
    this.code = code;
    this.reason = options.reason;
    this.metadata = options.metadata ?? {};
    this.fieldViolations = options.fieldViolations ?? [];
    this.retryDelayMs = options.retryDelayMs;
    this.detail = options.detail;
  }

  static invalidField(field: string, description: string, metadata?: Record<string, string>): LessorError {
    return new LessorError(Code.INVALID_ARGUMENT, `${field}: ${description}`, {
      reason: "FIELD_INVALID",
      fieldViolations: [{ field, description }],
      metadata: { field, ...metadata },
    });
  }

  static invalidFields(violations: FieldViolation[]): LessorError {
    if (violations.length === 1) {
      const [v] = violations as [FieldViolation];
      return LessorError.invalidField(v.field, v.description);
    }
    const message = violations.map((v) => `${v.field}: ${v.description}`).join("; ");
    return new LessorError(Code.INVALID_ARGUMENT, message, {
      reason: "FIELD_INVALID",
      fieldViolations: violations,
      metadata: { field: violations.map((v) => v.field).join(",") },
    });
  }

  static notFound(message: string, reason = "NOT_FOUND", metadata?: Record<string, string>): LessorError {
    return new LessorError(Code.NOT_FOUND, message, { reason, metadata });
  }

  static unsupported(operation: string, path: string): LessorError {
    return new LessorError(Code.UNIMPLEMENTED, "unsupported operation", {
      reason: "UNSUPPORTED_OPERATION",
      metadata: { operation, path },
    });
  }

  static failedPrecondition(message: string, reason: string, metadata?: Record<string, string>): LessorError {
    return new LessorError(Code.FAILED_PRECONDITION, message, { reason, metadata });
  }

  static permissionDenied(message: string, reason = "PERMISSION_DENIED", metadata?: Record<string, string>): LessorError {
    return new LessorError(Code.PERMISSION_DENIED, message, { reason, metadata });
  }

  static unauthenticated(message: string): LessorError {
    return new LessorError(Code.UNAUTHENTICATED, message, { reason: "TOKEN_INVALID" });
  }

  static alreadyExists(message: string, reason = "ALREADY_EXISTS", metadata?: Record<string, string>): LessorError {
    return new LessorError(Code.ALREADY_EXISTS, message, { reason, metadata });
  }

  static unavailable(message: string, reason: string, metadata?: Record<string, string>, cause?: unknown): LessorError {
    return new LessorError(Code.UNAVAILABLE, message, { reason, metadata, cause });
  }
}

export function isLessorError(err: unknown): err is LessorError {
  return err instanceof LessorError;
}

/** The message of an unknown thrown value, for logs only (never for callers). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
