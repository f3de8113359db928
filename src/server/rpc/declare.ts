// One declaration per RPC: which logical request it is (operation, path from
// the request, fields) and how the backend's answer becomes the typed
// response. Keyed by the generated service definitions, so every method of
// every service must be declared, and no method name is typed by hand. The
// capability, sudo and whether a token is needed follow from the path, by the
// backend's declarations (see pipeline.ts); whether a method is safe to retry
// is in the protos (idempotency_level), where every client can read it.
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import type { JsonObject } from "../../util/json.js";
import type { RouterResponse } from "../../router/router.js";
import type { LogicalOperation } from "../pipeline.js";

/** The logical request an RPC stands for. */
export interface LogicalRequest {
  operation: LogicalOperation;
  path: string;
  /** The request field the path came from, for errors about it (default "path"). */
  pathField?: string;
  data?: JsonObject;
}

export interface UnaryRpc<Req, Res> {
  request(req: Req): LogicalRequest;
  response(res: RouterResponse, req: Req): Res;
}

/** What a streamed backend message becomes: a typed message, response headers, or nothing. */
export type StreamPart<Res> = { message: Res } | { headers: Record<string, string> } | undefined;

export interface StreamRpc<Req, Res> {
  request(req: Req): LogicalRequest;
  /** Each message the backend streams. */
  part(message: JsonObject): StreamPart<Res>;
}

type RequestOf<M> = M extends MethodDefinition<infer Req, infer _Res> ? Req : never;
type ResponseOf<M> = M extends MethodDefinition<infer _Req, infer Res> ? Res : never;

/** Every method of a generated grpc-js service definition, declared. */
export type RpcTable<S> = {
  [K in keyof S]: S[K] extends { responseStream: true } ? StreamRpc<RequestOf<S[K]>, ResponseOf<S[K]>> : UnaryRpc<RequestOf<S[K]>, ResponseOf<S[K]>>;
};

/** A service and the declarations of its methods, checked against each other by declareService. */
export interface DeclaredService {
  definition: ServiceDefinition;
  rpcs: Readonly<Record<string, UnaryRpc<unknown, unknown> | StreamRpc<unknown, unknown>>>;
}

/** Declares every method of a generated service (the compiler checks each request and response type). */
export function declareService<S extends ServiceDefinition>(definition: S, rpcs: RpcTable<S>): DeclaredService {
  return { definition, rpcs };
}
