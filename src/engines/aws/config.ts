// aws/config/root: the credentials, endpoints and defaults the engine uses
// (written, never read back: the secret key is write-only). aws/config/lease:
// the lease duration and maximum of IAM-user credentials.
import { LessorError } from "../../errors.js";
import { definePath, type PathSpec } from "../framework/types.js";
import type { AwsBackend, LeaseConfig } from "./backend.js";
import { DEFAULT_CONNECTION_TIMEOUT_SECONDS, DEFAULT_REQUEST_TIMEOUT_SECONDS, type RootConfig } from "./clients.js";
import { checkTemplate } from "./usernames.js";

const ENDPOINT = /^https?:\/\/[^\s/$.?#][^\s]*$/i;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** Retries beyond this only delay a failure the caller should see. */
const MAX_RETRIES_LIMIT = 20;
/** Longest timeouts accepted: beyond them a hung endpoint would hold revocations for too long. */
const MAX_CONNECTION_TIMEOUT_SECONDS = 60;
const MAX_REQUEST_TIMEOUT_SECONDS = 300;
/** Role name used to try a global username_template out when it is written. */
const SAMPLE_ROLE = "sample-role";

const checkEndpoint = (v: unknown) => (typeof v === "string" && (v === "" || ENDPOINT.test(v)) ? undefined : "must be an http:// or https:// URL");
const checkRegion = (v: unknown) =>
  typeof v === "string" && (v === "" || REGION.test(v)) ? undefined : 'must be an AWS region name such as "us-east-1"';


export function configRootPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "config/root",
    synopsis: "Configure the AWS credentials and endpoints the engine uses.",
    description:
      "The access key and secret key of an IAM user (or none, to use the server's default AWS credential chain: environment, shared config, instance role), the regions, optional IAM/STS endpoints, retries, timeouts and the default username template. Writing updates only the fields given; an empty value unsets one. The secret key is write-only: reading this path is refused.",
    fields: {
      access_key: { type: "string", description: "AWS access key id. Empty: the AWS SDK's default credential chain." },
      secret_key: { type: "string", writeOnly: true, description: "AWS secret access key (write-only)." },
      region: { type: "string", description: "Region for API calls; default from the SDK's configuration, else us-east-1.", check: checkRegion },
      iam_endpoint: { type: "string", description: "Custom IAM endpoint URL; default from AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL.", check: checkEndpoint },
      sts_endpoint: { type: "string", description: "Custom STS endpoint URL; default from AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL.", check: checkEndpoint },
      sts_region: { type: "string", description: "Region for STS calls; default: region.", check: checkRegion },
      max_retries: {
        type: "int",
        description: `Retries of a failed AWS call (throttling, network errors), with adaptive backoff; -1 (the default): the SDK's own setting (AWS_MAX_ATTEMPTS, else 2 retries). At most ${MAX_RETRIES_LIMIT}.`,
        check: (v) => ((v as number) < -1 || (v as number) > MAX_RETRIES_LIMIT ? `must be -1 (the SDK's default) or 0 to ${MAX_RETRIES_LIMIT}` : undefined),
      },
      connection_timeout: {
        type: "duration",
        description: `Longest wait to connect to an AWS endpoint (IAM, STS), e.g. "5s"; a failed connection is retried with backoff. 0: the default, ${DEFAULT_CONNECTION_TIMEOUT_SECONDS}s. At most ${MAX_CONNECTION_TIMEOUT_SECONDS}s.`,
        check: (v) => ((v as number) > MAX_CONNECTION_TIMEOUT_SECONDS ? `must be at most ${MAX_CONNECTION_TIMEOUT_SECONDS}s` : undefined),
      },
      request_timeout: {
        type: "duration",
        description: `Longest time one request to AWS may take, its answer included, e.g. "15s"; a request that takes longer is abandoned as failed and retried with backoff (a hung endpoint never stalls the engine). 0: the default, ${DEFAULT_REQUEST_TIMEOUT_SECONDS}s. At most ${MAX_REQUEST_TIMEOUT_SECONDS}s.`,
        check: (v) => ((v as number) > MAX_REQUEST_TIMEOUT_SECONDS ? `must be at most ${MAX_REQUEST_TIMEOUT_SECONDS}s` : undefined),
      },
      username_template: {
        type: "string",
        description:
          'Default template for the names of IAM users, role sessions and federated users (Vault\'s syntax), e.g. {{ printf "app-%s-%s" (.DisplayName) (random 20) | truncate 64 }}. A role\'s own username_template overrides it. Empty: Lessor\'s default (lessor-<display name>-<role>-<time>-<random>).',
      },
    },
    operations: {
      async write(req) {
        const existing = (await backend.rootConfig()) ?? {};
        const next: RootConfig = { ...existing };
        const warnings: string[] = [];
        for (const name of req.provided) {
          const value = req.fields[name as keyof typeof req.fields];
          if (typeof value === "string") (next as Record<string, unknown>)[name] = value === "" ? undefined : value;
        }
        if (req.provided.has("max_retries")) next.max_retries = req.fields.max_retries === -1 ? undefined : req.fields.max_retries;
        for (const name of ["connection_timeout", "request_timeout"] as const) {
          if (req.provided.has(name)) next[name] = req.fields[name] === 0 ? undefined : req.fields[name];
        }
        if ((next.access_key === undefined) !== (next.secret_key === undefined)) {
          throw LessorError.invalidField(
            next.access_key === undefined ? "access_key" : "secret_key",
            "access_key and secret_key go together: give both, or neither to use the default credential chain",
          );
        }
        if (req.provided.has("username_template") && next.username_template !== undefined) {
          const problem = checkTemplate(next.username_template, ["iam_user", "session"], SAMPLE_ROLE);
          if (problem) throw LessorError.invalidField("username_template", problem);
          const federation = checkTemplate(next.username_template, ["federation"], SAMPLE_ROLE);
          if (federation) {
            warnings.push(
              `username_template ${federation} for federation_token names (at most 32 characters; its .Type is "STS"): federation_token roles need their own username_template`,
            );
          }
        }
        await backend.storage.put("config/root", JSON.parse(JSON.stringify(next)));
        await backend.resetClients();
        return { warnings };
      },
    },
  });
}

/** Go's time.Duration.String for whole seconds ("768h0m0s", "1m30s", "0s"), as Vault prints config/lease. */
function goDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

export function configLeasePath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "config/lease",
    synopsis: "Configure the lease duration of IAM-user credentials.",
    description:
      "lease: how long an iam_user credential's lease lasts unless the request asks for another ttl; lease_max: how far renewals can extend it. Both are limited by the mount's max lease TTL. Reading shows the values in effect (the mount's defaults until this path is written). STS credentials last as long as AWS makes them (see the role's default_sts_ttl and max_sts_ttl).",
    fields: {
      lease: { type: "duration", required: true, description: 'Default lease duration, e.g. "1h" or 3600.' },
      lease_max: { type: "duration", required: true, description: 'Maximum lease duration, e.g. "24h".' },
    },
    operations: {
      async read() {
        const stored = await backend.leaseConfig();
        // The values in effect: the mount's (its system view's) until this path is written.
        const lease = stored?.lease ?? backend.system.defaultLeaseTtlSeconds();
        const leaseMax = stored?.lease_max ?? backend.system.maxLeaseTtlSeconds();
        return { data: { lease: goDuration(lease), lease_max: goDuration(leaseMax) } };
      },
      async write(req) {
        const { lease, lease_max } = req.fields;
        if (lease === 0) throw LessorError.invalidField("lease", "must be longer than 0");
        if (lease_max === 0) throw LessorError.invalidField("lease_max", "must be longer than 0");
        if (lease > lease_max) throw LessorError.invalidField("lease", `(${goDuration(lease)}) must not be longer than lease_max (${goDuration(lease_max)})`);
        const config: LeaseConfig = { lease, lease_max };
        await backend.storage.put("config/lease", { ...config });
        return {};
      },
    },
  });
}
