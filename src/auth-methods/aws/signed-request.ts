// The signed sts:GetCallerIdentity request an aws login carries, in Vault's
// format (iam_request_url, iam_request_body and iam_request_headers base64;
// the headers a JSON object of strings or lists of strings, as Go's
// http.Header marshals), checked before anything is sent: it must be exactly
// a GetCallerIdentity POST to the configured STS endpoint, signed with SigV4,
// with the server-ID header signed when the mount requires one. Only then is
// it replayed, to the configured endpoint and nowhere else.
import { z } from "zod";
import { LessorError } from "../../errors.js";
import { loginRefused } from "../common.js";

/** Header names a client may put the server ID in: Vault's (so Vault login helpers work) and Lessor's own. */
export const SERVER_ID_HEADERS = ["x-vault-aws-iam-server-id", "x-lessor-aws-iam-server-id"] as const;

/** The most headers a login's request may carry, and the longest value. */
const MAX_HEADERS = 64;
const MAX_HEADER_VALUE = 8192;
/** Headers about one hop of HTTP, never replayed as given (Host and Content-Length are set from what is sent). */
const HOP_HEADERS = new Set(["host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect", "proxy-authorization", "proxy-connection"]);
const SIGV4 = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=[0-9a-f]{64}$/;

export interface IamLoginFields {
  iam_http_request_method: string;
  iam_request_url: string;
  iam_request_body: string;
  iam_request_headers: string;
}

/** Where and how the mount replays logins (auth/<mount>/config/client). */
export interface StsTarget {
  endpoint: string;
  /** When set, the signature's credential scope must name this region. */
  region: string;
  /** When set, the request must carry (and sign) a server-ID header with this value. */
  serverIdHeaderValue: string;
}

/** What will be sent: the configured endpoint, the client's headers (less one-hop ones), the body. */
export interface ReplayableRequest {
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
}

const headersSchema = z.record(
  z.string().min(1).max(256),
  z.union([z.string().max(MAX_HEADER_VALUE), z.array(z.string().max(MAX_HEADER_VALUE)).min(1).max(8)]),
);

function decodeBase64(field: string, text: string): Buffer {
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw LessorError.invalidField(field, "is not base64 (standard alphabet, padded)");
  }
  return Buffer.from(compact, "base64");
}

/** The headers as lower-cased names with one value each (several are joined with ",", as SigV4 canonicalizes them). */
function decodeHeaders(text: string): Map<string, string> {
  const trimmed = text.trim();
  const json = trimmed.startsWith("{") ? trimmed : decodeBase64("iam_request_headers", trimmed).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw LessorError.invalidField("iam_request_headers", "is not a JSON object of headers (or its base64)");
  }
  const result = headersSchema.safeParse(parsed);
  if (!result.success) throw LessorError.invalidField("iam_request_headers", "must be a JSON object whose values are strings or lists of strings");
  const entries = Object.entries(result.data);
  if (entries.length > MAX_HEADERS) throw LessorError.invalidField("iam_request_headers", `has more than ${MAX_HEADERS} headers`);
  const headers = new Map<string, string>();
  for (const [name, value] of entries) {
    const key = name.toLowerCase();
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(key)) throw LessorError.invalidField("iam_request_headers", `"${name.slice(0, 64)}" is not a header name`);
    const joined = [value].flat().join(",");
    if (/[\r\n\0]/.test(joined)) throw LessorError.invalidField("iam_request_headers", `the value of ${key} holds a line break or NUL`);
    if (headers.has(key)) throw LessorError.invalidField("iam_request_headers", `names ${key} twice`);
    headers.set(key, joined);
  }
  return headers;
}

/** Decodes the login's request; format errors name their field (INVALID_ARGUMENT). */
function decode(fields: IamLoginFields): { url: URL; body: Buffer; headers: Map<string, string> } {
  const urlText = decodeBase64("iam_request_url", fields.iam_request_url).toString("utf8");
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw LessorError.invalidField("iam_request_url", "is not the base64 of a URL");
  }
  return { url, body: decodeBase64("iam_request_body", fields.iam_request_body), headers: decodeHeaders(fields.iam_request_headers) };
}

/**
 * Why the request is not a GetCallerIdentity call to `endpoint` for this
 * mount, or undefined. The reasons go to the log and audit, so they never
 * repeat what the caller sent (it may hold anything): only what was expected.
 */
function whyNotReplayable(url: URL, body: Buffer, headers: Map<string, string>, target: StsTarget, endpoint: URL): string | undefined {
  if (url.origin !== endpoint.origin || url.username !== "" || url.password !== "") return `the request names another host than the configured STS endpoint ${endpoint.origin}`;
  if (url.pathname !== endpoint.pathname || url.search !== "") return `the request's path and query are not the STS endpoint's ${endpoint.pathname}`;
  const host = headers.get("host");
  if (host !== undefined && host.toLowerCase() !== url.host) return "the request's Host header is not its URL's host";
  const params = new URLSearchParams(body.toString("utf8"));
  const names = [...params.keys()].sort().join(",");
  if (names !== "Action,Version" || params.get("Action") !== "GetCallerIdentity" || params.get("Version") !== "2011-06-15") {
    return "the request is not sts:GetCallerIdentity (its body must be exactly Action=GetCallerIdentity&Version=2011-06-15)";
  }
  const length = headers.get("content-length");
  if (length !== undefined && length !== String(body.length)) return `the request's Content-Length is not its body's length (${body.length})`;
  const sig = SIGV4.exec(headers.get("authorization") ?? "");
  if (!sig) return "the request has no AWS Signature Version 4 Authorization header";
  const [, , , region, service, signedList = ""] = sig;
  const signed = new Set(signedList.split(";"));
  if (service !== "sts") return "the request is signed for another service than sts";
  if (target.region !== "" && region !== target.region) return `the request is signed for another region than the configured sts_region ${target.region}`;
  if (!signed.has("host")) return "the request's signature does not cover the Host header";
  if (target.serverIdHeaderValue !== "") {
    const given = SERVER_ID_HEADERS.filter((h) => headers.has(h));
    if (given.length === 0) return `the request has no server-ID header (${SERVER_ID_HEADERS.join(" or ")})`;
    for (const h of given) {
      if (headers.get(h) !== target.serverIdHeaderValue) return `the request's ${h} is not this mount's iam_server_id_header_value`;
      if (!signed.has(h)) return `the request's ${h} header is not covered by its signature`;
    }
  }
  return undefined;
}

/**
 * The request to replay, sent to the configured endpoint; format errors are
 * INVALID_ARGUMENT naming the field, anything else refuses the login.
 */
export function replayableRequest(fields: IamLoginFields, target: StsTarget): ReplayableRequest {
  const { url, body, headers } = decode(fields);
  const endpoint = new URL(target.endpoint);
  const why = whyNotReplayable(url, body, headers, target, endpoint);
  if (why !== undefined) throw loginRefused(why);
  const sent: Record<string, string> = {};
  for (const [name, value] of headers) if (!HOP_HEADERS.has(name)) sent[name] = value;
  sent.host = endpoint.host;
  sent["content-length"] = String(body.length);
  return { url: endpoint, headers: sent, body };
}
