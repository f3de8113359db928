// Prometheus metrics on their own HTTP port: what an operator's dashboard reads
// after issuing, revoking and a failed issuance, scraped from the real server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code } from "@lessor/client";
import { awsSetup, rejects } from "../helpers/aws-engine.js";
import { EC2_POLICY } from "../helpers/aws.js";
import { waitFor } from "../helpers/wait.js";

/** One sample's value from Prometheus text, by metric name and exact labels; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && Object.keys(have).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

test("metrics: leases by state, issuance, revocation, AWS errors by code, store latency; no secret in them", async (t) => {
  const { server, client, emulator } = await awsSetup(t, { server: { args: ["-metrics-listen-address=127.0.0.1:0"] } });
  const url = /Metrics: (http:\S+)/.exec(server.output())?.[1];
  assert.ok(url, `the banner names the metrics address:\n${server.output()}`);
  const scrape = async (): Promise<string> => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    return res.text();
  };
  assert.equal((await fetch(url.replace(/\/metrics$/, "/other"))).status, 404);

  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  // A group that does not exist: IAM answers NoSuchEntity to AddUserToGroup, and the half-made user is rolled back.
  await client.write("aws/roles/grouped", { policy_document: EC2_POLICY, iam_groups: "no-such-group" });
  const first = await client.aws.creds("deploy");
  const second = await client.aws.creds("deploy");
  await rejects(client.aws.creds("grouped"), Code.FAILED_PRECONDITION, /AddUserToGroup failed: NoSuchEntity/);
  await client.leases.revoke(first.lease.id);

  // Lease counts are cached for up to 10 s; wait for a scrape that shows the revocation.
  const text = await waitFor(
    "the scrape to show one active and one revoked lease",
    async () => {
      const body = await scrape();
      return sample(body, "lessor_leases", { state: "revoked" }) === 1 ? body : undefined;
    },
    20_000,
    500,
  );
  assert.equal(sample(text, "lessor_leases", { state: "active" }), 1);
  assert.equal(sample(text, "lessor_leases", { state: "irrevocable" }), 0);
  assert.equal(sample(text, "lessor_leases_issued_total", { engine: "aws", secret_type: "access_keys" }), 2);
  assert.equal(sample(text, "lessor_lease_issue_duration_seconds_count", { engine: "aws" }), 2);
  assert.equal(sample(text, "lessor_leases_revoked_total", { engine: "aws", reason: "revoked" }), 1);
  assert.equal(sample(text, "lessor_lease_revoke_duration_seconds_count", { engine: "aws" }), 1);
  assert.equal(sample(text, "lessor_issuance_rollbacks_total", { engine: "aws" }), 1);
  assert.equal(sample(text, "lessor_external_errors_total", { service: "iam", operation: "AddUserToGroup", code: "NoSuchEntity" }), 1);
  assert.equal(sample(text, "lessor_expiry_backlog"), 0);
  // Calls by status code, under the names gRPC dashboards know (awsSetup's own writes count too).
  const handled = (service: string, method: string, code: string) => sample(text, "grpc_server_handled_total", { grpc_service: service, grpc_method: method, grpc_code: code });
  assert.equal(handled("lessor.v1.SecretsService", "Read", "OK"), 2);
  assert.equal(handled("lessor.v1.SecretsService", "Read", "FAILED_PRECONDITION"), 1);
  assert.equal(handled("lessor.v1.LeaseService", "RevokeLease", "OK"), 1);
  assert.ok((sample(text, "lessor_store_operation_duration_seconds_count", { operation: "leases.insertFromIntent" }) ?? 0) >= 2);
  assert.ok((sample(text, "lessor_process_resident_memory_bytes") ?? 0) > 0);

  // Counts and times only: no key, token or lease id.
  for (const secret of [second.accessKeyId, second.secretAccessKey, server.rootToken ?? "no-token", second.lease.id, emulator.rootSecretAccessKey]) {
    assert.ok(!text.includes(secret), "a secret or identifier appeared in the metrics");
  }
});
