// Requests that cannot be decoded (a Struct nested past protobuf's recursion
// limit, a malformed message) reach the handler as a marker instead of
// failing inside grpc-js with a bare "Error deserializing request", so the
// caller gets INVALID_ARGUMENT saying what was wrong and the call is audited.
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { LessorError, describeError } from "../errors.js";

const UNDECODABLE = Symbol("undecodable");

interface Undecodable {
  [UNDECODABLE]: string;
}

export function withSafeDecoding(service: ServiceDefinition): ServiceDefinition {
  const wrapped: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return { [UNDECODABLE]: describeError(err) } satisfies Undecodable;
        }
      },
    };
  }
  return wrapped;
}

/** Throws INVALID_ARGUMENT for a request that could not be decoded. */
export function assertDecoded(request: unknown): void {
  if (request !== null && typeof request === "object" && UNDECODABLE in request) {
    const reason = String((request as Partial<Undecodable>)[UNDECODABLE]);
    const hint = /recursion/.test(reason) ? " (values nested deeper than about 30 levels are refused)" : "";
    throw LessorError.invalidField("request", `could not be decoded: ${reason.slice(0, 200)}${hint}`);
  }
}
