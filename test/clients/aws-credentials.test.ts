// lessorAwsCredentials as the credentials of a real AWS SDK v3 client (STS,
// against the emulator): keys come from Lessor, are renewed, and are replaced
// before they expire, with no request failing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { lessorAwsCredentials, LeaseState } from "@lessor/client";
import { awsSetup } from "./setup.js";
import { waitFor } from "../helpers/wait.js";

test("an SDK client gets keys from Lessor and fresh ones before they expire, with no failed request", async (t) => {
  const { client, emulator, server } = await awsSetup(t, { defaultLeaseTtlSeconds: 3, maxLeaseTtlSeconds: 7 });
  const credentials = lessorAwsCredentials({ role: "deploy", address: server.address, token: server.rootToken });
  const sts = new STSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials, maxAttempts: 1 });
  t.after(async () => {
    sts.destroy();
    await credentials.close();
  });
  assert.equal(credentials.currentLeaseId(), undefined, "nothing is read before the SDK asks");

  const arns: string[] = [];
  const leases: string[] = [];
  // Call AWS continuously until the keys were replaced twice. Any call signed with expired keys would throw here.
  await waitFor(
    "two replacements of the keys",
    async () => {
      const who = await sts.send(new GetCallerIdentityCommand({}));
      if (arns.at(-1) !== who.Arn) arns.push(who.Arn ?? "");
      const leaseId = credentials.currentLeaseId() ?? "";
      if (leases.at(-1) !== leaseId) leases.push(leaseId);
      return arns.length >= 3;
    },
    60_000,
    200,
  );
  assert.equal(new Set(arns).size, arns.length, "each replacement is a new IAM user");
  for (const arn of arns) assert.match(arn, /:user\/lessor-root-deploy-/);
  assert.equal(leases.length, 3);

  // Leases were renewed before they were replaced (renewing comes first; on a loaded
  // machine one renewal may come too late, so the two replaced leases are looked at).
  const replaced = await Promise.all(leases.slice(0, 2).map((id) => client.leases.lookup(id)));
  assert.ok(replaced.some((l) => l.lastRenewalTime !== undefined), "renewed before being replaced");

  // close({ revoke: true }) revokes the keys in use; the earlier leases end on their own.
  const current = credentials.currentLeaseId() as string;
  await credentials.close({ revoke: true });
  assert.equal((await client.leases.lookup(current)).state, LeaseState.LEASE_STATE_REVOKED);
  await waitFor("every IAM user to be gone", () => emulator.listUsers().length === 0, 20_000);
});
