// The login data of Lessor's aws auth method (Vault's iam_* fields): an
// sts:GetCallerIdentity request signed by the AWS SDK with the caller's own
// credentials (by default the SDK's default chain: environment, profile, SSO,
// web identity, ECS and EKS pod identity, instance role), never sent to AWS
// by us: Lessor replays it to its configured STS endpoint to learn who signed.
// @aws-sdk/client-sts is loaded only when this runs (an optional peer dependency).
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest, HttpResponse } from "@smithy/types";

/** The global STS endpoint: what Lessor (and Vault) replay to unless configured otherwise. */
export const DEFAULT_STS_ENDPOINT = "https://sts.amazonaws.com";
/** The server-ID header Lessor's clients sign (Lessor also accepts Vault's X-Vault-AWS-IAM-Server-ID). */
export const SERVER_ID_HEADER = "X-Lessor-AWS-IAM-Server-ID";

export interface AwsIamLoginOptions {
  /** The Lessor role (default: the server picks the role named as the IAM user or role). */
  role?: string;
  /** STS endpoint to sign for; it must be the mount's sts_endpoint. Default: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the global endpoint. */
  endpoint?: string;
  /** Region of the signature. Default: us-east-1 for the global endpoint, else AWS_REGION (or us-east-1). */
  region?: string;
  /** Default: the AWS SDK's default credential chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** The mount's iam_server_id_header_value, when it sets one: signed into the request. */
  serverIdHeaderValue?: string;
  /** The header it is signed in (default X-Lessor-AWS-IAM-Server-ID; Vault's X-Vault-AWS-IAM-Server-ID is accepted too). */
  serverIdHeader?: string;
}

class Captured extends Error {}

function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** The fields to write to auth/<mount>/login. */
export async function awsIamLoginData(options: AwsIamLoginOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const { STSClient, GetCallerIdentityCommand } = await import("@aws-sdk/client-sts");
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL ?? DEFAULT_STS_ENDPOINT;
  const region = options.region ?? (endpoint === DEFAULT_STS_ENDPOINT ? "us-east-1" : (env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1"));
  let signed: { method: string; url: string; headers: Record<string, string>; body: string } | undefined;
  const sts = new STSClient({
    endpoint,
    region,
    credentials: options.credentials,
    maxAttempts: 1,
    // The signed request is the result: it is captured here, not sent.
    requestHandler: {
      handle: (request: HttpRequest): Promise<{ response: HttpResponse }> => {
        const port = request.port === undefined ? "" : `:${request.port}`;
        const body = typeof request.body === "string" ? request.body : "";
        signed = { method: request.method, url: `${request.protocol}//${request.hostname}${port}${request.path}`, headers: { ...request.headers }, body };
        return Promise.reject(new Captured("captured"));
      },
    },
  });
  const serverId = options.serverIdHeaderValue;
  if (serverId) {
    sts.middlewareStack.add(
      (next) => (args) => {
        const request = args.request;
        if (typeof request === "object" && request !== null && "headers" in request && typeof request.headers === "object" && request.headers !== null) {
          Object.assign(request.headers, { [(options.serverIdHeader ?? SERVER_ID_HEADER).toLowerCase()]: serverId });
        }
        return next(args);
      },
      { step: "build", name: "lessorServerIdHeader" },
    );
  }
  try {
    await sts.send(new GetCallerIdentityCommand({}));
  } catch (err) {
    if (!(err instanceof Captured)) throw err;
  } finally {
    sts.destroy();
  }
  if (signed === undefined) throw new Error("the AWS SDK did not produce a signed GetCallerIdentity request");
  // Go's http.Header shape (name → list of values), as Vault's clients send it.
  const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, [v]]));
  return {
    ...(options.role ? { role: options.role } : {}),
    iam_http_request_method: signed.method,
    iam_request_url: base64(signed.url),
    iam_request_body: base64(signed.body),
    iam_request_headers: base64(JSON.stringify(headers)),
  };
}
