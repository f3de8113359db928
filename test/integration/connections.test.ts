// Idle and half-open connections cannot starve real clients (issue 14): with
// a modest cap, many sockets that connect and send nothing, or only part of
// the HTTP/2 preface, are closed within the handshake timeout (the oldest
// make room at the cap), while a real client is served throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { clientFor, startServer } from "../helpers/processes.js";
import { splitHostPort } from "../../src/server/listen.js";
import { waitFor } from "../helpers/wait.js";

test("sockets that never finish the handshake are closed in time, and a real client is served past them", async (t) => {
  const server = await startServer({ args: ["-max-connections=20", "-connection-handshake-timeout=1s"] });
  const client = clientFor(server);
  const sockets: Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    client.close();
    await server.stop();
  });
  const { host, port } = splitHostPort(server.address);
  const closed = new Set<Socket>();
  const open = (payload?: string) =>
    new Promise<void>((resolve) => {
      const s = connect(port, host, () => {
        if (payload !== undefined) s.write(payload);
        resolve();
      });
      s.on("error", () => undefined);
      s.on("close", () => closed.add(s));
      sockets.push(s);
    });
  // Three times the cap: silent sockets, and some that stop inside the preface.
  for (let i = 0; i < 45; i++) await open();
  for (let i = 0; i < 15; i++) await open("PRI * HTTP/2.0\r\n");

  // A real client connects and is served while they hang.
  assert.deepEqual((await client.tokens.lookupSelf()).policies, ["root"]);
  // Every one of them is closed by the server: made room for others at the cap, or past the 1 s handshake timeout.
  await waitFor("every idle or half-open socket to be closed by the server", () => closed.size === sockets.length, 5_000, 50);
  // The real client's connection was not among them.
  assert.deepEqual((await client.tokens.lookupSelf()).policies, ["root"]);
  assert.doesNotMatch(server.output(), /"level":50/, "no error was logged");
});
