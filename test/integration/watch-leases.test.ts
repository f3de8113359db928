// WatchLeases: every event type, filtered by prefix, resumable after a
// disconnect without losing or repeating events, and the client's iterator
// reconnecting by itself across a server restart. The server runs in this
// process (startLessor, the same assembly `lessor server` runs) so the test
// can give it a fast revocation retry policy for the irrevocable event.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import pino from "pino";
import { LeaseEventType, LessorClient, watchLeases, type LeaseEvent } from "@lessor/client";
import { startLessor, type LessorServer } from "../../src/server/app.js";
import { tempDir } from "../helpers/processes.js";
import { storeOptions } from "../helpers/store.js";
import { EC2_POLICY, startAwsEmulator, type AwsEmulator } from "../helpers/aws.js";
import { waitFor } from "../helpers/wait.js";

interface Setup {
  emulator: AwsEmulator;
  server: LessorServer;
  client: LessorClient;
  token: string;
  dataDir: string;
}

async function start(dataDir: string, listenAddress = "127.0.0.1:0"): Promise<LessorServer> {
  return startLessor({
    dataDir,
    ...(await storeOptions(dataDir)),
    listenAddress,
    logger: pino({ level: "silent" }),
    retry: { baseMs: 50, capMs: 100, maxAttempts: 2 },
  });
}

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<Setup> {
  const emulator = await startAwsEmulator({ port: 0 });
  const dataDir = tempDir("watch");
  const server = await start(dataDir);
  const token = server.rootToken as string;
  const client = new LessorClient({ address: server.address, token });
  const s: Setup = { emulator, server, client, token, dataDir };
  t.after(async () => {
    s.client.close();
    await s.server.stop();
    await emulator.close();
  });
  const root = {
    access_key: emulator.rootAccessKeyId,
    secret_key: emulator.rootSecretAccessKey,
    region: "us-east-1",
    iam_endpoint: emulator.endpoint,
    sts_endpoint: emulator.endpoint,
  };
  await client.mounts.enable("aws");
  await client.write("aws/config/root", root);
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  await client.write("aws/roles/other", { policy_document: EC2_POLICY });
  await client.mounts.enable("aws", { path: "short", defaultLeaseTtlSeconds: 1, maxLeaseTtlSeconds: 1 });
  await client.write("short/config/root", root);
  await client.write("short/roles/deploy", { policy_document: EC2_POLICY });
  return s;
}

/** Collects a watch in the background until stopped; `ready` resolves once the stream is open. */
function collect(
  client: LessorClient,
  prefix: string,
  options: { reconnectDelayMs?: number } = {},
): { events: LeaseEvent[]; stop: () => void; ready: Promise<void>; reconnects: () => number; starts: () => number } {
  const events: LeaseEvent[] = [];
  const abort = new AbortController();
  let reconnects = 0;
  let starts = 0;
  let opened!: () => void;
  const ready = new Promise<void>((resolve) => (opened = resolve));
  void (async () => {
    for await (const e of watchLeases(client, {
      prefix,
      signal: abort.signal,
      reconnectDelayMs: options.reconnectDelayMs,
      onStart: () => {
        starts++;
        opened();
      },
      onReconnect: () => reconnects++,
    })) {
      events.push(e);
    }
  })();
  return { events, stop: () => abort.abort(), ready, reconnects: () => reconnects, starts: () => starts };
}

const T = LeaseEventType;

test("created, renewed, revoked, expired and irrevocable events arrive in order, filtered by prefix", async (t) => {
  const { client, emulator } = await setup(t);
  const deploy = collect(client, "aws/creds/deploy/");
  const everything = collect(client, "");
  await Promise.all([deploy.ready, everything.ready]);

  const a = await client.aws.creds("deploy");
  await client.aws.creds("other");
  const renewed = await client.leases.renew(a.lease.id, 120);
  await client.leases.revoke(a.lease.id);
  const short = await client.aws.creds("deploy", { mount: "short" });
  await waitFor("the short lease to expire", () =>
    everything.events.some((e) => e.leaseId === short.lease.id && e.type === T.LEASE_EVENT_TYPE_EXPIRED),
  );
  const b = await client.aws.creds("deploy");
  emulator.addFault({ action: "DeleteUser", code: "ServiceFailure", status: 500 });
  await assert.rejects(client.leases.revoke(b.lease.id));

  await waitFor("b to become irrevocable", () =>
    everything.events.some((e) => e.leaseId === b.lease.id && e.type === T.LEASE_EVENT_TYPE_IRREVOCABLE),
  );
  await waitFor("the deploy watcher to see b irrevocable", () => deploy.events.some((e) => e.type === T.LEASE_EVENT_TYPE_IRREVOCABLE));
  deploy.stop();
  everything.stop();

  assert.deepEqual(
    deploy.events.map((e) => [e.type, e.leaseId]),
    [
      [T.LEASE_EVENT_TYPE_CREATED, a.lease.id],
      [T.LEASE_EVENT_TYPE_RENEWED, a.lease.id],
      [T.LEASE_EVENT_TYPE_REVOKED, a.lease.id],
      [T.LEASE_EVENT_TYPE_CREATED, b.lease.id],
      [T.LEASE_EVENT_TYPE_IRREVOCABLE, b.lease.id],
    ],
  );
  const irrevocable = deploy.events[4] as LeaseEvent;
  assert.match(irrevocable.detail, /ServiceFailure|AWS/);
  const created = deploy.events[0] as LeaseEvent;
  assert.ok(created.time instanceof Date && created.expireTime instanceof Date);
  assert.equal((deploy.events[1] as LeaseEvent).expireTime?.getTime(), renewed.lease?.expireTime?.getTime(), "renewed carries the new expiry");

  // The unfiltered watch saw the same events plus the others, in sequence order.
  const sequences = everything.events.map((e) => e.sequence);
  assert.deepEqual(sequences, [...sequences].sort((x, y) => x - y));
  assert.equal(new Set(sequences).size, sequences.length);
  assert.ok(everything.events.some((e) => e.leaseId.startsWith("aws/creds/other/")));
  assert.ok(everything.events.some((e) => e.leaseId === short.lease.id && e.type === T.LEASE_EVENT_TYPE_CREATED));
  assert.ok(!deploy.events.some((e) => !e.leaseId.startsWith("aws/creds/deploy/")));
});

const key = (e: LeaseEvent): [number, LeaseEventType, string] => [e.sequence, e.type, e.leaseId];

test("resume: watch, disconnect, events while away, reconnect with the last sequence: exactly the missed ones, in order", async (t) => {
  const { client } = await setup(t);
  const reference = collect(client, "aws/");
  await reference.ready;

  // Watch until the first event, then disconnect.
  let opened!: () => void;
  const started = new Promise<void>((resolve) => (opened = resolve));
  const watch = watchLeases(client, { prefix: "aws/", onStart: () => opened() });
  const firstEvent = watch.next();
  await started;
  const a = await client.aws.creds("deploy");
  const first = await firstEvent;
  assert.ok(!first.done);
  assert.equal(first.value.leaseId, a.lease.id);
  await watch.return(undefined);
  const last = first.value.sequence;

  // While disconnected.
  const b = await client.aws.creds("deploy");
  await client.leases.renew(a.lease.id, 300);
  await client.leases.revoke(b.lease.id);
  const c = await client.aws.creds("other");
  await waitFor("the reference watcher to see all five events", () => reference.events.length >= 5);

  // Reconnect after the last sequence seen.
  const resumed: LeaseEvent[] = [];
  for await (const e of watchLeases(client, { prefix: "aws/", afterSequence: last })) {
    resumed.push(e);
    if (resumed.length === 4) break;
  }
  reference.stop();
  assert.deepEqual(
    resumed.map((e) => [e.type, e.leaseId]),
    [
      [T.LEASE_EVENT_TYPE_CREATED, b.lease.id],
      [T.LEASE_EVENT_TYPE_RENEWED, a.lease.id],
      [T.LEASE_EVENT_TYPE_REVOKED, b.lease.id],
      [T.LEASE_EVENT_TYPE_CREATED, c.lease.id],
    ],
  );
  assert.equal(reference.events.length, 5, "nothing else happened");
  assert.deepEqual(resumed.map(key), reference.events.slice(1).map(key), "exactly the events after the last one seen");
  assert.deepEqual(key(reference.events[0] as LeaseEvent), key(first.value));
});

test("the iterator reconnects by itself across a server restart and resumes without a gap", async (t) => {
  const s = await setup(t);
  const all = collect(s.client, "aws/", { reconnectDelayMs: 4_000 });
  // Opened before any "other" event exists: it has seen nothing when the server goes away.
  const others = collect(s.client, "aws/creds/other/", { reconnectDelayMs: 4_000 });
  await Promise.all([all.ready, others.ready]);
  const x = await s.client.aws.creds("deploy");
  await waitFor("the created event", () => all.events.length === 1);

  await s.server.stop();
  await waitFor("both watchers to notice the server went away", () => all.reconnects() >= 1 && others.reconnects() >= 1);
  s.server = await start(s.dataDir, s.server.address);
  // Events while the watchers wait to reconnect (the first retry waits 2-4 s).
  const fresh = new LessorClient({ address: s.server.address, token: s.token });
  t.after(() => fresh.close());
  const y = await fresh.aws.creds("other");
  await fresh.leases.revoke(x.lease.id);

  await waitFor("the watchers to catch up", () => all.events.length >= 3 && others.events.length >= 1, 30_000);
  all.stop();
  others.stop();
  assert.deepEqual(
    all.events.map((e) => [e.type, e.leaseId]),
    [
      [T.LEASE_EVENT_TYPE_CREATED, x.lease.id],
      [T.LEASE_EVENT_TYPE_CREATED, y.lease.id],
      [T.LEASE_EVENT_TYPE_REVOKED, x.lease.id],
    ],
  );
  // The watcher that had seen nothing resumed from where its stream started, not from "now".
  assert.deepEqual(others.events.map((e) => [e.type, e.leaseId]), [[T.LEASE_EVENT_TYPE_CREATED, y.lease.id]]);
});

test("while the server is away the client tries to reconnect at least every second or so, and the watch resumes once it is back", async (t) => {
  const dataDir = tempDir("watch");
  let server = await start(dataDir);
  const client = new LessorClient({ address: server.address, token: server.rootToken });
  t.after(async () => {
    client.close();
    await server.stop();
  });
  const watch = collect(client, "");
  await watch.ready;

  // Away: a listener on the server's port that drops every connection, so each attempt is seen.
  const [host, port] = [server.address.slice(0, server.address.lastIndexOf(":")), Number(server.address.slice(server.address.lastIndexOf(":") + 1))];
  await server.stop();
  const attempts: number[] = [];
  const away = createServer((socket) => {
    attempts.push(Date.now());
    socket.destroy();
  });
  await new Promise<void>((resolve) => away.listen(port, host, resolve));
  await waitFor("the first reconnection attempt", () => attempts.length > 0);
  // grpc-js' default backoff (1 s, x1.6, 20% jitter) has a gap over 2 s within 7 s of the first attempt; 1 s bounded, none does.
  await new Promise((r) => setTimeout(r, 7_000));
  await new Promise<void>((resolve) => away.close(() => resolve()));
  const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] as number));
  assert.ok(gaps.length >= 4, `attempts while away: ${gaps.length + 1}`);
  assert.ok(Math.max(...gaps) < 2_000, `gaps between attempts (ms): ${gaps.join(", ")}`);

  server = await start(dataDir, `${host}:${port}`);
  await waitFor("the watch to resume on the restarted server", () => watch.starts() === 2);
  assert.equal(watch.reconnects(), 1, "one break (the stop); the reopened stream waited for the server");
  watch.stop();
});
