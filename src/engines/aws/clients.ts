// AWS SDK clients for one mount, built from the SDK's standard configuration
// chain (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_IAM/_STS, AWS_REGION, shared
// config, default credentials) and overridden only by what config/root sets.
import type { IAMClient } from "@aws-sdk/client-iam";
import { z } from "zod";
import type { STSClient } from "@aws-sdk/client-sts";
import type { AdaptiveRetryStrategy } from "@smithy/core/retry";
import type { EngineTelemetry } from "../framework/types.js";
import { awsErrorCode } from "./errors.js";
import { httpSdk, iamSdk, retrySdk, stsSdk, type HttpSdk } from "./sdk.js";

/** config/root as stored (sealed). */
export const rootConfigSchema = z.object({
  access_key: z.string().optional(),
  secret_key: z.string().optional(),
  region: z.string().optional(),
  iam_endpoint: z.string().optional(),
  sts_endpoint: z.string().optional(),
  sts_region: z.string().optional(),
  /** Retries after the first attempt; -1 or absent: the SDK's default. */
  max_retries: z.number().optional(),
  username_template: z.string().optional(),
  /** Seconds to open a connection to an AWS endpoint; absent: DEFAULT_CONNECTION_TIMEOUT_SECONDS. */
  connection_timeout: z.number().optional(),
  /** Seconds one HTTP request to AWS may take, answer included; absent: DEFAULT_REQUEST_TIMEOUT_SECONDS. */
  request_timeout: z.number().optional(),
});

export type RootConfig = z.infer<typeof rootConfigSchema>;

/**
 * An endpoint that does not accept a connection in this time is unreachable
 * (a refused or reset connection fails at once); the SDK retries with backoff.
 */
export const DEFAULT_CONNECTION_TIMEOUT_SECONDS = 5;
/**
 * One IAM or STS request normally answers in well under a second; one that
 * has not answered in this time is abandoned as failed (and retried by the
 * SDK within its attempts), so a hung endpoint never holds a call for longer.
 */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 15;

/** The HTTP handler settings for the SDK clients: both timeouts, and a request timeout that fails the request. */
export function httpHandlerOptions(config: Pick<RootConfig, "connection_timeout" | "request_timeout">): {
  connectionTimeout: number;
  requestTimeout: number;
  throwOnRequestTimeout: true;
} {
  return {
    connectionTimeout: (config.connection_timeout ?? DEFAULT_CONNECTION_TIMEOUT_SECONDS) * 1000,
    requestTimeout: (config.request_timeout ?? DEFAULT_REQUEST_TIMEOUT_SECONDS) * 1000,
    // Without it the SDK only logs a warning when requestTimeout passes, and keeps waiting.
    throwOnRequestTimeout: true,
  };
}

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsClients {
  iam: IAMClient;
  sts: STSClient;
  /** The STS client, but signing with other credentials (to check a new key). */
  stsWith(credentials: StaticCredentials): STSClient;
  /** Resolves the credentials the clients sign with (the SDK's default chain when config/root has none). */
  credentials(): Promise<StaticCredentials>;
  destroy(): void;
}

/** IAM is a global service; its endpoint lives in us-east-1 when nothing else is said. */
const FALLBACK_REGION = "us-east-1";

/** The region the SDK's own chain resolves (env, shared config), or the fallback. */
export async function sdkRegion(): Promise<string> {
  const { IAMClient } = await iamSdk();
  const probe = new IAMClient({});
  try {
    return await probe.config.region();
  } catch {
    return FALLBACK_REGION;
  } finally {
    probe.destroy();
  }
}

type Strategy = AdaptiveRetryStrategy;

/**
 * The SDK's adaptive retry (backoff, and a client-side rate that slows down
 * while AWS throttles), except that IAM's LimitExceeded is not retried: the
 * SDK files it with throttling, but for IAM it means a quota is reached (two
 * access keys, 5000 users), which no retry fixes, and counting it as
 * throttling would slow every later call.
 */
class IamAwareRetryStrategy {
  readonly mode = "adaptive";
  constructor(private readonly inner: Strategy) {}

  acquireInitialRetryToken(scope: string): ReturnType<Strategy["acquireInitialRetryToken"]> {
    return this.inner.acquireInitialRetryToken(scope);
  }

  refreshRetryTokenForRetry(...[token, info]: Parameters<Strategy["refreshRetryTokenForRetry"]>): ReturnType<Strategy["refreshRetryTokenForRetry"]> {
    const name = (info.error as { name?: string } | undefined)?.name;
    if (name === "LimitExceededException" || name === "LimitExceeded") {
      // Rejecting the retry makes the SDK throw the original error.
      return Promise.reject(new Error("IAM quota reached; not retried"));
    }
    return this.inner.refreshRetryTokenForRetry(token, info);
  }

  recordSuccess(...[token]: Parameters<Strategy["recordSuccess"]>): void {
    this.inner.recordSuccess(token);
  }
}

/** The code a failed call is counted under: AWS's error code, else the network error's (ECONNREFUSED), else its name. */
function failureCode(err: unknown): string {
  const code = awsErrorCode(err);
  if (code) return code;
  const e = err as { code?: unknown; name?: unknown } | null;
  return typeof e?.code === "string" ? e.code : typeof e?.name === "string" ? e.name : "Unknown";
}

/** A middleware that reports every command failing after the SDK's retries (outermost step: one report per call). */
/** Abort signals of commands in flight (see abortable), by their input object. */
const commandSignals = new WeakMap<object, AbortSignal>();
/** The same signals, by the HTTP request each attempt of such a command makes. */
const requestSignals = new WeakMap<object, AbortSignal>();

/**
 * A command that `signal` can abandon (its HTTP request is closed, and no
 * further attempt starts), for `client.send(abortable(command, signal))`. Not
 * through send()'s options: with any, the SDK builds the command's middleware
 * stack again on every call (cacheMiddleware applies only without), which
 * cost a revocation more CPU than signing its three calls.
 */
export function abortable<C extends { input: object }>(command: C, signal: AbortSignal | undefined): C {
  if (signal) commandSignals.set(command.input, signal);
  return command;
}

/** The innermost middleware (every attempt's request passes it): ties the request to its command's signal. */
function attachSignal<A extends { input: unknown; request?: unknown }, R>(next: (args: A) => Promise<R>) {
  return async (args: A): Promise<R> => {
    const signal = typeof args.input === "object" && args.input !== null ? commandSignals.get(args.input) : undefined;
    if (signal) {
      signal.throwIfAborted();
      if (typeof args.request === "object" && args.request !== null) requestSignals.set(args.request, signal);
    }
    return next(args);
  };
}

type NodeHttpHandler = InstanceType<HttpSdk["NodeHttpHandler"]>;
let abortableHandler: Promise<new (options: ReturnType<typeof httpHandlerOptions>) => NodeHttpHandler> | undefined;

/** The SDK's HTTP handler, closing a request when its command's signal aborts (see abortable). */
async function httpHandler(options: ReturnType<typeof httpHandlerOptions>): Promise<NodeHttpHandler> {
  abortableHandler ??= httpSdk().then(
    ({ NodeHttpHandler }) =>
      class AbortableHttpHandler extends NodeHttpHandler {
        override handle(request: Parameters<NodeHttpHandler["handle"]>[0], handlerOptions: Parameters<NodeHttpHandler["handle"]>[1] = {}) {
          return super.handle(request, { ...handlerOptions, abortSignal: requestSignals.get(request) ?? handlerOptions.abortSignal });
        }
      },
  );
  return new (await abortableHandler)(options);
}

function failureReport(service: string, telemetry: EngineTelemetry) {
  return <A, R>(next: (args: A) => Promise<R>, context: { commandName?: string }) =>
    async (args: A): Promise<R> => {
      try {
        return await next(args);
      } catch (err) {
        telemetry.externalError(service, (context.commandName ?? "unknown").replace(/Command$/, ""), failureCode(err));
        throw err;
      }
    };
}

export async function buildClients(config: RootConfig, telemetry?: EngineTelemetry): Promise<AwsClients> {
  const [{ IAMClient }, { STSClient }, { AdaptiveRetryStrategy }] = await Promise.all([iamSdk(), stsSdk(), retrySdk()]);
  const region = config.region ?? (await sdkRegion());
  const configured =
    config.access_key && config.secret_key ? { accessKeyId: config.access_key, secretAccessKey: config.secret_key } : undefined;
  // max_retries counts retries, the SDK counts attempts; unset, the SDK's own setting (AWS_MAX_ATTEMPTS, shared config) applies.
  const attempts = config.max_retries !== undefined && config.max_retries >= 0 ? { maxAttempts: config.max_retries + 1 } : {};
  /** Builds a client whose retries follow its own resolved maxAttempts. */
  const withRetry = <C extends { config: { maxAttempts: () => Promise<number> } }>(make: (retryStrategy: IamAwareRetryStrategy) => C): C => {
    const built: { client?: C } = {};
    const strategy = new IamAwareRetryStrategy(new AdaptiveRetryStrategy(() => (built.client as C).config.maxAttempts()));
    built.client = make(strategy);
    return built.client;
  };
  const iamOptions = { region, ...(config.iam_endpoint ? { endpoint: config.iam_endpoint } : {}) };
  const stsOptions = {
    region: config.sts_region ?? region,
    ...(config.sts_endpoint ? { endpoint: config.sts_endpoint } : {}),
  };
  // undefined credentials: the SDK's default chain (environment, shared config, instance role).
  // Resolve each command's middleware stack once, not on every call: it was the
  // largest cost of issuing a credential (nothing here edits the stack).
  // Every request is bounded: connecting, and the whole request with its answer.
  const handlerOptions = httpHandlerOptions(config);
  const common = { ...attempts, credentials: configured, cacheMiddleware: true };
  const [iamHandler, stsHandler] = await Promise.all([httpHandler(handlerOptions), httpHandler(handlerOptions)]);
  const iam = withRetry((retryStrategy) => new IAMClient({ ...iamOptions, ...common, retryStrategy, requestHandler: iamHandler }));
  const sts = withRetry((retryStrategy) => new STSClient({ ...stsOptions, ...common, retryStrategy, requestHandler: stsHandler }));
  iam.middlewareStack.add(attachSignal, { step: "deserialize", priority: "low", name: "lessorAbortSignal" });
  sts.middlewareStack.add(attachSignal, { step: "deserialize", priority: "low", name: "lessorAbortSignal" });
  if (telemetry) {
    iam.middlewareStack.add(failureReport("iam", telemetry), { step: "initialize", name: "lessorFailureReport" });
    sts.middlewareStack.add(failureReport("sts", telemetry), { step: "initialize", name: "lessorFailureReport" });
  }
  return {
    iam,
    sts,
    stsWith: (creds) => new STSClient({ ...stsOptions, credentials: creds, maxAttempts: 1, cacheMiddleware: true, requestHandler: handlerOptions }),
    async credentials() {
      const c = await iam.config.credentials();
      return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) };
    },
    destroy() {
      iam.destroy();
      sts.destroy();
    },
  };
}
