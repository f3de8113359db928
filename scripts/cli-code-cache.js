#!/usr/bin/env node
// Makes the CLI bundle's code cache (dist/cli/cli.js.cache): runs
// `lessor read secret/code-cache` from the bundle once, against a stand-in
// server on a loopback port that answers that one call, so the code a short
// command runs (yargs, the client, grpc-js, the output) is compiled, then
// keeps V8's compiled code (src/cli/bundle-loader.cts). Run by
// scripts/bundle-cli.js, in a process of its own with Node's default flags.
// No token or secret is involved: the stand-in answers with made-up fields.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http2";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ReadResponse } from "@lessor/client/gen/lessor/v1/secrets.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cache = join(root, "dist", "cli", "cli.js.cache");

/** One gRPC answer: a length-prefixed message, then the status in trailers. */
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const message = ReadResponse.encode({ data: { user: "code-cache", url: "postgres://db:5432/app" }, warnings: [], refreshIntervalSeconds: 3600 }).finish();
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    res.writeHead(200, { "content-type": "application/grpc" });
    res.addTrailers({ "grpc-status": "0" });
    res.end(frame);
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
const address = server.address();
if (address === null || typeof address === "string") throw new Error("the stand-in server has no port");

// A home of its own, so no saved token or setting of the user's is read.
const home = mkdtempSync(join(tmpdir(), "lessor-code-cache-"));
try {
  process.env.HOME = home;
  process.env.LESSOR_ADDR = `127.0.0.1:${address.port}`;
  process.env.LESSOR_TOKEN = "code-cache";
  process.argv = [process.argv[0], join(root, "bin", "lessor.js"), "read", "secret/code-cache"];
  const { runBundle } = await import("../dist/src/cli/bundle-loader.cjs");
  await runBundle({ makeCache: true });
} finally {
  server.close();
  rmSync(home, { recursive: true, force: true });
}
if (process.exitCode !== undefined && process.exitCode !== 0) throw new Error(`lessor read failed (exit ${process.exitCode})`);
if (!existsSync(cache)) console.error("no code cache made (this Node has no zlib.crc32): the CLI compiles its bundle at every start");
