// A mount table on a store, as the server assembles one (for tests that
// drive the lease manager or the router without a server).
import type { Logger } from "pino";
import type { EngineFactory } from "../../src/engines/framework/types.js";
import { leaseView } from "../../src/leases/view.js";
import { MountTable } from "../../src/mounts/table.js";
import type { Store } from "../../src/store/types.js";

export function mountTableFor(store: Store, factories: readonly EngineFactory[], logger: Logger): MountTable {
  return new MountTable(store.mounts, factories, { entries: store.entries, leases: leaseView(store), logger, telemetry: { externalError() {} } });
}
