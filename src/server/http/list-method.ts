// Vault's clients send `LIST`, a method Node's HTTP/1.1 parser does not know:
// it answers 400 and closes the connection before any handler runs, and its
// method table is fixed. So the bytes of each connection pass through this
// rewriter first, which renames a request's `LIST` to `LOCK` (a method the
// parser knows, of the same length, so nothing else moves); the HTTP layer
// reads `LOCK` as `LIST`. It must find where each request starts, so it
// follows HTTP/1.1's message framing (RFC 9112, section 6): the head up to
// its empty line, then a Content-Length body or a chunked one. It only
// frames; Node's parser still checks every byte. Whatever it cannot frame
// for certain (an upgrade, a malformed length, a head too long) ends the
// rewriting for that connection: later bytes pass unchanged, and a later
// `LIST` on it gets the parser's 400, never a rewrite in the wrong place.

/** What `LIST` becomes on the wire to Node's parser. */
export const LIST_STAND_IN = "LOCK";

const LIST = Buffer.from("LIST ", "latin1");
const STAND_IN = Buffer.from(`${LIST_STAND_IN} `, "latin1");
/** Longer heads are refused by Node's parser (16 KiB by default) long before this. */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4 * 1024;
const CR = 13;
const LF = 10;

type State =
  /** Before a request line (empty lines allowed). */
  | "start"
  /** In the request line and headers. */
  | "head"
  /** In a Content-Length body: `remaining` bytes to go. */
  | "body"
  /** In a chunk-size line. */
  | "chunk-size"
  /** In a chunk's data (`remaining` bytes), then its CRLF. */
  | "chunk-data"
  | "chunk-end"
  /** In the trailer section after the last chunk. */
  | "trailers"
  /** Framing lost: everything passes unchanged. */
  | "passthrough";

export class ListMethodRewriter {
  private state: State = "start";
  /** Bytes of the current head or line, kept until it ends. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  /** The head's last bytes so far: its empty line may straddle chunks. */
  private headTail: Buffer = Buffer.alloc(0);
  private remaining = 0;
  /** Bytes held back at a request start until it is known whether they begin "LIST ". */
  private held: Buffer = Buffer.alloc(0);

  /** The bytes to hand on for `chunk` (some may be held back until the next chunk). */
  rewrite(chunk: Buffer): Buffer {
    if (this.state === "passthrough") return chunk;
    const input = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    const out: Buffer[] = [];
    let from = 0;
    let i = 0;
    while (i < input.length && !this.stopped) {
      if (this.state === "start") {
        const byte = input[i] as number;
        if (byte === CR || byte === LF) {
          i++;
          continue;
        }
        const available = input.length - i;
        if (available < LIST.length && LIST.subarray(0, available).equals(input.subarray(i))) {
          // Perhaps "LIST ", perhaps not: decide when more arrives.
          out.push(input.subarray(from, i));
          this.held = Buffer.from(input.subarray(i));
          return Buffer.concat(out);
        }
        if (available >= LIST.length && input.subarray(i, i + LIST.length).equals(LIST)) {
          out.push(input.subarray(from, i), STAND_IN);
          this.startHead(STAND_IN);
          i += LIST.length;
          from = i;
          continue;
        }
        this.startHead(Buffer.alloc(0));
        continue;
      }
      i = this.step(input, i);
    }
    out.push(input.subarray(from));
    return Buffer.concat(out);
  }

  /** Bytes still held back when the connection's input ends. */
  end(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }

  /** Whether rewriting has stopped for this connection (framing was lost). */
  get stopped(): boolean {
    return this.state === "passthrough";
  }

  private startHead(first: Buffer): void {
    this.state = "head";
    this.line = first.length > 0 ? [first] : [];
    this.lineBytes = first.length;
    this.headTail = Buffer.alloc(0);
  }

  /** Advances through one state from `i`; returns where it stopped. */
  private step(input: Buffer, i: number): number {
    switch (this.state) {
      case "head":
        return this.readHead(input, i);
      case "body": {
        const take = Math.min(this.remaining, input.length - i);
        this.remaining -= take;
        if (this.remaining === 0) this.state = "start";
        return i + take;
      }
      case "chunk-size":
      case "chunk-end":
      case "trailers":
        return this.readLine(input, i);
      case "chunk-data": {
        const take = Math.min(this.remaining, input.length - i);
        this.remaining -= take;
        if (this.remaining === 0) this.state = "chunk-end";
        return i + take;
      }
      default:
        return input.length;
    }
  }

  /** Collects the head up to its empty line, then decides how the body is framed. */
  private readHead(input: Buffer, i: number): number {
    const rest = input.subarray(i);
    const window = Buffer.concat([this.headTail, rest]);
    const end = headEnd(window);
    if (end === -1) {
      this.line.push(Buffer.from(rest));
      this.lineBytes += rest.length;
      this.headTail = Buffer.from(window.subarray(Math.max(0, window.length - 3)));
      if (this.lineBytes > MAX_HEAD_BYTES) this.state = "passthrough";
      return input.length;
    }
    const consumed = end - this.headTail.length;
    this.line.push(Buffer.from(rest.subarray(0, consumed)));
    const head = Buffer.concat(this.line).toString("latin1");
    this.line = [];
    this.lineBytes = 0;
    this.headTail = Buffer.alloc(0);
    this.frame(head);
    return i + consumed;
  }

  /** Reads one line of a chunked body (a chunk size, the CRLF after data, a trailer). */
  private readLine(input: Buffer, i: number): number {
    const lf = input.indexOf(LF, i);
    if (lf === -1) {
      this.line.push(Buffer.from(input.subarray(i)));
      this.lineBytes += input.length - i;
      if (this.lineBytes > MAX_LINE_BYTES) this.state = "passthrough";
      return input.length;
    }
    this.line.push(input.subarray(i, lf));
    const text = Buffer.concat(this.line).toString("latin1").replace(/\r$/, "");
    this.line = [];
    this.lineBytes = 0;
    if (this.state === "chunk-end") {
      this.state = text === "" ? "chunk-size" : "passthrough";
    } else if (this.state === "trailers") {
      if (text === "") this.state = "start";
    } else {
      const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(text);
      if (!size) this.state = "passthrough";
      else {
        this.remaining = Number.parseInt(size[1] as string, 16);
        this.state = this.remaining === 0 ? "trailers" : "chunk-data";
      }
    }
    return lf + 1;
  }

  /** How the body after `head` is framed: chunked, a length, or none; anything else stops rewriting. */
  private frame(head: string): void {
    const lines = head.split(/\r?\n/);
    const method = (lines[0] ?? "").split(" ")[0] ?? "";
    const lengths: string[] = [];
    const codings: string[] = [];
    let upgrade = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") lengths.push(...value.split(",").map((v) => v.trim()));
      else if (name === "transfer-encoding") codings.push(...value.split(",").map((v) => v.trim().toLowerCase()));
      else if (name === "upgrade") upgrade = true;
    }
    if (method === "CONNECT" || upgrade) {
      this.state = "passthrough";
      return;
    }
    if (codings.length > 0) {
      this.state = codings[codings.length - 1] === "chunked" && lengths.length === 0 ? "chunk-size" : "passthrough";
      return;
    }
    if (lengths.length === 0) {
      this.state = "start";
      return;
    }
    const first = lengths[0] as string;
    if (!/^\d{1,15}$/.test(first) || lengths.some((l) => l !== first)) {
      this.state = "passthrough";
      return;
    }
    this.remaining = Number(first);
    this.state = this.remaining === 0 ? "start" : "body";
  }
}

/** Where the head's empty line ends in `bytes` (after "\r\n\r\n" or "\n\n"), or -1. */
function headEnd(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== LF) continue;
    if (bytes[i + 1] === LF) return i + 2;
    if (bytes[i + 1] === CR && bytes[i + 2] === LF) return i + 3;
  }
  return -1;
}
