// Long-lived streams (WatchLeases, RevokeLeasePrefix) are bounded and live
// no longer than the token that opened them: at most `maxPerToken` open per
// token and `maxTotal` per server (RESOURCE_EXHAUSTED past either), and a
// stream ends (UNAUTHENTICATED, saying why) when its token expires, or is
// revoked: at once when revoked here, within `tokenCheckIntervalMs` when
// revoked on another replica.
import { Code, LessorError } from "../errors.js";
import type { AuthenticatedToken } from "../auth/tokens.js";

/** The limits when not configured. */
export const DEFAULT_STREAM_LIMITS = { maxPerToken: 32, maxTotal: 1024, tokenCheckIntervalMs: 5_000 } as const;

export interface StreamLimits {
  /** Streams one token may hold open at once (default 32). */
  maxPerToken?: number;
  /** Streams open at once on this server (default 1024). */
  maxTotal?: number;
  /** How often an open stream's token is looked up again (default 5 s): revocations made elsewhere. */
  tokenCheckIntervalMs?: number;
}

/** What the guard needs of the token authority. */
export interface TokenLiveness {
  onRevoked(listener: (accessor: string) => void): () => void;
  isLive(accessor: string, now: number): Promise<boolean>;
}

/** One open stream: its signal ends it, `ended()` says why the guard ended it (if it did). */
export interface GuardedStream {
  signal: AbortSignal;
  ended(): LessorError | undefined;
  close(): void;
}

export class StreamGuard {
  private readonly maxPerToken: number;
  private readonly maxTotal: number;
  private readonly checkMs: number;
  private readonly perToken = new Map<string, number>();
  private total = 0;
  /** Streams by token accessor, to end at once when it is revoked here. */
  private readonly open = new Map<string, Set<(why: LessorError) => void>>();

  constructor(
    private readonly tokens: TokenLiveness,
    limits: StreamLimits = {},
  ) {
    this.maxPerToken = limits.maxPerToken ?? DEFAULT_STREAM_LIMITS.maxPerToken;
    this.maxTotal = limits.maxTotal ?? DEFAULT_STREAM_LIMITS.maxTotal;
    this.checkMs = limits.tokenCheckIntervalMs ?? DEFAULT_STREAM_LIMITS.tokenCheckIntervalMs;
    tokens.onRevoked((accessor) => {
      for (const end of [...(this.open.get(accessor) ?? [])]) end(LessorError.unauthenticated("the stream's token was revoked"));
    });
  }

  /** Opens a stream for `caller`, ending with `signal` (the caller went away) or with the token. */
  enter(caller: AuthenticatedToken, signal: AbortSignal): GuardedStream {
    const held = this.perToken.get(caller.accessor) ?? 0;
    if (held >= this.maxPerToken) throw exhausted(`this token already holds ${held} open streams (at most ${this.maxPerToken}); close one first`);
    if (this.total >= this.maxTotal) throw exhausted(`the server holds ${this.total} open streams (at most ${this.maxTotal}); try again later`);
    this.perToken.set(caller.accessor, held + 1);
    this.total++;

    const abort = new AbortController();
    let why: LessorError | undefined;
    const end = (reason: LessorError): void => {
      why ??= reason;
      abort.abort();
    };
    const onCallerGone = (): void => abort.abort();
    signal.addEventListener("abort", onCallerGone, { once: true });
    if (signal.aborted) abort.abort();
    const ends = this.open.get(caller.accessor) ?? new Set();
    ends.add(end);
    this.open.set(caller.accessor, ends);
    const expiry = caller.expireTime === null ? undefined : setTimeout(() => end(LessorError.unauthenticated("the stream's token has expired")), Math.max(0, caller.expireTime - Date.now()));
    expiry?.unref();
    const check = setInterval(() => {
      void this.tokens.isLive(caller.accessor, Date.now()).then(
        (live) => {
          if (!live) end(LessorError.unauthenticated("the stream's token was revoked or has expired"));
        },
        () => undefined, // the store is unreachable: the next check decides
      );
    }, this.checkMs);
    check.unref();

    let closed = false;
    return {
      signal: abort.signal,
      ended: () => why,
      close: () => {
        if (closed) return;
        closed = true;
        clearTimeout(expiry);
        clearInterval(check);
        signal.removeEventListener("abort", onCallerGone);
        ends.delete(end);
        if (ends.size === 0) this.open.delete(caller.accessor);
        const left = (this.perToken.get(caller.accessor) ?? 1) - 1;
        if (left > 0) this.perToken.set(caller.accessor, left);
        else this.perToken.delete(caller.accessor);
        this.total--;
      },
    };
  }
}

function exhausted(message: string): LessorError {
  return new LessorError(Code.RESOURCE_EXHAUSTED, message, { reason: "TOO_MANY_STREAMS" });
}
