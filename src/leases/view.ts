// Whether a lease still owns what an engine issued, for engines that look for
// leftovers in the external system (aws/tidy). Read-only.
import type { LeaseView } from "../engines/framework/types.js";
import type { Store } from "../store/types.js";

export function leaseView(store: Store): LeaseView {
  return {
    async isLive(leaseId) {
      // Intent first: it becomes the lease in one transaction, so checking in
      // this order never misses an issuance that is finishing right now.
      if (await store.intents.existsForLease(leaseId)) return true;
      const lease = await store.leases.get(leaseId);
      return lease !== undefined && lease.state !== "revoked";
    },
  };
}
