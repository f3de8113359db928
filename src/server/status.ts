// LessorError → gRPC status with google.rpc.Status details (ErrorInfo,
// BadRequest, RetryInfo) in the `grpc-status-details-bin` trailer. Anything
// that is not a LessorError becomes UNKNOWN with only a reference id: no
// message, no stack, nothing that could carry a secret.
import { randomBytes } from "node:crypto";
import { Metadata, type ServiceError, status as Code } from "@grpc/grpc-js";
import { LessorError } from "../errors.js";
import { storageFault } from "../store/faults.js";
import { Any } from "@lessor/client/gen/google/protobuf/any.js";
import { Status } from "@lessor/client/gen/google/rpc/status.js";
import { BadRequest, ErrorInfo, RetryInfo } from "@lessor/client/gen/google/rpc/error_details.js";

export const ERROR_DOMAIN = "lessor.dev";
const TYPE_PREFIX = "type.googleapis.com/";

export interface MappedError {
  error: Partial<ServiceError>;
  /** Set for internal errors: the id that ties the reply to the log line. */
  reference?: string;
  code: Code;
}

export function toServiceError(err: unknown): MappedError {
  if (err instanceof LessorError) return { error: fromLessorError(err), code: err.code };
  const reference = randomBytes(6).toString("hex");
  // A store failure with a clear cause (a full disk) says so; its detail is logged under the reference as for internal errors.
  const fault = storageFault(err);
  if (fault) {
    const said = new LessorError(fault.code, `${fault.message} (reference ${reference} in the server log)`, {
      reason: fault.reason,
      metadata: { ...fault.metadata, reference },
    });
    return { error: fromLessorError(said), reference, code: fault.code };
  }
  const internal = new LessorError(Code.UNKNOWN, `internal error; see the server log for reference ${reference}`, {
    reason: "INTERNAL",
    metadata: { reference },
  });
  return { error: fromLessorError(internal), reference, code: Code.UNKNOWN };
}

function fromLessorError(err: LessorError): Partial<ServiceError> {
  const details: Any[] = [
    pack("google.rpc.ErrorInfo", ErrorInfo.encode({ reason: err.reason, domain: ERROR_DOMAIN, metadata: err.metadata }).finish()),
  ];
  if (err.fieldViolations.length > 0) {
    details.push(
      pack(
        "google.rpc.BadRequest",
        BadRequest.encode(
          BadRequest.fromPartial({
            fieldViolations: err.fieldViolations.map((v) => ({ field: v.field, description: v.description, reason: err.reason })),
          }),
        ).finish(),
      ),
    );
  }
  if (err.retryDelayMs !== undefined) {
    const seconds = Math.floor(err.retryDelayMs / 1000);
    details.push(
      pack(
        "google.rpc.RetryInfo",
        RetryInfo.encode({ retryDelay: { seconds, nanos: (err.retryDelayMs % 1000) * 1_000_000 } }).finish(),
      ),
    );
  }
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(Status.encode({ code: err.code, message: err.message, details }).finish()));
  return { code: err.code, details: err.message, metadata };
}

function pack(typeName: string, value: Uint8Array): Any {
  return { typeUrl: TYPE_PREFIX + typeName, value: Buffer.from(value) };
}
