// TESTS ONLY: an engine plugin as an operator ships one, a module given to
// `node --import` before `lessor server`, registering at import.
import { registerTestLeaseEngine } from "./lease-engine.js";

registerTestLeaseEngine();
