// An AWS SDK v3 credential provider backed by Lessor:
//
//   new S3Client({ credentials: lessorAwsCredentials({ role: "deploy" }) })
//
// The first time the SDK asks, it reads `aws/creds/<role>` and keeps the
// lease alive with a LeaseRenewer. The SDK asks again whenever its copy is
// near the `expiration` given (and on every request once that is less than
// five minutes away); the provider answers from its cache until the keys are
// close to their end (max TTL reached, renewal refused, lease gone), then
// reads fresh ones. Old keys are not revoked when replaced, since requests
// signed with them may still be in flight: their lease ends on its own.
// Only types come from the AWS SDK (@smithy/types): nothing of the SDK runs here.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { LessorClient, type LessorClientOptions } from "./client.js";
import { LeaseRenewer } from "./renewer.js";

export interface LessorAwsCredentialsOptions extends LessorClientOptions {
  /** The Lessor role to read credentials for (`<mount>/creds/<role>`). */
  role: string;
  /** Where the aws engine is mounted (default "aws"). */
  mount?: string;
  /** A client to use (default: one made from these options, closed by `close()`). */
  client?: LessorClient;
  /**
   * Read fresh keys this long before the current ones end. Default: once their
   * lease cannot be extended any more, a third of the keys' lifetime (at most
   * five minutes); while it is still being renewed, a sixth of the lease's
   * duration (after the renewal point, at about a third), so renewing comes first.
   */
  refreshBeforeExpiryMs?: number;
  /** Keep renewable leases alive (default true). */
  renew?: boolean;
}

/** The provider, plus what a long-running program may want: the lease in use, and cleanup. */
export type LessorAwsCredentialProvider = AwsCredentialIdentityProvider & {
  /** Lease of the keys handed out last; undefined before the first read. */
  currentLeaseId(): string | undefined;
  /** Stops renewing, optionally revokes the current lease, and closes the client if the provider made it. */
  close(options?: { revoke?: boolean }): Promise<void>;
};

interface Current {
  identity: AwsCredentialIdentity;
  leaseId: string;
  obtainedAt: number;
  expireTime: number;
  /** When the lease was issued or last renewed. */
  updatedAt: number;
  /** Whether a renewer is still extending the lease. */
  renewing: boolean;
  renewer: LeaseRenewer | undefined;
}

export function lessorAwsCredentials(options: LessorAwsCredentialsOptions): LessorAwsCredentialProvider {
  const client = options.client ?? new LessorClient(options);
  const ownsClient = options.client === undefined;
  let current: Current | undefined;
  let pending: Promise<Current> | undefined;

  const refreshAt = (c: Current): number => {
    if (options.refreshBeforeExpiryMs !== undefined) return c.expireTime - options.refreshBeforeExpiryMs;
    const window = c.renewing ? (c.expireTime - c.updatedAt) / 6 : (c.expireTime - c.obtainedAt) / 3;
    return c.expireTime - Math.min(300_000, window);
  };

  const fetchFresh = async (): Promise<Current> => {
    const creds = await client.aws.creds(options.role, { mount: options.mount });
    const obtainedAt = Date.now();
    const next: Current = {
      identity: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken },
      leaseId: creds.lease.id,
      obtainedAt,
      expireTime: obtainedAt + creds.lease.durationSeconds * 1000,
      updatedAt: obtainedAt,
      renewing: false,
      renewer: undefined,
    };
    if (creds.lease.renewable && options.renew !== false) {
      const renewer = new LeaseRenewer(client, creds.lease, { unref: true });
      next.renewing = true;
      renewer.on("renewed", (e) => {
        next.expireTime = e.expireTime.getTime();
        next.updatedAt = Date.now();
      });
      renewer.on("done", (d) => {
        next.renewing = false;
        // max_ttl: the keys stay good until expireTime and are replaced before it.
        // failed/expired: the lease may be gone already, so replace the keys at the next request.
        if (d.reason === "failed" || d.reason === "expired") next.expireTime = Math.min(next.expireTime, Date.now());
      });
      next.renewer = renewer;
    }
    current?.renewer?.stop();
    current = next;
    return next;
  };

  const provider = async (): Promise<AwsCredentialIdentity> => {
    let c = current;
    if (!c || Date.now() >= refreshAt(c)) {
      pending ??= fetchFresh().finally(() => (pending = undefined));
      c = await pending;
    }
    return { ...c.identity, expiration: new Date(c.expireTime) };
  };

  return Object.assign(provider, {
    currentLeaseId: () => current?.leaseId,
    async close(closeOptions: { revoke?: boolean } = {}) {
      const last = current;
      last?.renewer?.stop();
      try {
        if (closeOptions.revoke && last) await client.leases.revoke(last.leaseId);
      } finally {
        if (ownsClient) client.close();
      }
    },
  });
}
