// Start-up must not grow with the number of leases, events or tokens: every
// statement the server runs before it listens is looked at with SQLite's own
// query planner, and none may scan a table that grows with use (it may use
// an index to find rows, or read the small configuration tables). A
// structural check, not a timing: it holds on any machine. SQLite pass only
// (the statements are SQLite's; PostgreSQL's start-up runs the same store
// operations, whose indexes the conformance suite exercises).
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import pino from "pino";
import { LessorClient } from "@lessor/client";
import { startLessor } from "../../src/server/app.js";
import { registerTestLeaseEngine, TEST_LEASE_ENGINE } from "../helpers/lease-engine.js";
import { tempDir } from "../helpers/processes.js";
import { sqliteOnly } from "../helpers/store.js";

registerTestLeaseEngine();

/** Tables that grow with use: leases, their events, tokens, issuance intents, engine entries (kv values). */
const GROWING = ["leases", "lease_events", "tokens", "intents", "engine_entries"];

test("nothing start-up runs before it listens scans a table that grows with leases, events or tokens", { skip: sqliteOnly("SQLite's query planner reads the statements") }, async () => {
  const dataDir = tempDir("startup");
  const logger = pino({ level: "silent" });
  // A store with some of everything: leases (with events), tokens, kv values, a second key.
  const first = await startLessor({ dataDir, listenAddress: "127.0.0.1:0", mountDefaultKv: true, logger });
  const client = new LessorClient({ address: first.address, token: first.rootToken });
  await client.mounts.enable(TEST_LEASE_ENGINE, { path: "lease" });
  for (let i = 0; i < 20; i++) await client.read(`lease/creds/r${i}`);
  for (let i = 0; i < 5; i++) await client.tokens.create({ ttlSeconds: 600 });
  await client.write("secret/app", { v: "1" });
  await client.sys.rotateKey();
  client.close();
  await first.stop();

  // What runs until the server says it listens (its "lessor listening" log line) is start-up.
  const statements: string[] = [];
  let listening = false;
  const logLines = { write: (line: string) => void (listening ||= line.includes('"msg":"lessor listening"')) };
  const server = await startLessor({
    dataDir,
    listenAddress: "127.0.0.1:0",
    logger: pino({ level: "info" }, logLines),
    storeTrace: (sql) => {
      if (!listening) statements.push(sql);
    },
  });
  assert.ok(listening, "the server said it listens");
  await server.stop();

  const db = new Database(join(dataDir, "lessor.db"), { readonly: true });
  try {
    const scans: string[] = [];
    for (const sql of new Set(statements)) {
      if (!/^\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b/i.test(sql)) continue;
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>;
      for (const { detail } of plan) {
        const scan = /^SCAN (\w+)( USING (COVERING )?INDEX)?/.exec(detail);
        if (!scan || !GROWING.includes(scan[1] as string)) continue;
        // Walking an index under a LIMIT stops at the limit (SELECT 1 ... LIMIT 1); a table scan never does.
        if (scan[2] !== undefined && /\bLIMIT\b/i.test(sql)) continue;
        scans.push(`${detail}: ${sql.slice(0, 160)}`);
      }
    }
    assert.ok(statements.length > 10, `the trace saw start-up's statements (${statements.length})`);
    assert.deepEqual(scans, [], "statements run before listening that scan a growing table");
  } finally {
    db.close();
  }
});
