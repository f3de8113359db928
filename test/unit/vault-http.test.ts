// The pure parts of Vault's HTTP API: the LIST rewriter (where requests
// start on a connection, whatever the chunking), the reading of a request
// (verb, query, body, token) and the shaping of answers and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, LessorError } from "../../src/errors.js";
import { ListMethodRewriter } from "../../src/server/http/list-method.js";
import { logicalRequest, parseBody, refuseUnsupportedHeaders, requestToken, vaultVerb } from "../../src/server/http/vault-requests.js";
import { errorAnswer, vaultAnswer, type AnsweredRequest } from "../../src/server/http/vault-responses.js";
import type { RouterResponse } from "../../src/router/router.js";

/** Feeds `input` in the given pieces; returns what reaches Node's parser. */
function rewrite(pieces: string[]): { out: string; stopped: boolean } {
  const r = new ListMethodRewriter();
  const out = pieces.map((p) => r.rewrite(Buffer.from(p, "latin1")).toString("latin1")).join("") + r.end().toString("latin1");
  return { out, stopped: r.stopped };
}

/** Every way of cutting `input` in two, and one byte at a time. */
function cuttings(input: string): string[][] {
  const out: string[][] = [[input], [...input]];
  for (let i = 1; i < input.length; i++) out.push([input.slice(0, i), input.slice(i)]);
  return out;
}

const get = "GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n";
const list = (path: string) => `LIST /v1/${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
const locked = (path: string) => `LOCK /v1/${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

test("LIST becomes LOCK at the start of every request, however the bytes are cut", () => {
  const body = "LIST inside a body\r\n\r\nLIST ";
  const post = `POST /v1/secret/a HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const input = get + list("secret") + post + list("secret/b") + "\r\n" + list("c");
  const expected = get + locked("secret") + post + locked("secret/b") + "\r\n" + locked("c");
  for (const pieces of cuttings(input)) assert.equal(rewrite(pieces).out, expected, JSON.stringify(pieces.slice(0, 3)));
});

test("chunked bodies are followed to their end, trailers included", () => {
  const chunked =
    "PUT /v1/secret/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;ext=1\r\nLIST \r\n1A\r\nLIST /v1/not-a-request \r\n\r\n0\r\nX-Trailer: LIST\r\n\r\n";
  const input = chunked + list("secret");
  for (const pieces of cuttings(input)) assert.equal(rewrite(pieces).out, chunked + locked("secret"));
});

test("what cannot be framed for certain stops the rewriting, never rewrites elsewhere", () => {
  for (const head of [
    "POST /v1/a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "POST /v1/a HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "POST /v1/a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    "POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    "GET /v1/a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
    "CONNECT x:1 HTTP/1.1\r\n\r\n",
  ]) {
    const result = rewrite([head + list("a")]);
    assert.equal(result.out, head + list("a"), head);
    assert.ok(result.stopped, head);
  }
  const bad = "PUT /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
  assert.equal(rewrite([bad + list("a")]).out, bad + list("a"));
  // A head that never ends is passed on for Node's parser to refuse.
  const endless = `GET /v1/a HTTP/1.1\r\nX: ${"a".repeat(70_000)}`;
  assert.ok(rewrite([endless]).stopped);
});

test("held-back bytes are released: a request that only looks like LIST", () => {
  assert.equal(rewrite(["LI", "CK"]).out, "LICK");
  assert.equal(rewrite(["LIS"]).out, "LIS");
  assert.equal(rewrite(["LISTEN / HTTP/1.1\r\n\r\n"]).out, "LISTEN / HTTP/1.1\r\n\r\n");
});

test("verbs and queries become Vault's operations", () => {
  assert.deepEqual(logicalRequest("GET", "secret/a", {}, {}), { verb: "GET", operation: "read", path: "secret/a", data: {} });
  assert.deepEqual(logicalRequest("GET", "secret", { list: "true", after: "x" }, {}), { verb: "GET", operation: "list", path: "secret/", data: { after: "x" } });
  assert.equal(logicalRequest("GET", "secret", { list: "false" }, {}).operation, "read");
  assert.equal(logicalRequest("LIST", "secret/", {}, {}).path, "secret/");
  assert.deepEqual(logicalRequest("PUT", "secret/a", { ignored: "1" }, { v: 1 }).data, { v: 1 });
  assert.equal(logicalRequest("POST", "secret/a", { help: "1" }, {}).operation, "help");
  assert.equal(logicalRequest("DELETE", "secret/a", {}, {}).operation, "delete");
  assert.throws(() => logicalRequest("GET", "secret", { list: "maybe" }, {}), /list: must be true or false/);
  assert.equal(vaultVerb("LOCK"), "LIST");
  assert.throws(() => vaultVerb("PATCH"), (err: unknown) => err instanceof LessorError && err.code === Code.UNIMPLEMENTED && /PATCH/.test(err.message));
});

test("the token comes from X-Vault-Token or Authorization: Bearer; two different ones are refused", () => {
  assert.equal(requestToken({ "x-vault-token": ["a"] }), "a");
  assert.equal(requestToken({ authorization: ["Bearer b"] }), "b");
  assert.equal(requestToken({ "x-vault-token": ["a"], authorization: ["Bearer a"] }), "a");
  assert.equal(requestToken({ authorization: ["Basic xyz"] }), undefined);
  assert.equal(requestToken({ "x-vault-token": [""] }), undefined);
  assert.throws(() => requestToken({ "x-vault-token": ["a"], authorization: ["Bearer b"] }), /X-Vault-Token: differs from the token in the Authorization: Bearer header/);
  assert.throws(() => requestToken({ "x-vault-token": ["a", "b"] }), /X-Vault-Token: header sent more than once/);
  assert.throws(() => refuseUnsupportedHeaders({ "x-vault-wrap-ttl": ["60s"] }), /response wrapping \(X-Vault-Wrap-TTL\) is not supported/);
  assert.throws(() => refuseUnsupportedHeaders({ "x-vault-namespace": ["team-a/"] }), /namespaces \(X-Vault-Namespace\) are not supported/);
  refuseUnsupportedHeaders({ "x-vault-namespace": ["root/"], "x-vault-request": ["true"] });
});

test("bodies are one JSON object, bounded", () => {
  assert.deepEqual(parseBody(Buffer.from("")), {});
  assert.deepEqual(parseBody(Buffer.from(" null ")), {});
  assert.deepEqual(parseBody(Buffer.from('{"a":{"b":[1]}}')), { a: { b: [1] } });
  assert.throws(() => parseBody(Buffer.from("[1]")), /body: must be a JSON object/);
  assert.throws(() => parseBody(Buffer.from('{"a":')), /body: is not valid JSON/);
  assert.throws(() => parseBody(Buffer.from([0x7b, 0xff, 0x7d])), /body: is not valid UTF-8/);
  assert.throws(() => parseBody(Buffer.from('{"__proto__":{"admin":true}}')), /body: is not valid JSON: it sets __proto__/);
  // The parser's own message quotes the body, which may hold a secret: it is never passed on.
  assert.throws(() => parseBody(Buffer.from('{"password": s3cr3t-value}')), (err: unknown) => err instanceof LessorError && /^body: is not valid JSON/.test(err.message) && !err.message.includes("s3cr3t"));
  const deep = `${'{"a":'.repeat(40)}1${"}".repeat(40)}`;
  assert.throws(() => parseBody(Buffer.from(deep)), /body: is nested deeper than 32 levels/);
});

const request = (path: string, operation: AnsweredRequest["operation"] = "read", data = {}): AnsweredRequest => ({
  requestId: "rid",
  operation,
  path,
  token: "lsr.caller",
  data,
});
const response = (over: Partial<RouterResponse>): RouterResponse => ({ data: {}, warnings: [], ...over });

test("answers take Vault's envelope", () => {
  const secret = vaultAnswer(request("aws/creds/r"), response({ data: { access_key: "AKIA" }, lease: { id: "aws/creds/r/1", durationSeconds: 60, renewable: true }, mountType: "aws" }));
  assert.equal(secret.status, 200);
  assert.deepEqual(secret.body, {
    request_id: "rid",
    lease_id: "aws/creds/r/1",
    renewable: true,
    lease_duration: 60,
    data: { access_key: "AKIA" },
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: "aws",
  });
  assert.equal(vaultAnswer(request("secret/a", "write"), response({})).status, 204);
  assert.deepEqual(vaultAnswer(request("secret/", "list"), response({ data: { keys: [] } })), { status: 404, body: { errors: [] }, headers: { "cache-control": "no-store" } });
  // Vault's older clients read sys/mounts' data at the top level too.
  const mounts = vaultAnswer(request("sys/mounts"), response({ data: { "secret/": { type: "kv" } }, mountType: "system" }));
  assert.deepEqual(mounts.body?.["secret/"], { type: "kv" });
  assert.deepEqual(mounts.body?.data, { "secret/": { type: "kv" } });
});

test("a renewed lease is at the top; a renewed token is an auth block", () => {
  const lease = { id: "aws/creds/r/1", renewable: true, issue_time: "", expire_time: "", ttl: 90 };
  const renewed = vaultAnswer(request("sys/leases/renew", "write"), response({ data: { lease, lease_duration: 90, clamped: false } }));
  assert.equal(renewed.body?.lease_id, "aws/creds/r/1");
  assert.equal(renewed.body?.lease_duration, 90);
  const info = { accessor: "acc", policies: ["default"], meta: {}, ttl: 30, renewable: true, num_uses: 0, parent_accessor: "", creation_time: "2026-01-01T00:00:00.000Z" };
  const self = vaultAnswer(request("auth/token/renew-self", "write"), response({ data: info }));
  assert.deepEqual(self.body?.auth, {
    client_token: "lsr.caller",
    accessor: "acc",
    policies: ["default"],
    token_policies: ["default"],
    metadata: {},
    lease_duration: 30,
    renewable: true,
    entity_id: "",
    token_type: "service",
    orphan: true,
    mfa_requirement: null,
    num_uses: 0,
  });
  const byAccessor = vaultAnswer(request("auth/token/renew-accessor", "write", { accessor: "acc" }), response({ data: info }));
  assert.equal((byAccessor.body?.auth as { client_token: string }).client_token, "", "renew-accessor never echoes a token");
  const lookup = vaultAnswer(request("auth/token/lookup", "write", { token: "lsr.other" }), response({ data: info }));
  assert.equal((lookup.body?.data as { id: string }).id, "lsr.other");
  assert.equal((lookup.body?.data as { creation_time: number }).creation_time, 1767225600);
});

test("health is unwrapped, with the status code asked for; 503 while not serving", () => {
  const health = { initialized: true, sealed: false, serving: true };
  assert.deepEqual(vaultAnswer(request("sys/health"), response({ data: health })), { status: 200, body: { initialized: true, sealed: false }, headers: { "cache-control": "no-store" } });
  assert.equal(vaultAnswer(request("sys/health", "read", { activecode: "299" }), response({ data: health })).status, 299);
  assert.equal(vaultAnswer(request("sys/health"), response({ data: { ...health, serving: false } })).status, 503);
});

test("errors take Vault's status codes and shape", () => {
  const status = (err: LessorError, sent = true) => errorAnswer(err, sent).status;
  assert.equal(status(LessorError.invalidField("a", "b")), 400);
  assert.equal(status(LessorError.permissionDenied("permission denied: x")), 403);
  assert.equal(status(LessorError.notFound("gone")), 404);
  assert.equal(status(LessorError.unsupported("write", "sys/health")), 405);
  assert.equal(status(LessorError.unavailable("later", "X")), 503);
  assert.equal(status(new LessorError(Code.UNKNOWN, "internal error", { reason: "INTERNAL" })), 500);
  const limited = errorAnswer(new LessorError(Code.RESOURCE_EXHAUSTED, "rate limit quota", { reason: "RATE_LIMITED", retryDelayMs: 1500 }), true);
  assert.deepEqual([limited.status, limited.headers["retry-after"]], [429, "2"]);
  assert.equal(status(new LessorError(Code.RESOURCE_EXHAUSTED, "the disk is full", { reason: "STORAGE_FULL" })), 503, "a full disk is no rate limit");
  assert.deepEqual(errorAnswer(LessorError.unauthenticated("invalid token: no such token"), true).body, { errors: ["permission denied", "invalid token: no such token"] });
  assert.match(String(errorAnswer(LessorError.unauthenticated("missing token"), false).body?.errors), /missing client token: send it in the X-Vault-Token header/);
});
