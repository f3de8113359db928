// Lessor's answers in the shapes Vault's HTTP API gives them, so Vault's
// clients read them unchanged: the envelope (request_id, lease_id,
// renewable, lease_duration, data, wrap_info, warnings, auth, mount_type),
// an `auth` block for a token made or renewed, the lease of a renewal at the
// top level, Vault's token lookup fields, the sys/ paths whose data Vault
// also copies to the top level, sys/health and sys/seal-status unwrapped,
// 204 for an answer with nothing in it, 404 for an empty list, and errors as
// {"errors": [...]} with Vault's status codes.
import { z } from "zod";
import { Code, type LessorError } from "../../errors.js";
import type { IssuedToken } from "../../engines/framework/types.js";
import type { RouterResponse } from "../../router/router.js";
import type { JsonObject, JsonValue } from "../../util/json.js";
import type { LogicalOperation } from "../pipeline.js";

export interface HttpAnswer {
  status: number;
  /** Absent for 204 and HEAD. */
  body: JsonObject | undefined;
  headers: Record<string, string>;
}

/** What shaping an answer needs to know of its request. */
export interface AnsweredRequest {
  requestId: string;
  operation: LogicalOperation;
  /** The cleaned path (the one the ACL checked). */
  path: string;
  /** The token the request carried; echoed only where Vault echoes it (the caller's own). */
  token: string | undefined;
  data: JsonObject;
}

/** Answered with their data as the whole body, as Vault's own handlers do. */
const UNWRAPPED = /^sys\/(health|seal-status)$/;
/** Vault copies these paths' data to the top level too, for its older clients (its injectDataIntoTopRoutes). */
const DATA_AT_TOP = /^sys\/((audit|auth|mounts|policy)(\/.*)?|audit-hash\/.+|capabilities|capabilities-accessor|capabilities-self|key-status|rotate|remount)$/;
const LEASE_RENEW = /^sys\/(leases\/)?renew(\/.*)?$/;
const TOKEN_RENEW = /^auth\/token\/renew(-self|-accessor)?$/;
const TOKEN_LOOKUP = /^auth\/token\/lookup(-self|-accessor)?$/;

const STATUS: Partial<Record<Code, number>> = {
  [Code.INVALID_ARGUMENT]: 400,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.OUT_OF_RANGE]: 400,
  [Code.ALREADY_EXISTS]: 400,
  [Code.UNAUTHENTICATED]: 403,
  [Code.PERMISSION_DENIED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.UNIMPLEMENTED]: 405,
  [Code.ABORTED]: 409,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.CANCELLED]: 499,
  [Code.UNAVAILABLE]: 503,
  [Code.DEADLINE_EXCEEDED]: 504,
};

const JSON_HEADERS = { "cache-control": "no-store" };

/** Vault's status code for an error, and its body: {"errors": [...]}. */
export function errorAnswer(error: LessorError, sentToken: boolean): HttpAnswer {
  // A full disk is the server's trouble, not the caller's rate: 503, as Vault answers when it cannot serve.
  const status = error.reason === "STORAGE_FULL" ? 503 : (STATUS[error.code] ?? 500);
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (error.retryDelayMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(error.retryDelayMs / 1000)));
  if (error.code === Code.UNAUTHENTICATED) {
    // Vault answers a missing or bad token "permission denied" (403); the second line says which.
    const detail = sentToken ? error.message : "missing client token: send it in the X-Vault-Token header (or Authorization: Bearer)";
    return { status, body: { errors: ["permission denied", detail] }, headers };
  }
  return { status, body: { errors: [error.message] }, headers };
}

/** Vault's answer for a successful request. */
export function vaultAnswer(req: AnsweredRequest, res: RouterResponse): HttpAnswer {
  if (req.operation === "help") {
    return { status: 200, body: { help: helpText(res.data), see_also: null, ...res.data }, headers: { ...JSON_HEADERS } };
  }
  if (UNWRAPPED.test(req.path)) return unwrapped(req, res);
  if (req.operation === "list" && Array.isArray(res.data.keys) && res.data.keys.length === 0 && res.warnings.length === 0) {
    return { status: 404, body: { errors: [] }, headers: { ...JSON_HEADERS } };
  }
  const lease = leaseFields(req, res);
  const auth = res.token ? issuedAuth(res.token) : TOKEN_RENEW.test(req.path) ? renewedAuth(req, res.data) : null;
  const data = TOKEN_LOOKUP.test(req.path) ? tokenLookup(req, res.data) : res.data;
  const empty = Object.keys(data).length === 0;
  if (empty && res.warnings.length === 0 && auth === null && lease.lease_id === "" && lease.lease_duration === 0) {
    return { status: 204, body: undefined, headers: { ...JSON_HEADERS } };
  }
  const envelope: JsonObject = {
    request_id: req.requestId,
    ...lease,
    data: empty ? null : data,
    wrap_info: null,
    warnings: res.warnings.length > 0 ? res.warnings : null,
    auth,
    mount_type: res.mountType ?? "",
  };
  return { status: 200, body: DATA_AT_TOP.test(req.path) ? { ...data, ...envelope } : envelope, headers: { ...JSON_HEADERS } };
}

/** The lease fields: a secret's lease; a renewed lease (Vault puts it at the top); else the refresh interval of data without a lease. */
function leaseFields(req: AnsweredRequest, res: RouterResponse): { lease_id: string; renewable: boolean; lease_duration: number } {
  if (res.lease) return { lease_id: res.lease.id, renewable: res.lease.renewable, lease_duration: res.lease.durationSeconds };
  if (LEASE_RENEW.test(req.path)) {
    const renewed = renewedLeaseSchema.parse(res.data);
    return { lease_id: renewed.lease.id, renewable: renewed.lease.renewable, lease_duration: renewed.lease_duration };
  }
  return { lease_id: "", renewable: false, lease_duration: res.refreshSeconds ?? 0 };
}

const renewedLeaseSchema = z.object({ lease: z.object({ id: z.string(), renewable: z.boolean() }), lease_duration: z.number() });

/** Vault's `auth` block for a token a request made. */
function issuedAuth(token: IssuedToken): JsonObject {
  return {
    client_token: token.token,
    accessor: token.accessor,
    policies: token.policies,
    token_policies: token.policies,
    metadata: token.metadata,
    lease_duration: token.ttlSeconds,
    renewable: token.renewable,
    entity_id: "",
    token_type: "service",
    orphan: token.parentAccessor === null,
    mfa_requirement: null,
    num_uses: token.numUses,
  };
}

const tokenInfoSchema = z.object({
  accessor: z.string(),
  policies: z.array(z.string()),
  meta: z.record(z.string(), z.string()),
  ttl: z.number(),
  renewable: z.boolean(),
  num_uses: z.number(),
  parent_accessor: z.string(),
  creation_time: z.string(),
});

/**
 * Vault's `auth` block for a renewed token. The token itself is echoed only
 * when the request carried it (renew-self: the caller's own; renew: the body's),
 * never for renew-accessor, as in Vault.
 */
function renewedAuth(req: AnsweredRequest, data: JsonObject): JsonObject {
  const info = tokenInfoSchema.parse(data);
  const clientToken = req.path.endsWith("-self") ? (req.token ?? "") : req.path.endsWith("-accessor") ? "" : String(req.data.token ?? "");
  return {
    client_token: clientToken,
    accessor: info.accessor,
    policies: info.policies,
    token_policies: info.policies,
    metadata: info.meta,
    lease_duration: info.ttl,
    renewable: info.renewable,
    entity_id: "",
    token_type: "service",
    orphan: info.parent_accessor === "",
    mfa_requirement: null,
    num_uses: info.num_uses,
  };
}

/** A token lookup in Vault's fields: `id` (the token, when the request carried it) and `creation_time` in Unix seconds. */
function tokenLookup(req: AnsweredRequest, data: JsonObject): JsonObject {
  const info = tokenInfoSchema.parse(data);
  const id = req.path.endsWith("-self") ? (req.token ?? "") : req.path.endsWith("-accessor") ? "" : String(req.data.token ?? "");
  return { ...data, id, creation_time: Math.floor(Date.parse(info.creation_time) / 1000) };
}

/** sys/health and sys/seal-status: the data is the body; health's status code is the one the query asked for, or 503 when the server is not serving. */
function unwrapped(req: AnsweredRequest, res: RouterResponse): HttpAnswer {
  if (req.path !== "sys/health") return { status: 200, body: res.data, headers: { ...JSON_HEADERS } };
  const { serving, ...body } = res.data;
  const asked = Number(req.data.activecode ?? 200);
  return { status: serving === false ? 503 : asked, body, headers: { ...JSON_HEADERS } };
}

/** Vault answers ?help=1 with text under `help`; the structured description follows it. */
function helpText(data: JsonObject): string {
  const text = (value: JsonValue | undefined): string => (typeof value === "string" ? value : "");
  const parts = [`## ${text(data.pattern)}`, text(data.synopsis), text(data.description)].filter((p) => p !== "");
  return parts.join("\n\n");
}
