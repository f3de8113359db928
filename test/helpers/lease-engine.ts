// TESTS ONLY: an engine whose secrets exist nowhere but in Lessor, so a test
// can issue, renew and revoke real leases without an AWS endpoint. Reading
// `<mount>/creds/<name>` goes the whole way a dynamic secret goes (intent,
// lease and event committed together); revoking counts the call. Registered
// in the test's own process, for servers it starts with startLessor.
import { registerEngine, engineFactories } from "../../src/engines/index.js";
import { definePath } from "../../src/engines/framework/types.js";

export const TEST_LEASE_ENGINE = "test-lease";

/** Lease ids whose secret was revoked, in order. */
export const revokedSecrets: string[] = [];

export function registerTestLeaseEngine(): void {
  if (engineFactories().some((f) => f.type === TEST_LEASE_ENGINE)) return;
  registerEngine({
    type: TEST_LEASE_ENGINE,
    synopsis: "TESTS ONLY: issues leases on secrets that exist nowhere else.",
    create: () => ({
      paths: [
        definePath({
          pattern: "creds/:name",
          fields: { ttl: { type: "duration", description: "Lease duration." } },
          synopsis: "Issue a lease on nothing.",
          operations: {
            async read(req) {
              await req.recordIntent("nothing", { name: req.params.name });
              return { data: { name: req.params.name }, secret: { type: "nothing", internal: { name: req.params.name }, renewable: true, ttlSeconds: req.fields.ttl } };
            },
          },
        }),
      ],
      secrets: {
        nothing: {
          revoke: async (lease) => {
            revokedSecrets.push(lease.id);
          },
          renew: async () => ({}),
        },
      },
      rollback: async () => undefined,
    }),
  });
}
