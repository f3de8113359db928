import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../src/util/duration.js";

test("parses Vault-style durations into seconds", () => {
  assert.deepEqual(parseDuration("768h"), { seconds: 2_764_800 });
  assert.deepEqual(parseDuration("1h30m"), { seconds: 5400 });
  assert.deepEqual(parseDuration("90s"), { seconds: 90 });
  assert.deepEqual(parseDuration("3600"), { seconds: 3600 });
  assert.deepEqual(parseDuration(120), { seconds: 120 });
  assert.deepEqual(parseDuration("2d"), { seconds: 172_800 });
});

test("refuses what is not a duration, saying why", () => {
  for (const bad of ["", "h", "10x", "1h 30m", "1.5.h", "abc"]) {
    const r = parseDuration(bad);
    assert.ok("error" in r, `${JSON.stringify(bad)} should be refused`);
  }
  assert.match((parseDuration("-5") as { error: string }).error, /negative/);
  assert.match((parseDuration("99999999999999999999") as { error: string }).error, /too large|100 years/);
  assert.match((parseDuration(1.5) as { error: string }).error, /whole/);
});

test("formats seconds as Vault prints them", () => {
  assert.equal(formatDuration(2_764_800), "768h");
  assert.equal(formatDuration(5400), "1h30m");
  assert.equal(formatDuration(3661), "1h1m1s");
  assert.equal(formatDuration(45), "45s");
  assert.equal(formatDuration(0), "0s");
});
