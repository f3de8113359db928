// Every engine type Lessor can mount. An engine is a plugin: the built-in ones
// are a folder under engines/ and a line here; one shipped on its own calls
// registerEngine() from a module the server is started with
// (`node --import ./my-engine.js bin/lessor.js server ...`).
import type { EngineFactory } from "./framework/types.js";
import { kvEngine } from "./kv/index.js";
import { awsEngine } from "./aws/index.js";
import { awsAuthMethod } from "../auth-methods/aws/index.js";
import { certAuthMethod } from "../auth-methods/cert/index.js";

/** A type names one secrets engine and one auth method at most ("aws" is both, as in Vault). */
const keyOf = (factory: EngineFactory): string => `${factory.kind ?? "secret"}:${factory.type}`;

const registry = new Map<string, EngineFactory>([awsEngine, kvEngine, awsAuthMethod, certAuthMethod].map((f) => [keyOf(f), f]));

/** Adds an engine type; the server must start after this runs. */
export function registerEngine(factory: EngineFactory): void {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(factory.type)) throw new Error(`engine type "${factory.type}" must be lower-case letters, digits and -`);
  const what = factory.kind === "auth" ? "an auth method" : "a secrets engine";
  if (registry.has(keyOf(factory))) throw new Error(`${what} of type "${factory.type}" is already registered`);
  registry.set(keyOf(factory), factory);
}

/** The engine types this server can mount. */
export function engineFactories(): EngineFactory[] {
  return [...registry.values()];
}
