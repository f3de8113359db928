// How the client calls: channel settings, deadlines, and which calls may be
// retried. A call is retried only when repeating it cannot do anything twice,
// and only when the server (or the connection) said UNAVAILABLE.
import { status as Code, type ChannelOptions } from "@grpc/grpc-js";
import { LessorClientError } from "./errors.js";
import { LeaseServiceDefinition } from "./gen/lessor/v1/leases.js";
import { MountServiceDefinition } from "./gen/lessor/v1/mounts.js";
import { PolicyServiceDefinition } from "./gen/lessor/v1/policies.js";
import { SecretsServiceDefinition } from "./gen/lessor/v1/secrets.js";
import { SysServiceDefinition } from "./gen/lessor/v1/sys.js";
import { TokenServiceDefinition } from "./gen/lessor/v1/tokens.js";

export interface RetryOptions {
  /** Attempts in all, the first included (default 4; 1 turns retries off). */
  maxAttempts?: number;
  /** First backoff (default 100 ms); it doubles per attempt, with full jitter. */
  initialBackoffMs?: number;
  /** Longest backoff (default 2 s). A server's RetryInfo delay is used when it is longer. */
  maxBackoffMs?: number;
}

/** Per-call settings of the typed layer and `invoke`. */
export interface LessorCallOptions {
  /** Deadline for this call, retries included (default: the client's `deadlineMs`). */
  deadlineMs?: number;
  /**
   * Whether repeating the call is harmless. Default: true for the RPCs in
   * IDEMPOTENT_METHODS and for reads of configuration and roles (see
   * `isIdempotentRead`), false otherwise.
   */
  idempotent?: boolean;
}

/** Every service of the API, as generated from the protos (with each method's options). */
const SERVICES = [
  SecretsServiceDefinition,
  LeaseServiceDefinition,
  MountServiceDefinition,
  TokenServiceDefinition,
  PolicyServiceDefinition,
  SysServiceDefinition,
] as const;

/**
 * RPCs that only read and may be repeated ("Service/Method"): those the protos
 * declare `idempotency_level = NO_SIDE_EFFECTS` or `IDEMPOTENT`, the one
 * source the server's documentation and every language's stubs share. Not
 * here: every write, delete, renew and revoke, and SecretsService/Read, which
 * can issue a secret (a new IAM user per `aws/creds/<role>` read) and is
 * decided per path.
 */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(
  SERVICES.flatMap((service) =>
    Object.values(service.methods)
      .filter((method) => {
        const options: { idempotencyLevel?: string } = method.options;
        return options.idempotencyLevel === "NO_SIDE_EFFECTS" || options.idempotencyLevel === "IDEMPOTENT";
      })
      .map((method) => `${service.name}/${method.name}`),
  ),
);

/** Path segments of reads that issue a secret (aws creds and sts today; common names of other engines). */
const ISSUING_SEGMENTS = new Set(["creds", "sts", "issue", "sign"]);
/** Path segments (after the mount) of reads that only return stored configuration. */
const CONFIGURATION_SEGMENTS = new Set(["config", "roles", "role"]);

/**
 * Whether reading `path` is safe to repeat. Conservative: only reads of
 * configuration and roles (`aws/config/lease`, `aws/roles/deploy`) are, and
 * never a path with a segment that names issuing (`aws/creds/...`,
 * `aws/sts/...`), even a role that happens to be called "creds". Any other
 * read might issue a secret each time it runs, so it is not repeated unless
 * the caller says `{ idempotent: true }` (a kv read, for instance).
 */
export function isIdempotentRead(path: string): boolean {
  const segments = path.replace(/^\/+|\/+$/g, "").split("/");
  if (segments.some((s) => ISSUING_SEGMENTS.has(s))) return false;
  return segments.slice(1).some((s) => CONFIGURATION_SEGMENTS.has(s));
}

/**
 * Channel settings: keepalive, so a dead connection under a long watch is
 * noticed; reconnect attempts at most a second apart (grpc-js' default backoff
 * grows to two minutes, so a watch resumed many seconds after a restarted
 * server was back); and message sizes.
 */
export const CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 1_000,
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 4 * 1024 * 1024,
};

const DEFAULT_RETRY: Required<RetryOptions> = { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 2_000 };

/**
 * Runs `attempt` (one call ending by `deadline`), repeating it on UNAVAILABLE
 * when `idempotent`, with exponential backoff and full jitter, never past the deadline.
 */
export async function withRetries<Res>(
  method: string,
  idempotent: boolean,
  deadline: number,
  retry: RetryOptions | undefined,
  attempt: (deadline: number) => Promise<Res>,
): Promise<Res> {
  const policy = { ...DEFAULT_RETRY, ...retry };
  for (let n = 1; ; n++) {
    try {
      return await attempt(deadline);
    } catch (err) {
      const error = LessorClientError.from(err, method);
      if (!idempotent || error.code !== Code.UNAVAILABLE || n >= policy.maxAttempts) throw error;
      const backoff = Math.random() * Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (n - 1));
      const wait = Math.max(backoff, error.retryDelayMs ?? 0);
      if (Date.now() + wait >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
