// Assembles one Lessor server: store → mount table → lease manager → router
// → gRPC services, and the background work (expiry, abandoned-intent
// rollback). Used by `lessor server`, the tests and the benchmarks alike.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import pino, { type Logger } from "pino";
import { Acl } from "../auth/acl.js";
import { PolicyBook } from "../auth/policies.js";
import { AuditBroker } from "../audit/audit.js";
import { RateLimiter } from "../quotas/rate-limits.js";
import { KeyRotator } from "../store/rotation.js";
import { PolicyServiceService } from "@lessor/client/gen/lessor/v1/policies.js";
import { SysServiceService } from "@lessor/client/gen/lessor/v1/sys.js";
import { TokenServiceService } from "@lessor/client/gen/lessor/v1/tokens.js";
import { policyService } from "./services/policies.js";
import { sysService } from "./services/sys.js";
import { tokenService } from "./services/tokens.js";
import { withSafeDecoding } from "./decode.js";
import { TokenAuthority } from "../auth/tokens.js";
import { engineFactories } from "../engines/index.js";
import { LeaseServiceService } from "@lessor/client/gen/lessor/v1/leases.js";
import { MountServiceService } from "@lessor/client/gen/lessor/v1/mounts.js";
import { SecretsServiceService } from "@lessor/client/gen/lessor/v1/secrets.js";
import { LeaseEventFeed, type LeaseEventFeedOptions } from "../leases/events.js";
import { ExpiryScheduler, type ExpiryOptions } from "../leases/expiry.js";
import { LeaseManager } from "../leases/manager.js";
import { LeaseListing } from "../leases/listing.js";
import { RevocationJobs, type PrefixJobOptions } from "../leases/prefix-jobs.js";
import type { RevokeRateOptions } from "../leases/rate-limit.js";
import { LeaseTidy } from "../leases/tidy.js";
import type { RetryPolicy } from "../leases/policy.js";
import { MountTable } from "../router/mounts.js";
import { Router } from "../router/router.js";
import { openKeyedStore } from "../store/open.js";
import type { Store } from "../store/types.js";
import type { CallDeps } from "./call.js";
import { LessorGrpcServer } from "./grpc-server.js";
import { LessorMetrics } from "./metrics.js";
import { ReplicaMembership, type ReplicaOptions } from "./cluster.js";
import { HealthReporter } from "./health.js";
import { grpcConnectionOptions, listenGuarded, type TlsMaterial } from "./connections.js";
import { DEFAULT_CONNECTION_LIMITS, DEFAULT_LISTEN_ADDRESS, isLoopbackAddress, splitHostPort, type ConnectionLimits } from "./listen.js";
import { addReflection } from "./reflection.js";
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
  /** TLS: the server's certificate chain and private key (PEM files). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** mTLS: CA bundle (PEM) that client certificates must chain to; clients without one are refused. */
  tlsClientCaFile?: string;
  /** Limits on the gRPC port's connections (DEFAULT_CONNECTION_LIMITS for what is not given). */
  connections?: Partial<ConnectionLimits>;
  /** How often expired and used-up tokens are revoked (default 30 s). */
  tokenSweepIntervalMs?: number;
  /**
   * On stop, how long to keep answering calls with health NOT_SERVING before
   * closing, so load balancers move traffic away first (default 0).
   */
  shutdownDelayMs?: number;
  events?: LeaseEventFeedOptions;
  /** Revocations per second per engine mount (token bucket). */
  revokeRate?: Partial<RevokeRateOptions>;
  /** How long revoked leases, finished jobs and lease events are kept (tidy purges older ones). */
  leaseRetentionMs?: number;
  prefixJobs?: PrefixJobOptions;
  /** host:port to serve Prometheus metrics on (GET /metrics); none when absent. */
  metricsListenAddress?: string;
  /** PostgreSQL URL (postgres://user:password@host:port/db?sslmode=...): a store several replicas share, instead of <dataDir>/lessor.db. */
  storageUrl?: string;
  /** CA bundle (PEM) to verify the PostgreSQL server's certificate. */
  storageCaFile?: string;
  /** Heartbeats and configuration polling, when replicas share the store. */
  replicas?: ReplicaOptions;
}

export interface LessorServer {
  /** host:port actually bound. */
  address: string;
  /** The root token, only on the start that created it. */
  rootToken: string | undefined;
  store: Store;
  logger: Logger;
  stop(): Promise<void>;
  /** "mTLS", "TLS" or "plaintext": what the banner says. */
  transport: "mTLS" | "TLS" | "plaintext";
  /** host:port of the metrics endpoint, when one was asked for. */
  metricsAddress: string | undefined;
}

export async function startLessor(options: LessorServerOptions): Promise<LessorServer> {
  const logger = options.logger ?? pino({ name: "lessor" });
  const listenAddress = options.listenAddress ?? DEFAULT_LISTEN_ADDRESS;
  const { host } = splitHostPort(listenAddress);
  const tls = transportCredentials(options);
  if (tls.transport === "plaintext" && !isLoopbackAddress(host)) {
    if (!options.allowPlaintextNonLoopback) {
      throw new Error(
        `refusing to serve plaintext gRPC on ${listenAddress}, which is not a loopback address; give -tls-cert-file and -tls-key-file, listen on 127.0.0.1, or pass -tls-disable to accept the risk`,
      );
    }
    logger.warn(
      { address: listenAddress },
      "WARNING: TLS IS DISABLED on a non-loopback address (-tls-disable): tokens and secrets cross the network in plaintext",
    );
  }

  const { store: openedStore, keyring, keyFile } = await openKeyedStore({ ...options, logger });
  const metrics = options.metricsListenAddress === undefined ? undefined : new LessorMetrics(openedStore);
  const store = metrics ? metrics.timedStore(openedStore) : openedStore;
  const now = Date.now();

  const cluster = store.cluster;
  const tokens = new TokenAuthority(store, cluster === undefined);
  const rootToken = (await shouldCreateRoot(store, tokens)) ? await tokens.createRoot(now) : undefined;
  // Read before the copies below are loaded, so a change made meanwhile is reloaded, not missed.
  const configVersion = cluster ? await cluster.configVersion() : 0;

  const mounts = new MountTable(store, engineFactories(), logger, metrics);
  await mounts.load();
  if (options.mountDefaultKv && !mounts.get("secret/")) {
    await mounts.enable("kv", "secret/", { description: "key/value secret storage" }, now);
  }

  const acl = new Acl();
  const policies = new PolicyBook(store.policies, acl);
  await policies.load(now);
  const audit = await AuditBroker.open(store.auditDevices, store.settings);
  const quotas = new RateLimiter(store.quotas);
  await quotas.load();
  const replica = cluster
    ? new ReplicaMembership(
        cluster,
        async () => {
          await mounts.load();
          await policies.reload();
          await quotas.load();
          await audit.reload();
        },
        logger,
        options.replicas,
      )
    : undefined;
  const keys = new KeyRotator(keyring, keyFile, store.sealed, logger, replica ? () => replica.others() : undefined);
  await keys.start();
  const events = new LeaseEventFeed(store, options.events);
  const leases = new LeaseManager(store, mounts, logger, {
    retry: options.retry,
    intentTimeoutMs: options.intentTimeoutMs,
    revokeRate: options.revokeRate,
    observer: metrics,
  });
  const router = new Router(mounts, leases, acl);

  await replica?.start(configVersion);
  // One process on this store: every intent left over belongs to a process
  // that died. Replicas: those of replicas that died (another replica may be
  // issuing right now), and any older than the intent timeout.
  const rolledBack = cluster
    ? (await leases.rollbackOrphaned()) + (await leases.rollbackAbandoned(leases.intentTimeoutMs))
    : await leases.rollbackAbandoned(0);
  if (rolledBack > 0) logger.warn({ intents: rolledBack }, "rolled back issuance left unfinished by a previous run");
  const sweepFailed = (err: unknown) => logger.error({ err: String(err) }, "intent sweep failed");
  const sweeper = setInterval(() => {
    void leases.rollbackAbandoned(leases.intentTimeoutMs).catch(sweepFailed);
  }, Math.max(1_000, Math.floor(leases.intentTimeoutMs / 2)));
  sweeper.unref();
  // A replica that dies mid-issuance is seen gone at once (its session ends):
  // the others roll back what it left within seconds, not the intent timeout.
  const orphanSweeper = cluster ? setInterval(() => void leases.rollbackOrphaned().catch(sweepFailed), 2_000) : undefined;
  orphanSweeper?.unref();

  const expiry = new ExpiryScheduler(store, leases, logger, options.expiry);
  if (options.noExpire) logger.warn("expiry is paused (-no-expire): leases will not be revoked when they expire");
  // Paused expiry still runs the revocations already decided (queued, revoke-prefix, retries).
  expiry.start({ expireActive: !options.noExpire });
  const jobs = new RevocationJobs(store, leases, logger, options.prefixJobs);
  const resumed = await jobs.resume();
  if (resumed > 0) logger.info({ jobs: resumed }, "resumed revoke-prefix jobs left unfinished by a previous run");
  const lifecycle = { jobs, listing: new LeaseListing(store, keyring), tidy: new LeaseTidy(store, leases, { retentionMs: options.leaseRetentionMs }) };

  // Expired and used-up tokens are revoked with their children and leases.
  const sweepTokens = () =>
    void tokens.revokeDead(leases, Date.now()).catch((err: unknown) => logger.error({ err: String(err) }, "token sweep failed"));
  sweepTokens();
  const tokenSweeper = setInterval(sweepTokens, options.tokenSweepIntervalMs ?? 30_000);
  tokenSweeper.unref();

  const deps: CallDeps = { tokens, logger, guard: { audit, quotas } };
  const connectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connections };
  const server = new LessorGrpcServer({
    ...grpcConnectionOptions(connectionLimits),
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.keepalive_permit_without_calls": 1,
  });
  server.addService(withSafeDecoding(SecretsServiceService), secretsService(deps, router));
  server.addService(withSafeDecoding(LeaseServiceService), leaseService(deps, leases, acl, events, lifecycle));
  server.addService(withSafeDecoding(MountServiceService), mountService(deps, mounts, leases, acl));
  server.addService(withSafeDecoding(TokenServiceService), tokenService(deps, tokens, acl, leases));
  server.addService(withSafeDecoding(PolicyServiceService), policyService(deps, policies, acl));
  server.addService(withSafeDecoding(SysServiceService), sysService(deps, acl, audit, quotas, keys));
  // Health and reflection last: they describe the services added above. No token needed.
  const health = new HealthReporter();
  health.addToServer(server);
  addReflection(server, server.serviceNames);

  const listener = await listenGuarded(server, listenAddress, tls.material, connectionLimits, logger);
  const address = `${splitHostPort(listenAddress).host}:${listener.port}`;
  logger.info({ address, data_dir: options.dataDir, transport: tls.transport }, "lessor listening");
  const metricsServer = metrics && options.metricsListenAddress ? await metrics.serve(options.metricsListenAddress) : undefined;
  if (metricsServer) logger.info({ address: metricsServer.address }, "metrics at GET /metrics");
  health.serving(server.serviceNames.filter((name) => !name.startsWith("grpc.")));
  health.watchStore(() => store.leases.nextDueTime(), logger);

  let stopped = false;
  return {
    address,
    rootToken,
    store,
    logger,
    transport: tls.transport,
    metricsAddress: metricsServer?.address,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Drain: NOT_SERVING first, still answering calls for the delay, then stop.
      health.draining();
      if (options.shutdownDelayMs) await new Promise((r) => setTimeout(r, options.shutdownDelayMs));
      clearInterval(sweeper);
      clearInterval(orphanSweeper);
      clearInterval(tokenSweeper);
      await keys.stop();
      await jobs.stop();
      await expiry.stop();
      // Long-lived streams end now (UNAVAILABLE: reconnect elsewhere and resume), so they do not hold the shutdown.
      events.close();
      health.endWatches();
      listener.close();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await metricsServer?.close();
      await replica?.stop();
      await store.close();
    },
  };
}

/**
 * A root token is made on the first start only: when no token exists. When
 * replicas share the store and start together, exactly one of them makes it
 * (the one whose claim is stored first), so only one banner shows a token.
 */
async function shouldCreateRoot(store: Store, tokens: TokenAuthority): Promise<boolean> {
  if (await tokens.hasAnyToken()) return false;
  if (!store.cluster) return true;
  const claim = randomBytes(16);
  const winner = await store.settings.putIfAbsent("first-root-token", claim);
  return winner.equals(claim);
}

/** The listener's TLS material from the TLS options; plaintext when none are given. */
function transportCredentials(options: LessorServerOptions): { material: TlsMaterial | undefined; transport: LessorServer["transport"] } {
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile } = options;
  if (!tlsCertFile && !tlsKeyFile) {
    if (tlsClientCaFile) throw new Error("-tls-client-ca-file needs -tls-cert-file and -tls-key-file (mTLS is TLS with client certificates)");
    return { material: undefined, transport: "plaintext" };
  }
  if (!tlsCertFile || !tlsKeyFile) throw new Error("TLS needs both -tls-cert-file and -tls-key-file");
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const cert = read("-tls-cert-file", tlsCertFile);
  const key = read("-tls-key-file", tlsKeyFile);
  const clientCa = tlsClientCaFile ? read("-tls-client-ca-file", tlsClientCaFile) : null;
  // Checked now, so a bad certificate or key stops the start with a clear error rather than failing each handshake.
  try {
    createSecureContext({ cert, key, ...(clientCa ? { ca: clientCa } : {}) });
  } catch (err) {
    throw new Error(`the TLS certificate, key or client CA cannot be used: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { material: { cert, key, clientCa }, transport: clientCa ? "mTLS" : "TLS" };
}
