// One error class for every failed call: the gRPC code, a stable reason, and
// the google.rpc details the server sent (field violations, retry delay).
import { Metadata, status as Code, type ServiceError } from "@grpc/grpc-js";
import { Status } from "./gen/google/rpc/status.js";
import { BadRequest, ErrorInfo, RetryInfo } from "./gen/google/rpc/error_details.js";

export { Code };

export interface FieldViolation {
  field: string;
  description: string;
  /** Why the field was refused, as a stable code (e.g. "FIELD_INVALID"); "" when the server sent none. */
  reason: string;
}

export class LessorClientError extends Error {
  /** gRPC status code. */
  readonly code: Code;
  /** Stable reason from ErrorInfo, e.g. "FIELD_INVALID"; "" when the server sent none. */
  readonly reason: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];
  /** Server-suggested wait before retrying, from RetryInfo. */
  readonly retryDelayMs: number | undefined;
  /** The RPC that failed, e.g. "SecretsService/Read". */
  readonly method: string;

  constructor(
    code: Code,
    message: string,
    method: string,
    info: { reason?: string; metadata?: Record<string, string>; fieldViolations?: FieldViolation[]; retryDelayMs?: number } = {},
  ) {
    super(message);
    this.name = "LessorClientError";
    this.code = code;
    this.method = method;
    this.reason = info.reason ?? "";
    this.metadata = info.metadata ?? {};
    this.fieldViolations = info.fieldViolations ?? [];
    this.retryDelayMs = info.retryDelayMs;
  }

  /** Name of the status code: "NOT_FOUND", "INVALID_ARGUMENT", ... */
  get codeName(): string {
    return Code[this.code] ?? String(this.code);
  }

  /**
   * What JSON.stringify (and so most loggers) print: an Error's message and
   * name are not enumerable, and codeName is a getter, so without this they
   * would be left out.
   */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      code: this.code,
      codeName: this.codeName,
      method: this.method,
      reason: this.reason,
      metadata: this.metadata,
      fieldViolations: this.fieldViolations,
      retryDelayMs: this.retryDelayMs,
    };
  }

  /** Builds the error from whatever grpc-js gave a callback, decoding rich details. */
  static from(err: unknown, method: string): LessorClientError {
    if (err instanceof LessorClientError) return err;
    const e = err as Partial<ServiceError>;
    const code = typeof e.code === "number" ? (e.code as Code) : Code.UNKNOWN;
    const message = typeof e.details === "string" && e.details !== "" ? e.details : e instanceof Error ? e.message : String(err);
    const info: ConstructorParameters<typeof LessorClientError>[3] = {};
    const raw = e.metadata instanceof Metadata ? e.metadata.get("grpc-status-details-bin")[0] : undefined;
    if (raw instanceof Buffer) {
      try {
        for (const any of Status.decode(raw).details) {
          const type = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
          if (type === "google.rpc.ErrorInfo") {
            const d = ErrorInfo.decode(any.value);
            info.reason = d.reason;
            info.metadata = d.metadata;
          } else if (type === "google.rpc.BadRequest") {
            info.fieldViolations = BadRequest.decode(any.value).fieldViolations.map((v) => ({ field: v.field, description: v.description, reason: v.reason }));
          } else if (type === "google.rpc.RetryInfo") {
            const d = RetryInfo.decode(any.value).retryDelay;
            if (d) info.retryDelayMs = d.seconds * 1000 + Math.round(d.nanos / 1e6);
          }
        }
      } catch {
        // Undecodable details: keep the code and message.
      }
    }
    return new LessorClientError(code, message, method, info);
  }
}
