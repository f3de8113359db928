// Key rotation: a new key is written to the key file (before anything is
// sealed with it), new writes use it at once, and older values are
// re-encrypted in the background in small batches. An old key is dropped
// only on request, once no sealed value uses it.
import type { Logger } from "pino";
import { LessorError, describeError } from "../errors.js";
import type { Keyring } from "./encryption.js";
import type { SealedDataStore } from "./types.js";

const BATCH = 200;

export interface KeyStatus {
  keys: Array<{ id: number; active: boolean; sealedValues: number }>;
  reencrypting: boolean;
  keySource: string;
}

export class KeyRotator {
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly keyring: Keyring,
    /** The key file; undefined when the key came from LESSOR_SEAL_KEY. */
    private readonly keyFile: string | undefined,
    private readonly sealed: SealedDataStore,
    private readonly logger: Logger,
    /** The other replicas alive on a shared store (none for a store one process owns). */
    private readonly otherReplicas: () => Promise<string[]> = async () => [],
  ) {}

  /**
   * Resumes, in the background, re-encryption a previous run left unfinished.
   * Only when there is an older key to re-encrypt from: counting what each
   * key seals reads every row, which start-up must never wait for.
   */
  start(): void {
    if (this.keyring.keyIds().length > 1) this.reencrypt();
  }

  async rotate(): Promise<number> {
    if (this.keyFile === undefined) {
      throw LessorError.failedPrecondition(
        "the encryption key came from LESSOR_SEAL_KEY, which the server cannot rewrite; start the server with a key file (-key-file) to rotate keys",
        "KEY_NOT_ROTATABLE",
      );
    }
    // A replica without the new key could not open what this one seals with it.
    const others = await this.otherReplicas();
    if (others.length > 0) {
      throw LessorError.failedPrecondition(
        `${others.length} other replica(s) share this store and would not have the new key; stop them, rotate on one replica, copy its key file to the others, then start them again`,
        "KEY_ROTATION_NEEDS_ONE_REPLICA",
        { replicas: String(others.length) },
      );
    }
    const id = this.keyring.rotate(this.keyFile);
    this.logger.info({ key_id: id }, "encryption key rotated; re-encrypting older values in the background");
    this.reencrypt();
    return id;
  }

  async status(): Promise<KeyStatus> {
    const usage = await this.sealed.usage();
    return {
      keys: this.keyring.keyIds().map((id) => ({ id, active: id === this.keyring.activeId, sealedValues: usage.byKey[id] ?? 0 })),
      reencrypting: this.running !== undefined,
      keySource: this.keyFile ?? "LESSOR_SEAL_KEY",
    };
  }

  /** Drops every old key no value uses; returns their ids. */
  async prune(): Promise<number[]> {
    if (this.keyFile === undefined) return [];
    const usage = await this.sealed.usage();
    const unused = this.keyring.keyIds().filter((id) => id !== this.keyring.activeId && (usage.byKey[id] ?? 0) === 0);
    if (unused.length > 0) {
      this.keyring.drop(unused, this.keyFile);
      this.logger.info({ key_ids: unused }, "dropped encryption keys no value uses");
    }
    return unused;
  }

  /** Waits for background re-encryption (tests, shutdown). */
  async idle(): Promise<void> {
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private reencrypt(): void {
    if (this.running) return;
    this.running = (async () => {
      let total = 0;
      try {
        for (;;) {
          if (this.stopped) return;
          const n = await this.sealed.resealBatch(BATCH);
          total += n;
          if (n === 0) break;
          // Let requests in between batches.
          await new Promise((r) => setTimeout(r, 5));
        }
        this.logger.info({ values: total, key_id: this.keyring.activeId }, "re-encryption with the active key finished");
      } catch (err) {
        this.logger.error({ err: describeError(err), values: total }, "re-encryption stopped; it resumes at the next start or rotation");
      }
    })().finally(() => {
      this.running = undefined;
    });
  }
}
