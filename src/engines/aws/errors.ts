// AWS SDK errors, mapped for people and programs: the gRPC code says what
// kind of failure it was, the message names AWS's own error code and the
// action, and ErrorInfo carries both. Never a stack trace, never a secret.
import { LessorError, Code } from "../../errors.js";

interface AwsSdkError {
  name: string;
  message: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: "client" | "server";
  code?: string;
}

function asAwsError(err: unknown): AwsSdkError | undefined {
  if (typeof err !== "object" || err === null || !("name" in err)) return undefined;
  return err as AwsSdkError;
}

/** AWS's error code ("NoSuchEntity", "AccessDenied"), or undefined for a non-AWS error. */
export function awsErrorCode(err: unknown): string | undefined {
  const e = asAwsError(err);
  if (!e || e.$metadata?.httpStatusCode === undefined) return undefined;
  return e.name.replace(/Exception$/, "");
}

export function isNoSuchEntity(err: unknown): boolean {
  return awsErrorCode(err) === "NoSuchEntity";
}

const CREDENTIAL_CODES = new Set([
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "UnrecognizedClient",
  "ExpiredToken",
  "InvalidAccessKeyId",
  "IncompleteSignature",
]);

/** Converts whatever an AWS call threw into a LessorError. */
export function mapAwsError(err: unknown, action: string, mountPath: string): LessorError {
  if (err instanceof LessorError) return err;
  const e = asAwsError(err);
  const status = e?.$metadata?.httpStatusCode;
  if (!e || status === undefined) {
    // No HTTP answer at all: DNS, refused connection, timeout, or no credentials found.
    const text = e ? `${e.name}: ${e.message}` : String(err);
    if (e?.name === "AbortError") {
      // The operation's own deadline ended the call (a revocation attempt that ran out of time).
      return LessorError.unavailable(`AWS call ${action} was abandoned: the operation ran out of time; it will be retried`, "AWS_CALL_ABANDONED", {
        aws_action: action,
      });
    }
    // The SDK names a reset connection (ECONNRESET, EPIPE) TimeoutError too: that one is "unreachable".
    if (e?.name === "TimeoutError" && e.code !== "ECONNRESET" && e.code !== "EPIPE") {
      return LessorError.unavailable(
        `AWS did not answer ${action} in time (${oneLine(e.message)}); see connection_timeout and request_timeout in ${mountPath}config/root`,
        "AWS_TIMEOUT",
        { aws_action: action },
      );
    }
    if (e && (e.name === "CredentialsProviderError" || /credential/i.test(e.message))) {
      return LessorError.failedPrecondition(
        `no AWS credentials for ${action}: write access_key, secret_key and region to ${mountPath}config/root, or give the server credentials through the AWS SDK's default chain (environment, shared config, instance role) (${oneLine(text)})`,
        "AWS_NO_CREDENTIALS",
        { aws_action: action },
      );
    }
    return LessorError.unavailable(`AWS could not be reached for ${action}: ${oneLine(text)}; ${endpointHint(action, mountPath)}`, "AWS_UNREACHABLE", {
      aws_action: action,
    });
  }
  const code = e.name.replace(/Exception$/, "");
  const metadata = { aws_action: action, aws_error_code: code, aws_status: String(status) };
  const detail = `${action} failed: ${code}: ${oneLine(e.message)}`;
  if (code === "AccessDenied" || code === "AccessDeniedException" || code === "UnauthorizedOperation") {
    return new LessorError(Code.PERMISSION_DENIED, `AWS denied the request: ${detail}`, { reason: "AWS_ACCESS_DENIED", metadata });
  }
  if (CREDENTIAL_CODES.has(code)) {
    return LessorError.failedPrecondition(
      `AWS rejected the configured credentials: ${detail}; write valid keys to ${mountPath}config/root`,
      "AWS_CREDENTIALS_REJECTED",
      metadata,
    );
  }
  if (code === "Throttling" || code === "ThrottlingException" || code === "RequestLimitExceeded" || status === 429) {
    return new LessorError(Code.UNAVAILABLE, `AWS is throttling requests: ${detail}`, {
      reason: "AWS_THROTTLED",
      metadata,
      retryDelayMs: 2_000,
    });
  }
  if (code === "LimitExceeded") {
    return LessorError.failedPrecondition(`an AWS quota is reached: ${detail}`, "AWS_LIMIT_EXCEEDED", metadata);
  }
  if (code === "EntityAlreadyExists") {
    return LessorError.alreadyExists(`AWS already has this entity: ${detail}`, "AWS_ENTITY_EXISTS", metadata);
  }
  if (status >= 500) return LessorError.unavailable(`AWS failed: ${detail}`, "AWS_SERVER_ERROR", metadata);
  return LessorError.failedPrecondition(`AWS refused the request: ${detail}`, "AWS_REQUEST_REFUSED", metadata);
}

/**
 * Where the endpoint that did not answer comes from, so the fix is in the
 * message: a first try without network (or with the emulator but without
 * AWS_ENDPOINT_URL) fails on AWS's own host name.
 */
function endpointHint(action: string, mountPath: string): string {
  const service = action.startsWith("sts:") ? "sts" : "iam";
  return `check the network, or point Lessor at another endpoint: ${service}_endpoint in ${mountPath}config/root, or AWS_ENDPOINT_URL in the server's environment (as for the bundled emulator)`;
}

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
