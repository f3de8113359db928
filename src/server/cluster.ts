// Membership of a replica in a cluster sharing one store (PostgreSQL): a
// heartbeat so the others know it is alive, and a poll of the shared
// configuration version so this replica's in-memory copies (mounts,
// policies, quotas, audit devices) follow changes made on any replica.
// Everything that must be exact (leases, intents, tokens, claims) is read
// from the store on every call; only configuration, which changes rarely and
// is read on every request, is copied, and a change reaches the other
// replicas within one poll interval.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { ClusterStore } from "../store/types.js";

export interface ReplicaOptions {
  /** How often this replica says it is alive (default 5 s). */
  heartbeatMs?: number;
  /** A replica silent for this long is taken for dead (default 15 s). */
  timeoutMs?: number;
  /** How often the shared configuration version is read (default 1 s). */
  configPollMs?: number;
}

export class ReplicaMembership {
  readonly id = randomBytes(8).toString("hex");
  private readonly heartbeatMs: number;
  private readonly timeoutMs: number;
  private readonly configPollMs: number;
  private timers: NodeJS.Timeout[] = [];
  private seenVersion = 0;
  private reloading: Promise<void> | undefined;

  constructor(
    private readonly cluster: ClusterStore,
    private readonly reloadConfig: () => Promise<void>,
    private readonly logger: Logger,
    options: ReplicaOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.configPollMs = options.configPollMs ?? 1_000;
  }

  /** Joins: the first heartbeat, and the configuration version the caller has just loaded. */
  async start(loadedVersion: number): Promise<void> {
    this.seenVersion = loadedVersion;
    await this.cluster.heartbeat(this.id, Date.now());
    const beat = setInterval(() => {
      void this.cluster.heartbeat(this.id, Date.now()).catch((err: unknown) => this.logger.error({ err: String(err) }, "replica heartbeat failed"));
    }, this.heartbeatMs);
    const poll = setInterval(() => void this.pollConfig(), this.configPollMs);
    beat.unref();
    poll.unref();
    this.timers = [beat, poll];
  }

  /** The other replicas alive now. */
  async others(): Promise<string[]> {
    return this.cluster.otherLiveReplicas(this.id, Date.now() - this.timeoutMs);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.reloading;
    await this.cluster.leave(this.id).catch((err: unknown) => this.logger.warn({ err: String(err) }, "could not leave the replica table"));
  }

  private async pollConfig(): Promise<void> {
    if (this.reloading) return;
    this.reloading = (async () => {
      try {
        const version = await this.cluster.configVersion();
        if (version === this.seenVersion) return;
        await this.reloadConfig();
        this.seenVersion = version;
        this.logger.info({ config_version: version }, "configuration changed on another replica; reloaded");
      } catch (err) {
        this.logger.error({ err: String(err) }, "configuration reload failed; retrying at the next poll");
      }
    })();
    await this.reloading;
    this.reloading = undefined;
  }
}
