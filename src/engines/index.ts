// Every engine type Lessor can mount. An engine is a plugin: adding one is a
// folder under engines/ and a line here.
import type { EngineFactory } from "./framework/types.js";
import { kvEngine } from "./kv/index.js";
import { awsEngine } from "./aws/index.js";

export const ENGINE_FACTORIES: readonly EngineFactory[] = [awsEngine, kvEngine];
