// An HTTP request in Vault's API as the logical request it is: the verb and
// the query say the operation (GET read, `?list=true` or LIST list, PUT and
// POST write, DELETE delete, `?help=1` help), the rest of the URL after
// /v1/ is the path, the JSON body (writes) or the query (other verbs) the
// fields, and the token comes from X-Vault-Token or Authorization: Bearer.
// What Lessor does not do (response wrapping, namespaces) is refused here
// with a message that says so, before anything runs.
import type { IncomingHttpHeaders } from "node:http";
import sjson from "secure-json-parse";
import { Code, LessorError } from "../../errors.js";
import type { JsonObject, JsonValue } from "../../util/json.js";
import type { LogicalOperation } from "../pipeline.js";
import { LIST_STAND_IN } from "./list-method.js";

/** Values nested deeper are refused, as protobuf's limit refuses them over gRPC (about 30 levels). */
export const MAX_BODY_DEPTH = 32;

/** The verbs of Vault's API; anything else is answered 405. */
const VERBS = ["GET", "HEAD", "PUT", "POST", "DELETE", "LIST"] as const;
export type VaultVerb = (typeof VERBS)[number];

export interface LogicalHttpRequest {
  /** The verb as the client sent it ("LIST" for a LIST the parser saw as LOCK); what audit records as the method. */
  verb: VaultVerb;
  operation: LogicalOperation;
  /** After /v1/, with a trailing "/" added for a list, as Vault does. */
  path: string;
  data: JsonObject;
}

/** The verb the client sent (a LIST reaches the server as LOCK, see list-method.ts), or 405. */
export function vaultVerb(method: string): VaultVerb {
  const verb = method === LIST_STAND_IN ? "LIST" : method;
  const known = VERBS.find((v) => v === verb);
  if (!known) {
    throw new LessorError(Code.UNIMPLEMENTED, `unsupported HTTP method ${verb.slice(0, 16)}: Vault's API takes GET, LIST, PUT, POST and DELETE`, {
      reason: "UNSUPPORTED_METHOD",
      metadata: { method: verb.slice(0, 16) },
    });
  }
  return known;
}

/** The logical request of an HTTP request; `body` is what parseBody made of it (writes only). */
export function logicalRequest(verb: VaultVerb, path: string, query: Record<string, unknown>, body: JsonObject): LogicalHttpRequest {
  const { list, help, fields } = splitQuery(query);
  if (help) return { verb, operation: "help", path, data: {} };
  switch (verb) {
    case "GET":
    case "HEAD":
      return list ? { verb, operation: "list", path: asFolder(path), data: fields } : { verb, operation: "read", path, data: fields };
    case "LIST":
      return { verb, operation: "list", path: asFolder(path), data: fields };
    case "DELETE":
      return { verb, operation: "delete", path, data: fields };
    case "PUT":
    case "POST":
      return { verb, operation: "write", path, data: body };
  }
}

/** Vault's reading of `list` and `help`: list is a boolean (Go's ParseBool), help anything non-empty. */
function splitQuery(query: Record<string, unknown>): { list: boolean; help: boolean; fields: JsonObject } {
  const fields: JsonObject = {};
  let list = false;
  let help = false;
  for (const [key, raw] of Object.entries(query)) {
    const value: JsonValue = Array.isArray(raw) ? raw.map(String) : String(raw);
    if (key === "help") help = String(value) !== "";
    else if (key === "list") {
      const text = String(value);
      if (text === "") continue;
      if (!/^(1|t|T|true|TRUE|True|0|f|F|false|FALSE|False)$/.test(text)) throw LessorError.invalidField("list", "must be true or false");
      list = /^(1|t|T|true|TRUE|True)$/.test(text);
    } else fields[key] = value;
  }
  return { list, help, fields };
}

function asFolder(path: string): string {
  return path.endsWith("/") ? path : `${path}/`;
}

/** How the headers read here are spelled in messages. */
const HEADER_NAMES: Record<string, string> = {
  "x-vault-token": "X-Vault-Token",
  authorization: "Authorization",
  "x-vault-wrap-ttl": "X-Vault-Wrap-TTL",
  "x-vault-namespace": "X-Vault-Namespace",
};

/** One value of a header, or undefined; the header sent twice is refused (which one would count?). */
function single(headers: Record<string, string[] | undefined>, name: string): string | undefined {
  const values = headers[name];
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw LessorError.invalidField(HEADER_NAMES[name] ?? name, "header sent more than once; send it once");
  return values[0];
}

/**
 * The client token: X-Vault-Token, else Authorization: Bearer (Vault's
 * order). Both, naming different tokens, are refused: which one the caller
 * meant cannot be known, and picking one would act as someone it may not be.
 */
export function requestToken(headers: Record<string, string[] | undefined>): string | undefined {
  const vaultToken = single(headers, "x-vault-token")?.trim();
  const authorization = single(headers, "authorization")?.trim();
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
  const token = vaultToken === "" ? undefined : vaultToken;
  if (token !== undefined && bearer !== undefined && token !== bearer) {
    throw LessorError.invalidField("X-Vault-Token", "differs from the token in the Authorization: Bearer header; send one of them");
  }
  return token ?? bearer;
}

/** Refuses the headers that ask for what Lessor does not do, saying so. */
export function refuseUnsupportedHeaders(headers: Record<string, string[] | undefined>): void {
  const wrapTtl = single(headers, "x-vault-wrap-ttl");
  if (wrapTtl !== undefined && wrapTtl.trim() !== "") {
    throw new LessorError(Code.INVALID_ARGUMENT, "response wrapping (X-Vault-Wrap-TTL) is not supported by Lessor; send the request without it", {
      reason: "WRAPPING_UNSUPPORTED",
      fieldViolations: [{ field: "X-Vault-Wrap-TTL", description: "response wrapping is not supported" }],
    });
  }
  const namespace = single(headers, "x-vault-namespace")?.trim().replace(/^\/+|\/+$/g, "");
  if (namespace !== undefined && namespace !== "" && namespace !== "root") {
    throw new LessorError(Code.INVALID_ARGUMENT, `namespaces (X-Vault-Namespace) are not supported by Lessor; send the request without it`, {
      reason: "NAMESPACES_UNSUPPORTED",
      fieldViolations: [{ field: "X-Vault-Namespace", description: "namespaces are not supported" }],
    });
  }
}

/**
 * A request body: empty, or one JSON object (any content type, as Vault
 * reads it). Refuses what is not UTF-8, not JSON, not an object, nested too
 * deep, or names `__proto__` or `constructor.prototype`.
 */
export function parseBody(bytes: Buffer): JsonObject {
  if (bytes.length === 0) return {};
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw LessorError.invalidField("body", "is not valid UTF-8");
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = sjson.parse(text, null, { protoAction: "error", constructorAction: "error" });
  } catch (err) {
    throw LessorError.invalidField("body", `is not valid JSON${jsonErrorDetail(err)}`);
  }
  if (value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw LessorError.invalidField("body", "must be a JSON object of fields");
  if (depthOver(value, MAX_BODY_DEPTH)) throw LessorError.invalidField("body", `is nested deeper than ${MAX_BODY_DEPTH} levels`);
  return value as JsonObject;
}

/**
 * What may be said of a JSON syntax error: where it is, or that the body
 * names a prototype. Never the parser's own message, which quotes the body
 * (and a body may hold a secret).
 */
function jsonErrorDetail(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  if (/forbidden prototype|constructor/i.test(message)) return ": it sets __proto__ or constructor.prototype";
  if (/end of JSON input/i.test(message)) return ": it ends too early";
  const position = /position (\d+)/.exec(message)?.[1];
  return position === undefined ? "" : ` (at byte ${position})`;
}

/** Whether a parsed JSON value nests deeper than `max` (iterative: no stack to overflow). */
function depthOver(root: object, max: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (value === null || typeof value !== "object") continue;
    if (depth > max) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The headers as Node keeps every value of each (lower-case names). */
export function distinctHeaders(headers: IncomingHttpHeaders | NodeJS.Dict<string[]>): Record<string, string[] | undefined> {
  const out: Record<string, string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.toLowerCase()] = value === undefined ? undefined : Array.isArray(value) ? value : [value];
  }
  return out;
}
