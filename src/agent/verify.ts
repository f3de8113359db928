// IAM is eventually consistent: a new access key may be refused for a few
// seconds after CreateAccessKey returned it. Before a new key is handed out,
// the agent asks STS who it belongs to (GetCallerIdentity, which needs no
// permission) until AWS accepts it. STS being unreachable from here is not a
// reason to withhold a key: the outcome says so and the caller decides.
import type { STSClient } from "@aws-sdk/client-sts";
import { sdkRegion } from "../engines/aws/clients.js";
import { awsErrorCode, isCredentialRefused } from "../engines/aws/errors.js";
import { stsSdk } from "../engines/aws/sdk.js";

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type Verification =
  /** AWS accepted the key; `accountId` is the account it belongs to. */
  | { outcome: "accepted"; accountId: string; arn: string }
  /** AWS still refused it when the time was up. */
  | { outcome: "refused"; error: string }
  /** STS could not be asked (no route, timeouts, throttling): nothing is known. */
  | { outcome: "unverified"; error: string };

/** Each GetCallerIdentity call: connecting, then the whole request. */
const CONNECT_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 5_000;

/**
 * Asks STS about `key` until it is accepted, for at most `timeoutMs`. A
 * refusal is retried (that is the eventual consistency), and so is another
 * answer from AWS (throttling), reported as "unverified" if it is still what
 * happens at the end; no answer at all (STS unreachable) is "unverified" at once.
 */
export async function waitUntilAccepted(key: AwsKey, timeoutMs: number, signal?: AbortSignal): Promise<Verification> {
  const { STSClient, GetCallerIdentityCommand } = await stsSdk();
  const sts: STSClient = new STSClient({
    region: await sdkRegion(),
    credentials: key,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  });
  const deadline = Date.now() + timeoutMs;
  // IAM usually accepts a new key within seconds: ask often (the call needs no permission and costs nothing).
  let pauseMs = 250;
  let last: Verification = { outcome: "unverified", error: "not asked" };
  try {
    for (;;) {
      try {
        const who = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
        return { outcome: "accepted", accountId: who.Account ?? "", arn: who.Arn ?? "" };
      } catch (err) {
        if (signal?.aborted) return { outcome: "unverified", error: "stopped" };
        const text = describeAwsError(err);
        // No answer at all (no route, DNS, timeout): asking again soon will not change that.
        if (awsErrorCode(err) === undefined) return { outcome: "unverified", error: text };
        last = isCredentialRefused(err) ? { outcome: "refused", error: text } : { outcome: "unverified", error: text };
      }
      const left = deadline - Date.now();
      if (left <= 0) return last;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pauseMs, left)));
      pauseMs = Math.min(pauseMs * 1.5, 1_000);
    }
  } finally {
    sts.destroy();
  }
}

function describeAwsError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message.split("\n")[0] ?? ""}`.slice(0, 300);
  return String(err).slice(0, 300);
}
