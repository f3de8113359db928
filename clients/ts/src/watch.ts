// WatchLeases as an async iterator that survives reconnects:
//
//   for await (const event of watchLeases(client, { prefix: "aws/creds/" })) { ... }
//
// When the stream breaks with UNAVAILABLE (server restart or shutdown, network
// loss), it reconnects and resumes after the last sequence it delivered, so
// no event is lost or repeated. The new stream waits for the server
// (wait-for-ready) while the channel retries the connection at most a second
// apart (CHANNEL_OPTIONS), so it resumes about a second after the server is
// back however long it was away. Before the first event it resumes
// after the sequence the server said the stream started at (the
// `lessor-after-sequence` response header; 0 there means the server had no
// event yet, and the reconnect asks for `from_oldest`). Any other error ends the iteration
// with a LessorClientError. Breaking out of the loop, or aborting `signal`,
// cancels the stream.
import { status as Code, type ClientReadableStream, type Metadata } from "@grpc/grpc-js";
import type { LessorClient } from "./client.js";
import { LessorClientError } from "./errors.js";
import type { LeaseEvent, WatchLeasesResponse } from "./gen/lessor/v1/leases.js";

export const AFTER_SEQUENCE_HEADER = "lessor-after-sequence";

export interface WatchLeasesOptions {
  /** Lease id prefix, e.g. "aws/creds/deploy/"; empty (default) watches every lease. */
  prefix?: string;
  /** Deliver events after this sequence number; 0 (default): only events from now on. */
  afterSequence?: number;
  /** Deliver every event the server still keeps, oldest first (instead of `afterSequence`). */
  fromOldest?: boolean;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal;
  /**
   * Pause before reopening a stream that broke (default 100 ms); doubles, with
   * jitter, while the server keeps ending streams at once, up to
   * `maxReconnectDelayMs` (default 5 s). Waiting for an unreachable server
   * is the channel's: the reopened stream waits until it connects.
   */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /**
   * Told each time a stream is open (first connect and every reconnect), with
   * the sequence it resumes after: every event after it will be delivered.
   */
  onStart?: (info: { afterSequence: number }) => void;
  /** Told each time the stream broke and is about to be reopened. */
  onReconnect?: (info: { error: LessorClientError; afterSequence: number; attempt: number }) => void;
}

const METHOD = "LeaseService/WatchLeases";

export async function* watchLeases(client: LessorClient, options: WatchLeasesOptions = {}): AsyncGenerator<LeaseEvent, void, undefined> {
  const prefix = options.prefix ?? "";
  const firstDelay = options.reconnectDelayMs ?? 100;
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;
  let cursor = options.afterSequence ?? 0;
  // Where to resume when nothing was delivered yet and the server had no event at all when the watch began.
  let fromOldest = options.fromOldest ?? false;
  let attempt = 0;
  while (!options.signal?.aborted) {
    const l = client.raw.leases;
    const metadata = client.metadata();
    metadata.setOptions({ waitForReady: true });
    const stream: ClientReadableStream<WatchLeasesResponse> = l.watchLeases({ prefix, afterSequence: fromOldest ? 0 : cursor, fromOldest }, metadata);
    const cancel = (): void => stream.cancel();
    options.signal?.addEventListener("abort", cancel);
    stream.on("metadata", (headers: Metadata) => {
      attempt = 0;
      const start = Number(headers.get(AFTER_SEQUENCE_HEADER)[0]);
      if (!fromOldest && cursor === 0 && Number.isSafeInteger(start)) {
        // 0: the server had no event yet, so everything it will have is new to us.
        if (start === 0) fromOldest = true;
        else cursor = start;
      }
      options.onStart?.({ afterSequence: cursor });
    });
    let failure: LessorClientError | undefined;
    try {
      for await (const message of stream as AsyncIterable<WatchLeasesResponse>) {
        const event = message.event;
        if (!event) continue;
        attempt = 0;
        cursor = event.sequence;
        fromOldest = false;
        yield event;
      }
    } catch (err) {
      failure = LessorClientError.from(err, METHOD);
    } finally {
      options.signal?.removeEventListener("abort", cancel);
      // Cancelling a stream that is still open makes it emit CANCELLED: nobody needs that error.
      stream.on("error", () => undefined);
      stream.cancel();
    }
    if (options.signal?.aborted) return;
    // A clean end means the server let go (it never ends a watch otherwise): reconnect as for UNAVAILABLE.
    if (failure && failure.code !== Code.UNAVAILABLE) throw failure;
    attempt++;
    const error = failure ?? new LessorClientError(Code.UNAVAILABLE, "the server ended the watch", METHOD);
    options.onReconnect?.({ error, afterSequence: cursor, attempt });
    const delay = Math.min(maxDelay, firstDelay * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    await sleep(delay, options.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done);
  });
}
