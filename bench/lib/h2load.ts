// h2load (Debian's nghttp2-client) as the load generator, in its own process:
// it speaks HTTP/2, so it is given gRPC frames to send (content-type
// application/grpc, te: trailers, the token, and a body file holding the
// 5-byte gRPC prefix and the encoded request).
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

/** Installs nghttp2-client with apt-get when h2load is missing. */
export function ensureH2load(): string {
  try {
    return execFileSync("h2load", ["--version"], { encoding: "utf8" }).trim().split("\n")[0] ?? "h2load";
  } catch {
    console.log("h2load is missing: installing Debian's nghttp2-client (apt-get)...");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "nghttp2-client"], { stdio: "inherit", env });
    return execFileSync("h2load", ["--version"], { encoding: "utf8" }).trim().split("\n")[0] ?? "h2load";
  }
}

/** A gRPC length-prefixed message (uncompressed). */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

export interface H2loadRun {
  /** Requests per second over the measured period. */
  rps: number;
  /** Length of the measured period, in seconds. */
  seconds: number;
  /** Requests answered (with any status). */
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  /** DATA bytes received per request: the gRPC response frame size, a check that the RPCs succeeded. */
  dataBytesPerRequest: number;
  raw: string;
}

export interface H2loadOptions {
  url: string;
  body: Uint8Array;
  bodyFile: string;
  token?: string;
  /** Timing-based: this long after a warm-up of warmupSeconds. */
  seconds?: number;
  warmupSeconds?: number;
  /** Count-based instead: exactly this many requests (none abandoned at the end), no warm-up. */
  requests?: number;
  clients: number;
  streams: number;
  /** CPU to pin h2load to (taskset), or undefined. */
  cpu?: number;
}

export async function runH2load(o: H2loadOptions): Promise<H2loadRun> {
  writeFileSync(o.bodyFile, grpcFrame(o.body));
  const args = [
    "-t", "1",
    "-c", String(o.clients),
    "-m", String(o.streams),
    ...(o.requests !== undefined ? ["-n", String(o.requests)] : ["-D", String(o.seconds), `--warm-up-time=${o.warmupSeconds}`]),
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    ...(o.token ? ["-H", `authorization: Bearer ${o.token}`] : []),
    "-d", o.bodyFile,
    o.url,
  ];
  const [cmd, argv] = o.cpu === undefined ? ["h2load", args] : ["taskset", ["-c", String(o.cpu), "h2load", ...args]];
  const raw = await new Promise<string>((resolve, reject) => {
    const proc = spawn(cmd as string, argv as string[], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (out += c.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`h2load exited ${code}:\n${out}`))));
  });
  const finished = /finished in ([\d.]+)(\w*), ([\d.]+) req\/s/.exec(raw);
  const rps = Number(finished?.[3]);
  const unit = finished?.[2] === "ms" ? 1e-3 : finished?.[2] === "us" ? 1e-6 : 1;
  const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(raw);
  const data = /traffic: .*?, .*? headers .*?, .*?\((\d+)\) data/.exec(raw);
  if (!req || !Number.isFinite(rps)) throw new Error(`could not read h2load's output:\n${raw}`);
  const done = Number(req[2]);
  return {
    rps,
    seconds: Number(finished?.[1]) * unit,
    done,
    succeeded: Number(req[3]),
    failed: Number(req[4]),
    errored: Number(req[5]),
    dataBytesPerRequest: data && done > 0 ? Number(data[1]) / done : 0,
    raw,
  };
}
