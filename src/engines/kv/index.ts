// kv, version 1: stores whatever fields it is given at any path under the
// mount, sealed at rest. No versions, no leases; a `ttl` field is returned as
// the refresh interval, as Vault's kv v1 does.
import { parseDuration } from "../../util/duration.js";
import { LessorError } from "../../errors.js";
import { isJsonObject } from "../../util/json.js";
import { definePath, type EngineFactory, type JsonObject } from "../framework/types.js";

const DEFAULT_REFRESH_SECONDS = 768 * 3600;

export const kvEngine: EngineFactory = {
  type: "kv",
  synopsis: "Key/value secrets (version 1): stores what you write, returns it on read.",
  create({ storage }) {
    const entry = definePath({
      pattern: "*path?",
      fields: {},
      freeForm: true,
      synopsis: "Pass-through secret storage.",
      description:
        "Any fields written here are stored sealed and returned on read. A `ttl` field (a duration) is returned as the refresh interval callers should re-read after. List a folder to see the keys under it.",
      async exists(params) {
        return (await storage.get(params.path)) !== undefined;
      },
      operations: {
        async read(req) {
          const data = await storage.get(keyOf(req.params.path));
          if (!isJsonObject(data)) throw LessorError.notFound(`no value found at ${req.mount.path}${req.path}`, "SECRET_NOT_FOUND");
          return { data, refreshSeconds: kvRefreshSeconds(data) };
        },
        async write(req) {
          const key = keyOf(req.params.path);
          if (Object.keys(req.raw).length === 0) {
            throw LessorError.invalidField("data", "is empty: write at least one key=value pair");
          }
          const ttl = req.raw.ttl;
          if (ttl !== undefined && (typeof ttl !== "string" && typeof ttl !== "number" || "error" in parseDuration(ttl))) {
            throw LessorError.invalidField("ttl", "must be a duration such as 3600, 30m or 768h");
          }
          await storage.put(key, req.raw);
          return {};
        },
        async delete(req) {
          await storage.delete(keyOf(req.params.path));
          return {};
        },
        async list(req) {
          const prefix = req.params.path;
          const keys = await storage.list(prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`);
          if (keys.length === 0) throw LessorError.notFound(`no keys found under ${req.mount.path}${prefix}`, "NO_KEYS");
          return { data: { keys } };
        },
      },
    });
    return { paths: [entry], secrets: {} };
  },
};

/** A key names a value, not a folder. */
function keyOf(path: string): string {
  if (!path || path.endsWith("/")) throw LessorError.invalidField("path", "names a folder; give the key of a value");
  return path;
}

/** The refresh interval kv reports for a value: its `ttl` field, else 768h. */
export function kvRefreshSeconds(data: JsonObject): number {
  const ttl = data.ttl;
  if (typeof ttl === "string" || typeof ttl === "number") {
    const parsed = parseDuration(ttl);
    if ("seconds" in parsed) return parsed.seconds;
  }
  return DEFAULT_REFRESH_SECONDS;
}
