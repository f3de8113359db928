// sys/health, sys/seal-status and sys/capabilities-self: what tools built
// for Vault ask a server before anything else. Health and seal status answer
// without a token (SYS_SPECIAL), in Vault's fields: Lessor is always
// initialized, unsealed and active while it answers (its key is a file or
// LESSOR_SEAL_KEY, read at start-up); health also says when the server
// should not be sent requests, whenever gRPC health is NOT_SERVING (starting,
// shutting down, the store unreachable).
import { LessorError } from "../../errors.js";
import { normalizeRequestPath } from "../../router/paths.js";
import { definePath, type FieldSpec, type FieldSpecs, type PathSpec } from "../framework/types.js";
import type { SystemParts } from "./parts.js";

/** A status code field of sys/health (Vault's query parameters). */
function statusCode(description: string, code: number): FieldSpec {
  return {
    type: "int",
    description: `${description} (default ${code}).`,
    default: code,
    check: (v) => (typeof v === "number" && v >= 200 && v <= 599 ? undefined : "must be an HTTP status code from 200 to 599"),
  };
}

const HEALTH_FIELDS = {
  standbyok: { type: "bool", description: "Answer a standby with the active code (Lessor has no standbys).", default: false },
  perfstandbyok: { type: "bool", description: "Answer a performance standby with the active code (Lessor has none).", default: false },
  activecode: statusCode("The status code of a healthy, active server", 200),
  standbycode: statusCode("The status code of a standby (never: every replica is active)", 429),
  drsecondarycode: statusCode("The status code of a DR secondary (never)", 472),
  performancestandbycode: statusCode("The status code of a performance standby (never)", 473),
  sealedcode: statusCode("The status code of a sealed server (never)", 503),
  uninitcode: statusCode("The status code of an uninitialized server (never)", 501),
  removedcode: statusCode("The status code of a server removed from its cluster (never)", 530),
  haunhealthycode: statusCode("The status code of an unhealthy HA node (never)", 474),
} satisfies FieldSpecs;

/** The cluster name both endpoints report. */
const CLUSTER_NAME = "lessor";

export function statusPaths(parts: SystemParts): PathSpec[] {
  const { server, permissions } = parts;
  return [
    definePath({
      pattern: "health",
      synopsis: "The server's health, in Vault's fields; answers without a token. Over HTTP: 200 (activecode), 503 while gRPC health is NOT_SERVING.",
      fields: HEALTH_FIELDS,
      operations: {
        async read() {
          return {
            data: {
              initialized: true,
              sealed: false,
              standby: false,
              performance_standby: false,
              replication_performance_mode: "disabled",
              replication_dr_mode: "disabled",
              server_time_utc: Math.floor(Date.now() / 1000),
              version: server.version,
              enterprise: false,
              cluster_name: CLUSTER_NAME,
              cluster_id: "",
              serving: server.serving(),
            },
          };
        },
      },
    }),
    definePath({
      pattern: "seal-status",
      synopsis: "The seal status, in Vault's fields; answers without a token. Lessor has no unseal step: always unsealed while it answers.",
      fields: {},
      operations: {
        async read() {
          return {
            data: {
              type: "lessor",
              initialized: true,
              sealed: false,
              t: 0,
              n: 0,
              progress: 0,
              nonce: "",
              version: server.version,
              build_date: "",
              migration: false,
              cluster_name: CLUSTER_NAME,
              cluster_id: "",
              recovery_seal: false,
              storage_type: server.storageType,
            },
          };
        },
      },
    }),
    definePath({
      pattern: "capabilities-self",
      synopsis: "What the caller's token may do on each path: its capabilities, [\"root\"], or [\"deny\"].",
      fields: {
        paths: { type: "list", description: "The paths to ask about.", default: [] },
        path: { type: "string", description: "One path to ask about.", deprecated: "use paths" },
      },
      operations: {
        async write(req) {
          const asked = [...req.fields.paths, ...(req.fields.path === undefined ? [] : [req.fields.path])];
          if (asked.length === 0) throw LessorError.invalidField("paths", "is required: the paths to ask about");
          const data: Record<string, string[]> = {};
          for (const raw of asked) {
            const path = normalizeRequestPath(raw, "paths");
            data[path] = [...permissions.capabilities(req.caller, path)].sort();
          }
          const only = Object.values(data);
          return { data: only.length === 1 ? { ...data, capabilities: only[0] as string[] } : data };
        },
      },
    }),
  ];
}
