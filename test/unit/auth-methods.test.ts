// Pure logic of the cert and aws auth methods: globs, certificate names and
// trust, ARN binding, and the checks a signed GetCallerIdentity request
// passes before it is replayed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Code, LessorError } from "../../src/errors.js";
import { globMatch } from "../../src/auth-methods/glob.js";
import { namesOf, parseSubjectAltName, parseTrustedBundle, whyUntrusted, MAX_TRUSTED_CERTIFICATES } from "../../src/auth-methods/cert/certificates.js";
import { boundArnAdmits, checkBoundArn, parseCallerArn, type CallerPrincipal } from "../../src/auth-methods/aws/arn.js";
import { replayableRequest, type IamLoginFields, type StsTarget } from "../../src/auth-methods/aws/signed-request.js";
import { issueCertificate, issueSvid, makeCa } from "../helpers/certificates.js";
import { tempDir } from "../helpers/processes.js";

test("globs: * is any run of characters, the rest literal", () => {
  const spiffe = "spiffe://example.org/ns/*/sa/payments";
  assert.ok(globMatch(spiffe, "spiffe://example.org/ns/prod/sa/payments"));
  assert.ok(!globMatch(spiffe, "spiffe://example.org/ns/prod/sa/payments-admin"));
  assert.ok(!globMatch(spiffe, "spiffe://example.org/ns/prod/sa/orders"));
  assert.ok(globMatch("a*b*c", "abc") && globMatch("a*b*c", "aXbYbZc") && !globMatch("a*b*c", "acb"));
  assert.ok(globMatch("*", "") && globMatch("x", "x") && !globMatch("x", "xx") && !globMatch("ab*ba", "aba"));
  assert.ok(!globMatch("a.c", "abc"), "no regular expression: . is literal");
  assert.ok(!globMatch(`${"*a".repeat(50)}b`, "a".repeat(60_000)), "linear on hostile input");
});

test("certificates: names, SANs (quoted values stay whole), trust and client-auth usage", () => {
  const dir = tempDir("cert-unit");
  const ca = makeCa(dir, "ca");
  const other = makeCa(dir, "other");
  const svid = issueSvid(dir, ca, "svc", "spiffe://example.org/ns/a/sa/b");
  const server = issueCertificate(dir, ca, "srv", "/OU=x/OU=y, z/CN=srv", ["subjectAltName=DNS:srv.example,URI:spiffe://example.org/a", "extendedKeyUsage=serverAuth"]);
  const bundle = parseTrustedBundle(ca.pem);
  assert.ok("certificates" in bundle);
  const now = Date.now();
  const cert = new X509Certificate(svid.pem);
  assert.deepEqual(namesOf(cert), {
    commonName: "svc",
    organizationalUnits: ["workloads"],
    dnsSans: [],
    uriSans: ["spiffe://example.org/ns/a/sa/b"],
    serialNumber: cert.serialNumber,
  });
  assert.deepEqual(namesOf(new X509Certificate(server.pem)).organizationalUnits, ["x", "y, z"]);
  assert.equal(whyUntrusted(cert, bundle.certificates, now), undefined);
  assert.equal(whyUntrusted(cert, [new X509Certificate(svid.pem)], now), undefined, "a pinned client certificate");
  assert.match(whyUntrusted(cert, [new X509Certificate(other.pem)], now) ?? "", /not issued by a certificate this role trusts/);
  assert.match(whyUntrusted(new X509Certificate(server.pem), bundle.certificates, now) ?? "", /does not allow client authentication/);
  assert.match(whyUntrusted(cert, bundle.certificates, now + 3 * 86_400_000) ?? "", /outside its validity dates/);

  assert.deepEqual(parseSubjectAltName('DNS:a.example, URI:"spiffe://x\\u002c, DNS:evil", IP Address:10.0.0.1'), [
    { type: "DNS", value: "a.example" },
    { type: "URI", value: "spiffe://x,, DNS:evil" },
    { type: "IP Address", value: "10.0.0.1" },
  ]);
  assert.deepEqual(parseSubjectAltName('URI:"unterminated, DNS:x'), [], "what does not parse is dropped, not guessed");
  assert.match(JSON.stringify(parseTrustedBundle("not a pem")), /holds no PEM certificate/);
  assert.match(JSON.stringify(parseTrustedBundle(ca.pem.repeat(MAX_TRUSTED_CERTIFICATES + 1))), /at most 16 are accepted/);
  assert.match(JSON.stringify(parseTrustedBundle("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")), /certificate 1 of 1 is not a valid X\.509 certificate/);
});

test("ARNs: an assumed role's session matches its role's ARN whatever its path; globs; users", () => {
  const session = parseCallerArn("arn:aws:sts::123456789012:assumed-role/ci-deploy/build-42") as CallerPrincipal;
  assert.equal(session.canonicalArn, "arn:aws:iam::123456789012:role/ci-deploy");
  for (const bound of ["arn:aws:iam::123456789012:role/ci-deploy", "arn:aws:iam::123456789012:role/teams/ci/ci-deploy", "arn:aws:iam::123456789012:role/ci-*", "arn:aws:sts::123456789012:assumed-role/ci-deploy/*"]) {
    assert.ok(boundArnAdmits(bound, session), bound);
  }
  for (const bound of ["arn:aws:iam::123456789012:role/ci-deploy-2", "arn:aws:iam::999999999999:role/ci-deploy", "arn:aws:iam::123456789012:user/ci-deploy", "arn:aws-cn:iam::123456789012:role/ci-deploy"]) {
    assert.ok(!boundArnAdmits(bound, session), bound);
  }
  const user = parseCallerArn("arn:aws:iam::123456789012:user/ops/alice") as CallerPrincipal;
  assert.equal(user.name, "alice");
  assert.ok(boundArnAdmits("arn:aws:iam::123456789012:user/ops/alice", user) && boundArnAdmits("arn:aws:iam::123456789012:user/ops/*", user));
  assert.ok(!boundArnAdmits("arn:aws:iam::123456789012:role/alice", user));
  for (const arn of ["arn:aws:iam::123456789012:root", "arn:aws:sts::123456789012:federated-user/bob", "not-an-arn", "arn:aws:sts::1:assumed-role/x"]) {
    assert.ok("problem" in parseCallerArn(arn), arn);
  }
  assert.equal(checkBoundArn("arn:aws:iam::123456789012:*"), undefined);
  assert.match(checkBoundArn("*") ?? "", /is not an IAM principal ARN/);
});

test("a login's signed request: only GetCallerIdentity to the configured endpoint, signed, with the server ID", () => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const target: StsTarget = { endpoint: "https://sts.amazonaws.com", region: "", serverIdHeaderValue: "lessor.example" };
  const auth = (signed: string, region = "us-east-1", service = "sts") =>
    `AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/${region}/${service}/aws4_request, SignedHeaders=${signed}, Signature=${"a".repeat(64)}`;
  const headers = { host: ["sts.amazonaws.com"], "x-amz-date": ["20260101T000000Z"], "x-lessor-aws-iam-server-id": ["lessor.example"], authorization: [auth("host;x-amz-date;x-lessor-aws-iam-server-id")] };
  const good: IamLoginFields = {
    iam_http_request_method: "POST",
    iam_request_url: b64("https://sts.amazonaws.com/"),
    iam_request_body: b64("Action=GetCallerIdentity&Version=2011-06-15"),
    iam_request_headers: b64(JSON.stringify(headers)),
  };
  const sent = replayableRequest(good, target);
  assert.equal(sent.url.href, "https://sts.amazonaws.com/");
  assert.equal(sent.headers["content-length"], "43");
  assert.equal(sent.headers.host, "sts.amazonaws.com");

  const refused = (fields: Partial<IamLoginFields>, t: StsTarget = target): string => {
    try {
      replayableRequest({ ...good, ...fields }, t);
      return "accepted";
    } catch (err) {
      assert.ok(err instanceof LessorError);
      return `${err.code === Code.PERMISSION_DENIED ? "refused" : "invalid"}: ${err.detail ?? err.message}`;
    }
  };
  const withHeaders = (h: Record<string, string[]>) => ({ iam_request_headers: b64(JSON.stringify(h)) });
  assert.match(refused({ iam_request_url: b64("https://evil.example/") }), /^refused: the request names another host than the configured STS endpoint https:\/\/sts\.amazonaws\.com$/);
  assert.match(refused({ iam_request_url: b64("https://sts.amazonaws.com/?Action=GetCallerIdentity") }), /^refused: .*path and query/);
  assert.match(refused({ iam_request_body: b64("Action=AssumeRole&Version=2011-06-15&RoleArn=x") }), /^refused: the request is not sts:GetCallerIdentity/);
  assert.match(refused(withHeaders({ ...headers, host: ["evil.example"] })), /^refused: the request's Host header/);
  assert.match(refused(withHeaders({ ...headers, "x-lessor-aws-iam-server-id": ["other"] })), /^refused: .*not this mount's iam_server_id_header_value/);
  assert.match(refused(withHeaders({ ...headers, authorization: [auth("host;x-amz-date")] })), /^refused: .*x-lessor-aws-iam-server-id header is not covered by its signature/);
  assert.match(refused(withHeaders({ ...headers, authorization: [auth("host;x-amz-date;x-lessor-aws-iam-server-id", "us-east-1", "iam")] })), /^refused: the request is signed for another service than sts/);
  assert.match(refused({}, { ...target, region: "eu-west-1" }), /^refused: the request is signed for another region than the configured sts_region eu-west-1/);
  assert.match(refused(withHeaders({ host: headers.host })), /^refused: the request has no AWS Signature Version 4/);
  assert.equal(refused({}, { ...target, serverIdHeaderValue: "" }), "accepted");
  assert.equal(refused(withHeaders({ ...headers, "X-Vault-AWS-IAM-Server-ID": ["lessor.example"], authorization: [auth("host;x-amz-date;x-lessor-aws-iam-server-id;x-vault-aws-iam-server-id")] })), "accepted");
  assert.match(refused({ iam_request_url: "%%%" }), /^invalid: iam_request_url: is not base64/);
  assert.match(refused({ iam_request_headers: b64("[1,2]") }), /^invalid: iam_request_headers: must be a JSON object/);
  assert.match(refused({ iam_request_headers: b64("{not json") }), /^invalid: iam_request_headers: is not a JSON object/);
  assert.match(refused(withHeaders({ ...headers, "x-evil": ["a\r\nInjected: 1"] })), /^invalid: iam_request_headers: the value of x-evil holds a line break/);
  assert.equal(refused({ iam_request_headers: JSON.stringify(headers) }), "accepted", "the headers as JSON text, not base64, as Vault also takes them");
});
