// BENCHMARK ONLY, never part of Lessor: an engine plugin, loaded into a
// benchmarked server with `node --import`, whose secrets cost nothing outside
// Lessor. Reading `<mount>/creds/<name>` goes the whole way a dynamic secret
// goes (intent recorded before the "external work", lease and its event
// committed with the end of the intent), so the figure is the cost of
// Lessor's lease machinery itself.
import { registerEngine } from "../src/engines/index.js";
import { definePath } from "../src/engines/framework/types.js";

registerEngine({
  type: "bench-lease",
  synopsis: "BENCHMARK ONLY: issues leases on secrets that exist nowhere else.",
  create: () => ({
    paths: [
      definePath({
        pattern: "creds/:name",
        fields: {},
        synopsis: "Issue a lease on nothing.",
        operations: {
          async read(req) {
            const name = req.params.name ?? "";
            await req.recordIntent("nothing", { name });
            return { data: { name, value: req.leaseId }, secret: { type: "nothing", internal: { name }, renewable: true } };
          },
        },
      }),
    ],
    secrets: { nothing: { revoke: async () => undefined } },
    rollback: async () => undefined,
  }),
});
