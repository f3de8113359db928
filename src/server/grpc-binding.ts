// Binds every declared RPC (rpc/services.ts) to grpc-js: each call becomes
// the logical request its declaration says, goes through the one request
// pipeline, and its answer becomes the typed response. Here live only the
// transport's concerns: the bearer token, the peer, the deadline and
// cancellation, streaming with backpressure, and errors as gRPC statuses.
import {
  Metadata,
  status as GrpcCode,
  type MethodDefinition,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { LessorError, describeError } from "../errors.js";
import type { Connection } from "../engines/framework/types.js";
import type { JsonObject } from "../util/json.js";
import { assertDecoded, withSafeDecoding } from "./decode.js";
import type { RequestPipeline } from "./pipeline.js";
import type { DeclaredService, LogicalRequest, StreamRpc, UnaryRpc } from "./rpc/declare.js";
import type { RouterResponse } from "../router/router.js";
import { toServiceError } from "./status.js";

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

/** Told how each call ended (the metrics count calls by method and status code). */
export interface RpcObserver {
  handled(path: string, code: GrpcCode): void;
}

/** The method's short name for logs and audit: "/lessor.v1.SecretsService/Read" → "SecretsService/Read". */
export function methodName(path: string): string {
  return path.replace(/^\/[^/]*\.(?=[^./]+\/[^/]+$)/, "");
}

export function bearerToken(metadata: Metadata): string | undefined {
  const header = metadata.get("authorization")[0];
  if (typeof header !== "string") return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1] : undefined;
}

function splitPeer(peer: string): [string, number | undefined] {
  const m = /^(?:ipv[46]:)?\[?([^\]]*?)\]?:(\d+)$/.exec(peer);
  return m ? [m[1] as string, Number(m[2])] : [peer, undefined];
}

/** The connection a call came on, each part read from grpc-js when first asked (most requests ask for none). */
class GrpcConnection implements Connection {
  readonly transport = "grpc";
  private peer: [string, number | undefined] | undefined;

  constructor(private readonly call: AnyCall) {}

  get remoteAddress(): string {
    return (this.peer ??= splitPeer(this.call.getPeer()))[0];
  }

  get remotePort(): number | undefined {
    return (this.peer ??= splitPeer(this.call.getPeer()))[1];
  }

  get peerCertificate(): Buffer | undefined {
    return this.call.getAuthContext()?.sslPeerCertificate?.raw;
  }
}

/**
 * Aborted when the caller cancels, disconnects, or its deadline passes. Made
 * on first use: most unary calls never ask (only issuance and streams do), and
 * this is every request's path.
 */
function callerSignal(call: AnyCall): { readonly signal: AbortSignal; done(): void } {
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onCancel = (): void => abort?.abort();
  return {
    get signal(): AbortSignal {
      if (abort) return abort.signal;
      abort = new AbortController();
      const deadline = call.getDeadline();
      const at = deadline instanceof Date ? deadline.getTime() : deadline;
      if (call.cancelled || at <= Date.now()) abort.abort();
      else {
        call.once("cancelled", onCancel);
        if (Number.isFinite(at)) {
          timer = setTimeout(onCancel, at - Date.now());
          timer.unref();
        }
      }
      return abort.signal;
    },
    done: () => {
      clearTimeout(timer);
      if (abort) call.off("cancelled", onCancel);
    },
  };
}

export class GrpcBinding {
  constructor(
    private readonly pipeline: RequestPipeline,
    private readonly logger: Logger,
    private readonly observer?: RpcObserver,
  ) {}

  /** The definition (with safe decoding) and implementation of a declared service. */
  bind(service: DeclaredService): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
    const { definition, rpcs } = service;
    const implementation: UntypedServiceImplementation = {};
    for (const [key, method] of Object.entries(definition)) {
      const rpc = rpcs[key];
      if (!rpc) throw new Error(`no declaration for ${method.path}`);
      implementation[key] = "part" in rpc ? this.stream(method, rpc) : this.unary(method, rpc);
    }
    return { definition: withSafeDecoding(definition), implementation };
  }

  private unary(method: MethodDefinition<unknown, unknown>, rpc: UnaryRpc<unknown, unknown>) {
    const name = methodName(method.path);
    const logical = rpc.request.bind(rpc);
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
      const started = performance.now();
      const caller = callerSignal(call);
      // Both outcomes end the caller's signal first: no finally(), which is two more promises per call.
      void this.run(name, call, logical, caller, undefined).then(
        (res) => {
          caller.done();
          callback(null, rpc.response(res, call.request));
          this.observer?.handled(method.path, GrpcCode.OK);
          if (this.logger.isLevelEnabled("debug")) this.logger.debug({ method: name, peer: call.getPeer(), code: "OK", ms: since(started) }, "rpc");
        },
        (err: unknown) => {
          caller.done();
          callback(this.failed(method.path, name, call, started, err), null);
        },
      );
    };
  }

  private stream(method: MethodDefinition<unknown, unknown>, rpc: StreamRpc<unknown, unknown>) {
    const name = methodName(method.path);
    return (call: ServerWritableStream<unknown, unknown>): void => {
      const started = performance.now();
      const caller = callerSignal(call);
      const write = (message: unknown): Promise<void> =>
        new Promise((resolve) => {
          if (call.write(message)) resolve();
          else call.once("drain", () => resolve());
        });
      const send = async (message: JsonObject): Promise<void> => {
        const part = rpc.part(message);
        if (!part) return;
        if ("headers" in part) {
          const headers = new Metadata();
          for (const [k, v] of Object.entries(part.headers)) headers.set(k, v);
          call.sendMetadata(headers);
          return;
        }
        await write(part.message);
      };
      void this.run(name, call, rpc.request.bind(rpc), caller, send)
        .then(
          () => {
            if (caller.signal.aborted) this.observer?.handled(method.path, GrpcCode.CANCELLED);
            else {
              call.end();
              this.observer?.handled(method.path, GrpcCode.OK);
            }
          },
          (err: unknown) => {
            const failed = this.failed(method.path, name, call, started, err);
            if (!caller.signal.aborted) call.emit("error", failed);
          },
        )
        .finally(() => caller.done());
    };
  }

  /** Not async: the pipeline's promise is returned as it is, without another wrapped around it. */
  private run(
    method: string,
    call: AnyCall,
    logical: (req: unknown) => LogicalRequest,
    caller: { readonly signal: AbortSignal },
    stream: ((message: JsonObject) => Promise<void>) | undefined,
  ): Promise<RouterResponse> {
    let req: LogicalRequest;
    try {
      assertDecoded(call.request);
      req = logical(call.request);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.pipeline.handle({
      method,
      operation: req.operation,
      path: req.path,
      pathField: req.pathField ?? "path",
      data: req.data ?? {},
      token: bearerToken(call.metadata),
      connection: new GrpcConnection(call),
      get signal() {
        return caller.signal;
      },
      stream,
    });
  }

  /** Maps and logs a failed call; returns what to send to the caller. */
  private failed(path: string, method: string, call: AnyCall, started: number, err: unknown) {
    const mapped = toServiceError(err);
    this.observer?.handled(path, mapped.code);
    const fields = { method, peer: call.getPeer(), code: GrpcCode[mapped.code], ms: since(started) };
    if (mapped.reference) {
      // Internal errors: the detail goes to the log only, under the reference the caller saw.
      this.logger.error({ ...fields, reference: mapped.reference, err: describeError(err) }, "rpc failed with an internal error");
    } else {
      this.logger.info({ ...fields, error: mapped.error.details, detail: err instanceof LessorError ? err.detail : undefined }, "rpc failed");
    }
    return mapped.error;
  }
}

function since(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
