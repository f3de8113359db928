// AWS SDK clients for one mount, built from the SDK's standard configuration
// chain (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_IAM/_STS, AWS_REGION, shared
// config, default credentials) and overridden only by what config/root sets.
import { IAMClient } from "@aws-sdk/client-iam";
import { STSClient } from "@aws-sdk/client-sts";

export interface RootConfig {
  access_key?: string;
  secret_key?: string;
  region?: string;
  iam_endpoint?: string;
  sts_endpoint?: string;
  sts_region?: string;
  max_retries?: number;
  username_template?: string;
}

export interface AwsClients {
  iam: IAMClient;
  sts: STSClient;
  /** The STS client, but signing with other credentials (to check a new key). */
  stsWith(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): STSClient;
  destroy(): void;
}

/** IAM is a global service; its endpoint lives in us-east-1 when nothing else is said. */
const FALLBACK_REGION = "us-east-1";

/** The region the SDK's own chain resolves (env, shared config), or the fallback. */
async function sdkRegion(): Promise<string> {
  const probe = new IAMClient({});
  try {
    return await probe.config.region();
  } catch {
    return FALLBACK_REGION;
  } finally {
    probe.destroy();
  }
}

export async function buildClients(config: RootConfig): Promise<AwsClients> {
  const region = config.region ?? (await sdkRegion());
  const credentials =
    config.access_key && config.secret_key
      ? { accessKeyId: config.access_key, secretAccessKey: config.secret_key }
      : undefined; // undefined: the SDK's default credential chain
  const common = {
    credentials,
    // max_retries counts retries; the SDK counts attempts. -1/undefined: SDK default.
    ...(config.max_retries !== undefined && config.max_retries >= 0 ? { maxAttempts: config.max_retries + 1 } : {}),
    retryMode: "adaptive" as const,
    // Resolve each command's middleware stack once, not on every call: it was
    // the largest cost of issuing a credential (nothing here edits the stack).
    cacheMiddleware: true,
  };
  const iam = new IAMClient({ ...common, region, ...(config.iam_endpoint ? { endpoint: config.iam_endpoint } : {}) });
  const stsOptions = {
    region: config.sts_region ?? region,
    ...(config.sts_endpoint ? { endpoint: config.sts_endpoint } : {}),
  };
  const sts = new STSClient({ ...common, ...stsOptions });
  return {
    iam,
    sts,
    stsWith: (creds) => new STSClient({ ...stsOptions, credentials: creds, maxAttempts: 1 }),
    destroy() {
      iam.destroy();
      sts.destroy();
    },
  };
}
