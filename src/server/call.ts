// The wrapper every RPC goes through: authenticate the bearer token, run the
// handler, map errors to gRPC statuses, log the outcome. Handlers get a
// CallContext and plain request objects; they never see grpc-js.
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  Metadata,
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
} from "@grpc/grpc-js";
import { status as Code } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { AuthenticatedToken, TokenAuthority } from "../auth/tokens.js";
import { describeError } from "../errors.js";
import { toServiceError } from "./status.js";
import { runGuarded, type RequestGuard } from "./guard.js";

export interface CallContext {
  caller: AuthenticatedToken;
  method: string;
  peer: string;
}

export interface CallDeps {
  tokens: TokenAuthority;
  logger: Logger;
  /** Audit devices and quotas, around every handler. */
  guard?: RequestGuard;
}

export function bearerToken(metadata: Metadata): string | undefined {
  const header = metadata.get("authorization")[0];
  if (typeof header !== "string") return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1] : undefined;
}

/** Adapts an async handler to grpc-js, with authentication and error mapping. */
export function unary<Req, Res>(
  deps: CallDeps,
  method: string,
  handler: (request: Req, ctx: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const peer = call.getPeer();
    void runGuarded(deps, method, peer, call.metadata, call.request, (caller) =>
      handler(call.request, { caller, method, peer }),
    ).then(
      (response) => {
        callback(null, response);
        if (deps.logger.isLevelEnabled("debug")) {
          deps.logger.debug({ method, peer, code: "OK", ms: round(performance.now() - started) }, "rpc");
        }
      },
      (err: unknown) => callback(failed(deps, method, peer, started, err), null),
    );
  };
}

/** Maps and logs a failed call; returns what to send to the caller. */
function failed(deps: CallDeps, method: string, peer: string, started: number, err: unknown) {
  const mapped = toServiceError(err);
  const fields = { method, peer, code: Code[mapped.code], ms: round(performance.now() - started) };
  if (mapped.reference) {
    // Internal errors: the detail goes to the log only, under the reference the caller saw.
    deps.logger.error({ ...fields, reference: mapped.reference, err: describeError(err) }, "rpc failed with an internal error");
  } else {
    deps.logger.info({ ...fields, error: mapped.error.details }, "rpc failed");
  }
  return mapped.error;
}

export interface StreamContext extends CallContext {
  /** Sends one message; resolves when the stream can take more (backpressure). */
  send(message: unknown): Promise<void>;
  /** Aborted when the caller cancels or disconnects. */
  signal: AbortSignal;
  /** Sends response headers (before the first message). */
  sendMetadata(headers: Metadata): void;
}

/** Adapts an async server-streaming handler: authentication, errors, cancellation. */
export function serverStream<Req, Res>(
  deps: CallDeps,
  method: string,
  handler: (request: Req, ctx: StreamContext & { send(message: Res): Promise<void> }) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    const started = performance.now();
    const peer = call.getPeer();
    const abort = new AbortController();
    call.on("cancelled", () => abort.abort());
    const send = (message: Res): Promise<void> =>
      new Promise((resolve) => {
        if (call.write(message)) resolve();
        else call.once("drain", () => resolve());
      });
    void runGuarded(deps, method, peer, call.metadata, call.request, (caller) =>
      handler(call.request, {
        caller,
        method,
        peer,
        send,
        signal: abort.signal,
        sendMetadata: (headers) => call.sendMetadata(headers),
      }),
    ).then(
      () => {
        if (!abort.signal.aborted) call.end();
      },
      (err: unknown) => {
        if (!abort.signal.aborted) call.emit("error", failed(deps, method, peer, started, err));
      },
    );
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
