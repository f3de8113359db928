// BENCHMARK ONLY, never used by Lessor itself: loaded into a benchmarked server
// with `node --import`, it replaces the AWS SDK's HTTP handler with one that
// answers IAM calls in-process, at once, so that the cost measured is
// Lessor's own (the SDK still builds, signs and parses every call). It knows
// the calls issuing and revoking an iam_user credential make.
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";

interface HttpRequestLike {
  body?: unknown;
}
interface HandlerModule {
  NodeHttpHandler: { prototype: { handle(request: HttpRequestLike): Promise<{ response: unknown }> } };
}
interface ProtocolModule {
  HttpResponse: new (options: { statusCode: number; headers: Record<string, string>; body: Uint8Array }) => unknown;
}

// Resolved from the SDK client itself, so this is the very module it uses.
const require = createRequire(createRequire(import.meta.url).resolve("@aws-sdk/client-iam"));
const { NodeHttpHandler } = require("@smithy/node-http-handler") as HandlerModule;
const { HttpResponse } = require("@smithy/core/protocols") as ProtocolModule;

const NS = "https://iam.amazonaws.com/doc/2010-05-08/";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function id(prefix: string): string {
  let s = prefix;
  for (const b of randomBytes(16)) s += ALNUM[b % 32];
  return s;
}

function answer(action: string, params: URLSearchParams): string {
  const user = params.get("UserName") ?? "user";
  const meta = `<ResponseMetadata><RequestId>${id("")}</RequestId></ResponseMetadata>`;
  const now = new Date().toISOString();
  switch (action) {
    case "CreateUser":
      return `<CreateUserResponse xmlns="${NS}"><CreateUserResult><User><Path>/</Path><UserName>${user}</UserName><UserId>${id("AIDA")}</UserId><Arn>arn:aws:iam::123456789012:user/${user}</Arn><CreateDate>${now}</CreateDate></User></CreateUserResult>${meta}</CreateUserResponse>`;
    case "CreateAccessKey":
      return `<CreateAccessKeyResponse xmlns="${NS}"><CreateAccessKeyResult><AccessKey><UserName>${user}</UserName><AccessKeyId>${id("AKIA")}</AccessKeyId><Status>Active</Status><SecretAccessKey>${randomBytes(30).toString("base64")}</SecretAccessKey><CreateDate>${now}</CreateDate></AccessKey></CreateAccessKeyResult>${meta}</CreateAccessKeyResponse>`;
    default:
      // PutUserPolicy, DeleteAccessKey, DeleteUserPolicy, DeleteUser: no result.
      return `<${action}Response xmlns="${NS}">${meta}</${action}Response>`;
  }
}

NodeHttpHandler.prototype.handle = async function handle(request: HttpRequestLike) {
  const body = typeof request.body === "string" ? request.body : Buffer.from((request.body as Uint8Array | undefined) ?? []).toString("utf8");
  const params = new URLSearchParams(body);
  const xml = Buffer.from(answer(params.get("Action") ?? "", params), "utf8");
  return {
    response: new HttpResponse({
      statusCode: 200,
      headers: { "content-type": "text/xml", "content-length": String(xml.length), "x-amzn-requestid": id("") },
      body: xml,
    }),
  };
};
