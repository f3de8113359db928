// Assembles one Lessor server: store → mount table → lease manager → router
// → gRPC services, and the background work (expiry, abandoned-intent
// rollback). Used by `lessor server`, the tests and the benchmarks alike.
import { join } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import pino, { type Logger } from "pino";
import { Acl } from "../auth/acl.js";
import { TokenAuthority } from "../auth/tokens.js";
import { ENGINE_FACTORIES } from "../engines/index.js";
import { LeaseServiceService } from "../gen/lessor/v1/leases.js";
import { MountServiceService } from "../gen/lessor/v1/mounts.js";
import { SecretsServiceService } from "../gen/lessor/v1/secrets.js";
import { ExpiryScheduler, type ExpiryOptions } from "../leases/expiry.js";
import { LeaseManager } from "../leases/manager.js";
import { LeaseListing } from "../leases/listing.js";
import { RevocationJobs, type PrefixJobOptions } from "../leases/prefix-jobs.js";
import type { RevokeRateOptions } from "../leases/rate-limit.js";
import { LeaseTidy } from "../leases/tidy.js";
import type { RetryPolicy } from "../leases/policy.js";
import { MountTable } from "../router/mounts.js";
import { Router } from "../router/router.js";
import { Keyring } from "../store/encryption.js";
import { openSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/types.js";
import type { CallDeps } from "./call.js";
import { DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort } from "./listen.js";
import { leaseService } from "./services/leases.js";
import { mountService } from "./services/mounts.js";
import { secretsService } from "./services/secrets.js";

export interface LessorServerOptions {
  /** Where the database (lessor.db) and, by default, the key file live. */
  dataDir: string;
  /** host:port; port 0 picks a free one. Default 127.0.0.1:8200. */
  listenAddress?: string;
  /** Key file path; default <dataDir>/lessor.key, created on first start. */
  keyFile?: string;
  /** Base64 encryption key (instead of a key file), e.g. from LESSOR_SEAL_KEY. */
  sealKey?: string;
  /** Mount kv at secret/ on first start (dev mode does). */
  mountDefaultKv?: boolean;
  /** Allow plaintext on a non-loopback address. */
  allowPlaintextNonLoopback?: boolean;
  /** Start with expiry paused (restoring a backup). */
  noExpire?: boolean;
  logger?: Logger;
  retry?: RetryPolicy;
  expiry?: ExpiryOptions;
  intentTimeoutMs?: number;
  /** Revocations per second per engine mount (token bucket). */
  revokeRate?: Partial<RevokeRateOptions>;
  /** How long revoked leases, finished jobs and lease events are kept (tidy purges older ones). */
  leaseRetentionMs?: number;
  prefixJobs?: PrefixJobOptions;
}

export interface LessorServer {
  /** host:port actually bound. */
  address: string;
  /** The root token, only on the start that created it. */
  rootToken: string | undefined;
  store: Store;
  logger: Logger;
  stop(): Promise<void>;
}

export async function startLessor(options: LessorServerOptions): Promise<LessorServer> {
  const logger = options.logger ?? pino({ name: "lessor" });
  const listenAddress = options.listenAddress ?? DEFAULT_LISTEN_ADDRESS;
  const { host } = splitHostPort(listenAddress);
  if (!isLoopbackAddress(host) && !options.allowPlaintextNonLoopback) {
    throw new Error(
      `refusing to serve plaintext gRPC on ${listenAddress}, which is not a loopback address; listen on 127.0.0.1 or pass -tls-disable to accept the risk`,
    );
  }

  const keyring = options.sealKey ? Keyring.fromBase64(options.sealKey) : Keyring.loadOrCreate(options.keyFile ?? join(options.dataDir, "lessor.key"));
  const store = openSqliteStore({ path: join(options.dataDir, "lessor.db"), keyring });
  const now = Date.now();

  const tokens = new TokenAuthority(store);
  const rootToken = (await tokens.hasAnyToken()) ? undefined : await tokens.createRoot(now);

  const mounts = new MountTable(store, ENGINE_FACTORIES, logger);
  await mounts.load();
  if (options.mountDefaultKv && !mounts.get("secret/")) {
    await mounts.enable("kv", "secret/", { description: "key/value secret storage" }, now);
  }

  const acl = new Acl();
  const leases = new LeaseManager(store, mounts, logger, {
    retry: options.retry,
    intentTimeoutMs: options.intentTimeoutMs,
    revokeRate: options.revokeRate,
  });
  const router = new Router(mounts, leases, acl);

  // Single process on this store: every intent left over belongs to a process that died.
  const rolledBack = await leases.rollbackAbandoned(0);
  if (rolledBack > 0) logger.warn({ intents: rolledBack }, "rolled back issuance left unfinished by a previous run");
  const sweeper = setInterval(() => {
    void leases.rollbackAbandoned(leases.intentTimeoutMs).catch((err: unknown) => logger.error({ err: String(err) }, "intent sweep failed"));
  }, Math.max(1_000, Math.floor(leases.intentTimeoutMs / 2)));
  sweeper.unref();

  const expiry = new ExpiryScheduler(store, leases, logger, options.expiry);
  if (options.noExpire) logger.warn("expiry is paused (-no-expire): leases will not be revoked when they expire");
  // Paused expiry still runs the revocations already decided (queued, revoke-prefix, retries).
  expiry.start({ expireActive: !options.noExpire });
  const jobs = new RevocationJobs(store, leases, logger, options.prefixJobs);
  const resumed = await jobs.resume();
  if (resumed > 0) logger.info({ jobs: resumed }, "resumed revoke-prefix jobs left unfinished by a previous run");
  const lifecycle = { jobs, listing: new LeaseListing(store, keyring), tidy: new LeaseTidy(store, leases, { retentionMs: options.leaseRetentionMs }) };

  const deps: CallDeps = { tokens, logger };
  const server = new Server({
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.keepalive_permit_without_calls": 1,
  });
  server.addService(SecretsServiceService, secretsService(deps, router));
  server.addService(LeaseServiceService, leaseService(deps, leases, acl, lifecycle));
  server.addService(MountServiceService, mountService(deps, mounts, leases, acl));

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listenAddress, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  const address = `${splitHostPort(listenAddress).host}:${port}`;
  logger.info({ address, data_dir: options.dataDir }, "lessor listening");

  let stopped = false;
  return {
    address,
    rootToken,
    store,
    logger,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweeper);
      await jobs.stop();
      await expiry.stop();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await store.close();
    },
  };
}
