// Assembles one Lessor server from its parts, in the order a request meets
// them: storage → tokens and configuration (mounts, policies, audit, quotas)
// → leases → router → request pipeline → gRPC (and Vault's HTTP API, when
// asked for), with the background work in one registry. Used by `lessor server`, the tests and the benchmarks alike.
import { randomBytes } from "node:crypto";
import pino, { type Logger } from "pino";
import { Acl } from "../auth/acl.js";
import { PolicyBook } from "../auth/policies.js";
import { issuedToken, TokenAuthority } from "../auth/tokens.js";
import { AuditBroker } from "../audit/audit.js";
import { TOKEN_PATH, TOKEN_SPECIAL, tokenBackend, type TokenStoreParts } from "../auth-methods/token/index.js";
import { engineFactories } from "../engines/index.js";
import { SYS_PATH, SYS_SPECIAL, systemBackend, type ServerInfo } from "../engines/sys/index.js";
import { LeaseEventFeed, type LeaseEventFeedOptions } from "../leases/events.js";
import { ExpiryScheduler, type ExpiryOptions } from "../leases/expiry.js";
import { LeaseListing } from "../leases/listing.js";
import { LeaseManager } from "../leases/manager.js";
import { RevocationJobs, type PrefixJobOptions } from "../leases/prefix-jobs.js";
import type { RevokeRateOptions } from "../leases/rate-limit.js";
import type { RetryPolicy } from "../leases/retry.js";
import { LeaseTidy } from "../leases/tidy.js";
import { leaseView } from "../leases/view.js";
import { MountTable } from "../mounts/table.js";
import { RateLimiter } from "../quotas/rate-limits.js";
import { Router } from "../router/router.js";
import type { Keyring } from "../store/encryption.js";
import { openKeyedStore } from "../store/open.js";
import { KeyRotator } from "../store/rotation.js";
import type { Store } from "../store/types.js";
import { BackgroundTasks } from "./background.js";
import { ReplicaMembership, type ReplicaOptions } from "./cluster.js";
import { grpcConnectionOptions, listenGuarded } from "./connections.js";
import { GrpcBinding, type RpcObserver } from "./grpc-binding.js";
import { HealthReporter } from "./health.js";
import { checkVaultHttp, serveVaultHttp, type VaultHttpServer } from "./http/index.js";
import { LessorGrpcServer } from "./grpc-server.js";
import { listenerCredentials, type ListenerOptions, type Transport } from "./listener.js";
import type { LessorMetrics } from "./metrics.js";
import { RequestPipeline } from "./pipeline.js";
import { StreamGuard, type StreamLimits } from "./streams.js";
import { addReflection } from "./reflection.js";
import { lessorVersion } from "../util/version.js";
import { API } from "./rpc/services.js";

export interface LessorServerOptions extends ListenerOptions {
  /** Where the database (lessor.db) and, by default, the key file live. */
  dataDir: string;
  /** Key file path; default <dataDir>/lessor.key, created on first start. */
  keyFile?: string;
  /** Base64 encryption key (instead of a key file), e.g. from LESSOR_SEAL_KEY. */
  sealKey?: string;
  /** Mount kv at secret/ on first start (dev mode does). */
  mountDefaultKv?: boolean;
  /** Start with expiry paused (restoring a backup). */
  noExpire?: boolean;
  logger?: Logger;
  retry?: RetryPolicy;
  expiry?: ExpiryOptions;
  intentTimeoutMs?: number;
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
  /** Dev mode only: the root token to make on a new store, instead of a random one. */
  devRootToken?: string;
  /** host:port to serve Prometheus metrics on (GET /metrics); none when absent. */
  metricsListenAddress?: string;
  /** PostgreSQL URL (postgres://user:password@host:port/db?sslmode=...): a store several replicas share, instead of <dataDir>/lessor.db. */
  storageUrl?: string;
  /** CA bundle (PEM) to verify the PostgreSQL server's certificate. */
  storageCaFile?: string;
  /** Heartbeats and configuration polling, when replicas share the store. */
  replicas?: ReplicaOptions;
  /** Limits on long-lived streams (WatchLeases, RevokeLeasePrefix). */
  streams?: StreamLimits;
  /** SQLite: told every SQL statement the store runs, values inlined (for diagnosis: what start-up reads). */
  storeTrace?: (sql: string) => void;
  /** host:port for Vault's HTTP API (the gRPC listener's TLS, limits and plaintext rule); off when absent. */
  httpListenAddress?: string;
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
  transport: Transport;
  /** Reads the TLS files again for new connections (SIGHUP); throws, keeping the old ones, when they are unusable. */
  reloadCertificates(): void;
  /** host:port of the metrics endpoint, when one was asked for. */
  metricsAddress: string | undefined;
  /** Every request's way in (the gRPC services and the HTTP API call it; tests watch it). */
  pipeline: RequestPipeline;
  /** host:port of Vault's HTTP API, when one was asked for. */
  httpAddress: string | undefined;
}

export async function startLessor(options: LessorServerOptions): Promise<LessorServer> {
  const logger = options.logger ?? pino({ name: "lessor" });
  const listener = listenerCredentials(options, logger);
  // Vault's HTTP API is checked before anything starts: its address and the plaintext rule.
  if (options.httpListenAddress) checkVaultHttp(options.httpListenAddress, listener, options, logger);
  const storage = await openStorage(options, logger);
  const config = await loadConfiguration(options, storage, logger);
  const leases = leaseParts(options, storage, config, logger);
  // sys/health says what gRPC health says.
  const health = new HealthReporter();
  const server: ServerInfo = { version: lessorVersion(), storageType: options.storageUrl ? "postgresql" : "sqlite", serving: () => health.isServing };
  const pipeline = requestPipeline(options, storage, config, leases, server, logger);
  const tasks = backgroundTasks(options, storage, config, leases, logger);
  await tasks.start();
  const grpc = await serveGrpc(pipeline, listener, health, logger, storage.metrics);
  logger.info({ address: grpc.address, data_dir: options.dataDir, transport: listener.transport }, "lessor listening");
  let http: VaultHttpServer | undefined;
  let metricsServer: Awaited<ReturnType<LessorMetrics["serve"]>> | undefined;
  /** Stops what has started, in reverse (also when a later listener could not start). */
  const shutdown = async (): Promise<void> => {
    await tasks.stop();
    // Long-lived streams end now (UNAVAILABLE: reconnect elsewhere and resume), so they do not hold the shutdown.
    leases.events.close();
    grpc.health.endWatches();
    await Promise.all([grpc.close(), http?.close(5_000)]);
    await metricsServer?.close();
    await config.replica?.stop();
    await storage.store.close();
  };
  try {
    if (options.httpListenAddress) {
      http = await serveVaultHttp(pipeline, options.httpListenAddress, listener, logger);
      logger.info({ address: http.address, transport: listener.transport }, "Vault's HTTP API listening");
    }
    metricsServer = storage.metrics && options.metricsListenAddress ? await storage.metrics.serve(options.metricsListenAddress) : undefined;
  } catch (err) {
    await shutdown();
    throw err;
  }
  if (metricsServer) logger.info({ address: metricsServer.address }, "metrics at GET /metrics");
  grpc.health.serving(grpc.server.serviceNames.filter((name) => !name.startsWith("grpc.")));
  grpc.health.watchStore(() => storage.store.leases.nextDueTime(), logger);
  await tasks.startAfterListening();

  let stopped = false;
  return {
    address: grpc.address,
    rootToken: config.rootToken,
    store: storage.store,
    logger,
    transport: listener.transport,
    // Vault's HTTP API serves the same TLS: it follows the reload.
    reloadCertificates: listener.reload,
    metricsAddress: metricsServer?.address,
    pipeline,
    httpAddress: http?.address,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Drain: NOT_SERVING first (sys/health answers 503 too), still answering calls for the delay, then stop.
      grpc.health.draining();
      if (options.shutdownDelayMs) await new Promise((r) => setTimeout(r, options.shutdownDelayMs));
      await shutdown();
    },
  };
}

interface Storage {
  store: Store;
  keyring: Keyring;
  keyFile: string | undefined;
  metrics: LessorMetrics | undefined;
}

/** The encryption key, the store it opens, and metrics around it. */
async function openStorage(options: LessorServerOptions, logger: Logger): Promise<Storage> {
  const { store: opened, keyring, keyFile } = await openKeyedStore({
    dataDir: options.dataDir,
    keyFile: options.keyFile,
    sealKey: options.sealKey,
    storageUrl: options.storageUrl,
    storageCaFile: options.storageCaFile,
    logger,
    trace: options.storeTrace,
  });
  // prom-client is loaded only when metrics are served: a server without them starts faster.
  const metrics = options.metricsListenAddress === undefined ? undefined : new (await import("./metrics.js")).LessorMetrics(opened);
  return { store: metrics ? metrics.timedStore(opened) : opened, keyring, keyFile, metrics };
}

interface Configuration {
  tokens: TokenAuthority;
  rootToken: string | undefined;
  mounts: MountTable;
  acl: Acl;
  policies: PolicyBook;
  audit: AuditBroker;
  quotas: RateLimiter;
  replica: ReplicaMembership | undefined;
  /** The configuration version read before the copies above were loaded. */
  configVersion: number;
}

/** Tokens, and the configuration every replica keeps a copy of: mounts, policies, audit devices, quotas. */
async function loadConfiguration(options: LessorServerOptions, storage: Storage, logger: Logger): Promise<Configuration> {
  const { store, metrics } = storage;
  const cluster = store.cluster;
  const tokens = new TokenAuthority(store, cluster === undefined);
  const rootToken = (await shouldCreateRoot(store, tokens)) ? await tokens.createRoot(Date.now(), options.devRootToken) : undefined;
  // Read before the copies below are loaded, so a change made meanwhile is reloaded, not missed.
  const configVersion = cluster ? await cluster.configVersion() : 0;
  const mounts = new MountTable(
    store.mounts,
    engineFactories(),
    { entries: store.entries, leases: leaseView(store), logger, telemetry: metrics ?? { externalError() {} } },
    cluster !== undefined,
  );
  await mounts.load();
  if (options.mountDefaultKv && !mounts.get("secret/")) {
    await mounts.enable("secret", "kv", "secret/", { description: "key/value secret storage" }, Date.now());
  }
  const acl = new Acl();
  const policies = new PolicyBook(store.policies, acl);
  await policies.load(Date.now());
  const audit = await AuditBroker.open(store.auditDevices, store.settings);
  const quotas = new RateLimiter(store.quotas);
  await quotas.load();
  const reload = async (): Promise<void> => {
    await mounts.load();
    await policies.reload();
    await quotas.load();
    await audit.reload();
  };
  const replica = cluster ? new ReplicaMembership(cluster, reload, logger, options.replicas) : undefined;
  return { tokens, rootToken, mounts, acl, policies, audit, quotas, replica, configVersion };
}

interface LeaseParts {
  manager: LeaseManager;
  events: LeaseEventFeed;
  expiry: ExpiryScheduler;
  jobs: RevocationJobs;
  listing: LeaseListing;
  tidy: LeaseTidy;
  keys: KeyRotator;
}

function leaseParts(options: LessorServerOptions, storage: Storage, config: Configuration, logger: Logger): LeaseParts {
  const { store, keyring, keyFile, metrics } = storage;
  const events = new LeaseEventFeed(store, options.events);
  const manager = new LeaseManager(store, config.mounts, logger, {
    retry: options.retry,
    intentTimeoutMs: options.intentTimeoutMs,
    revokeRate: options.revokeRate,
    observer: metrics,
  });
  const replica = config.replica;
  return {
    manager,
    events,
    expiry: new ExpiryScheduler(store, manager, logger, options.expiry),
    jobs: new RevocationJobs(store, manager, logger, options.prefixJobs),
    listing: new LeaseListing(store, keyring),
    tidy: new LeaseTidy(store, manager, { retentionMs: options.leaseRetentionMs }),
    keys: new KeyRotator(keyring, keyFile, store.sealed, logger, replica ? () => replica.others() : undefined),
  };
}

/** The built-in backends (sys/, auth/token/), the router, and the pipeline every request takes. */
function requestPipeline(options: LessorServerOptions, storage: Storage, config: Configuration, leases: LeaseParts, server: ServerInfo, logger: Logger): RequestPipeline {
  const { tokens, mounts, acl, policies, audit, quotas } = config;
  const manager = leases.manager;
  const tokenStore: TokenStoreParts = {
    create: async (caller, request, now) => {
      const made = await tokens.create({ accessor: caller.tokenAccessor, policies: caller.policies }, request, now);
      return { record: made.record, issued: issuedToken(made.token, made.record) };
    },
    lookupByToken: (token, now) => tokens.lookupByToken(token, now),
    lookupByAccessor: (accessor, now) => tokens.lookupByAccessor(accessor, now),
    lookupSelf: (caller) => tokens.lookupSelf(caller.tokenAccessor),
    renew: (record, increment, now) => tokens.renew(record, increment, now),
    revokeTree: (accessor, orphan) => tokens.revoke(accessor, manager, orphan),
  };
  mounts.installBuiltin(TOKEN_PATH, "token", () => tokenBackend(tokenStore), TOKEN_SPECIAL);
  mounts.installBuiltin(
    SYS_PATH,
    "system",
    () =>
      systemBackend({
        mounts,
        leases: manager,
        lifecycle: { listing: leases.listing, jobs: leases.jobs, tidy: leases.tidy, events: leases.events },
        policies,
        audit,
        quotas,
        keys: leases.keys,
        permissions: acl,
        server,
      }),
    SYS_SPECIAL,
  );
  const router = new Router(mounts, manager, tokens);
  const streams = new StreamGuard(tokens, options.streams);
  return new RequestPipeline({ tokens, acl, quotas, audit, router, leases: manager, streams, logger });
}

/** Everything that runs between requests, started in this order and stopped in reverse. */
function backgroundTasks(options: LessorServerOptions, storage: Storage, config: Configuration, leases: LeaseParts, logger: Logger): BackgroundTasks {
  const tasks = new BackgroundTasks(logger);
  const { manager, expiry, jobs, keys } = leases;
  const cluster = storage.store.cluster;
  const replica = config.replica;
  if (replica) tasks.add({ name: "replica membership", start: () => replica.start(config.configVersion) });
  tasks.add({ name: "key rotation", start: () => keys.start(), stop: () => keys.stop(), afterListening: true });
  tasks.add({
    name: "rollback of unfinished issuance",
    // One process on this store: every intent left over belongs to a process
    // that died. Replicas: those of replicas that died (another replica may be
    // issuing right now), and any older than the intent timeout.
    start: async () => {
      const rolledBack = cluster
        ? (await manager.rollbackOrphaned()) + (await manager.rollbackAbandoned(manager.intentTimeoutMs))
        : await manager.rollbackAbandoned(0);
      if (rolledBack > 0) logger.warn({ intents: rolledBack }, "rolled back issuance left unfinished by a previous run");
    },
    // Failed rollbacks waiting for their next try; the sweep or the next start takes them over.
    stop: () => manager.close(),
  });
  tasks.every("intent sweep", Math.max(1_000, Math.floor(manager.intentTimeoutMs / 2)), () => manager.rollbackAbandoned(manager.intentTimeoutMs));
  // A replica that dies mid-issuance is seen gone at once (its session ends):
  // the others roll back what it left within seconds, not the intent timeout.
  if (cluster) tasks.every("orphaned intent sweep", 2_000, () => manager.rollbackOrphaned());
  tasks.add({
    name: "expiry",
    start: () => {
      if (options.noExpire) logger.warn("expiry is paused (-no-expire): leases will not be revoked when they expire");
      // Paused expiry still runs the revocations already decided (queued, revoke-prefix, retries).
      expiry.start({ expireActive: !options.noExpire });
    },
    stop: () => expiry.stop(),
  });
  tasks.add({
    name: "revoke-prefix jobs",
    start: async () => {
      const resumed = await jobs.resume();
      if (resumed > 0) logger.info({ jobs: resumed }, "resumed revoke-prefix jobs left unfinished by a previous run");
    },
    stop: () => jobs.stop(),
  });
  // Expired and used-up tokens are revoked with their children and leases.
  tasks.every("token sweep", options.tokenSweepIntervalMs ?? 30_000, () => config.tokens.revokeDead(manager, Date.now()), { runAtStart: true });
  return tasks;
}

/** The gRPC server: every declared service through the pipeline, then health and reflection. */
async function serveGrpc(
  pipeline: RequestPipeline,
  listener: ReturnType<typeof listenerCredentials>,
  health: HealthReporter,
  logger: Logger,
  observer: RpcObserver | undefined,
) {
  const server = new LessorGrpcServer({
    ...grpcConnectionOptions(listener.limits),
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.keepalive_permit_without_calls": 1,
  });
  const binding = new GrpcBinding(pipeline, logger, observer);
  for (const service of API) {
    const bound = binding.bind(service);
    server.addService(bound.definition, bound.implementation);
  }
  // Health and reflection last: they describe the services added above. No token needed.
  health.addToServer(server);
  addReflection(server, server.serviceNames);
  const bound = await listenGuarded(server, listener.address, listener.tls, listener.limits, logger);
  return {
    server,
    health,
    address: `${listener.host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        bound.close();
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
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
