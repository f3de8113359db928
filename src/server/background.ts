// The server's background work in one registry: started in the order added,
// stopped in reverse, so what depends on another part stops before it. A
// periodic task never overlaps itself and logs its failures; nothing here
// keeps the process alive on its own.
import type { Logger } from "pino";
import { describeError } from "../errors.js";

export interface BackgroundTask {
  name: string;
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
  /**
   * Maintenance that may read much (re-encryption, sweeps): started only once
   * the server listens, so start-up never waits on it.
   */
  afterListening?: boolean;
}

export class BackgroundTasks {
  private readonly tasks: BackgroundTask[] = [];
  private readonly started: BackgroundTask[] = [];

  constructor(private readonly logger: Logger) {}

  add(task: BackgroundTask): void {
    this.tasks.push(task);
  }

  /** A task that runs `work` every `intervalMs` (and once at its start when `runAtStart`), once the server listens. */
  every(name: string, intervalMs: number, work: () => Promise<unknown>, options: { runAtStart?: boolean } = {}): void {
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> | undefined;
    const tick = (): void => {
      if (running) return;
      running = work()
        .catch((err: unknown) => this.logger.error({ task: name, err: describeError(err) }, `${name} failed; it runs again in ${intervalMs} ms`))
        .finally(() => (running = undefined));
    };
    this.add({
      name,
      start: () => {
        if (options.runAtStart) tick();
        timer = setInterval(tick, intervalMs);
        timer.unref();
      },
      stop: async () => {
        clearInterval(timer);
        await running;
      },
      afterListening: true,
    });
  }

  /** Starts, in order, the tasks start-up needs before the server listens. */
  async start(): Promise<void> {
    await this.startWhere((task) => !task.afterListening);
  }

  /** Starts, in order, the maintenance that waits until the server listens. */
  async startAfterListening(): Promise<void> {
    await this.startWhere((task) => task.afterListening === true);
  }

  private async startWhere(chosen: (task: BackgroundTask) => boolean): Promise<void> {
    for (const task of this.tasks) {
      if (!chosen(task)) continue;
      await task.start?.();
      this.started.push(task);
    }
  }

  /** Stops what was started, last first. */
  async stop(): Promise<void> {
    for (;;) {
      const task = this.started.pop();
      if (!task) return;
      try {
        await task.stop?.();
      } catch (err) {
        this.logger.error({ task: task.name, err: describeError(err) }, "stopping a background task failed");
      }
    }
  }
}
