// The router: one request's way from an authenticated caller to an engine.
// It finds the mount by longest prefix, the engine path by pattern, checks the
// ACL on the full path and operation, validates the fields against the path's
// declaration, runs the handler, and for a dynamic secret has the lease
// manager record the lease in the same step.
import { v7 as timeOrderedUuid } from "uuid";
import { LessorError } from "../errors.js";
import { matchPath } from "../engines/framework/paths.js";
import { validateFields } from "../engines/framework/fields.js";
import type { FieldValues, JsonObject, Operation, PathSpec, Request } from "../engines/framework/types.js";
import type { Acl, Capability } from "../auth/acl.js";
import type { AuthenticatedToken } from "../auth/tokens.js";
import type { LeaseGrant, LeaseManager } from "../leases/manager.js";
import type { IntentRecord } from "../store/types.js";
import type { MountTable, MountedEngine } from "./mounts.js";
import { normalizeRequestPath } from "./paths.js";

export interface RouterRequest {
  operation: Operation;
  path: string;
  data: JsonObject;
  caller: AuthenticatedToken;
}

export interface RouterResponse {
  data: JsonObject;
  warnings: string[];
  lease?: LeaseGrant;
  refreshSeconds?: number;
}

export interface ResolvedPath {
  fullPath: string;
  mounted: MountedEngine;
  rest: string;
  spec: PathSpec;
  params: Record<string, string>;
}

export class Router {
  constructor(
    readonly mounts: MountTable,
    private readonly leases: LeaseManager,
    private readonly acl: Acl,
  ) {}

  /** Finds the engine path that answers `path`, or NOT_FOUND saying what exists. */
  resolve(path: string): ResolvedPath {
    const fullPath = normalizeRequestPath(path);
    return this.resolveIn(fullPath, this.mounts.resolve(fullPath));
  }

  private resolveIn(fullPath: string, found: ReturnType<MountTable["resolve"]>): ResolvedPath {
    if (!found) {
      throw LessorError.notFound(
        `no secrets engine is mounted at ${fullPath.split("/")[0]}/ (see \`lessor secrets list\`)`,
        "MOUNT_NOT_FOUND",
        { path: fullPath },
      );
    }
    const { mounted, rest } = found;
    const match = matchPath(mounted.paths, rest);
    if (!match) {
      const known = mounted.engine.paths.map((p) => mounted.mount.path + p.pattern).join(", ");
      throw LessorError.notFound(`unknown path ${fullPath}; the ${mounted.mount.type} engine answers: ${known}`, "PATH_NOT_FOUND", {
        path: fullPath,
      });
    }
    return { fullPath, mounted, rest, spec: match.spec, params: match.params };
  }

  async handle(req: RouterRequest): Promise<RouterResponse> {
    // A mount just enabled on another replica is loaded here before NOT_FOUND.
    const path = normalizeRequestPath(req.path);
    const resolved = this.resolveIn(path, await this.mounts.fresh(() => this.mounts.resolve(path)));
    const { fullPath, mounted, rest, spec, params } = resolved;
    const handler = spec.operations[req.operation];
    if (!handler) throw LessorError.unsupported(req.operation, fullPath);
    // Permission first: a caller without it learns nothing about the fields.
    const needed = await capability(req.operation, spec, params);
    if (isRootPath(mounted.factory.rootPaths, rest)) this.acl.checkSudo(req.caller.policies, fullPath, needed);
    else this.acl.check(req.caller.policies, fullPath, needed);

    const validated = validateFields(spec.fields, req.data, req.operation === "write", spec.freeForm);
    if ("violations" in validated) throw LessorError.invalidFields(validated.violations);
    const { values, provided, warnings } = validated.ok;

    let intent: IntentRecord | undefined;
    // Made on first use: most requests issue no lease. Time-ordered (UUIDv7),
    // so new leases of a path land together in the index.
    let id: string | undefined;
    const leaseId = (): string => (id ??= `${fullPath.replace(/\/+$/, "")}/${timeOrderedUuid()}`);
    const request: Request = {
      operation: req.operation,
      path: rest,
      params,
      fields: values as FieldValues<Record<string, never>>,
      provided,
      raw: req.data,
      mount: mounted.mount,
      caller: { tokenAccessor: req.caller.accessor, displayName: req.caller.displayName },
      get leaseId() {
        return leaseId();
      },
      recordIntent: async (secretType, data) => {
        if (intent) throw new Error("recordIntent called twice for one request");
        const intentId = await this.leases.recordIntent(mounted.mount.accessor, leaseId(), secretType, data);
        intent = { id: intentId, leaseId: leaseId(), mountAccessor: mounted.mount.accessor, secretType, data, createdAt: Date.now() };
      },
    };

    const startedAt = Date.now();
    let response;
    try {
      response = await handler.call(spec.operations, request);
    } catch (err) {
      if (intent) await this.leases.rollbackIntent(intent);
      throw err;
    }

    let lease: LeaseGrant | undefined;
    if (response.secret) {
      try {
        lease = await this.leases.register(mounted.mount.accessor, leaseId(), response.secret, intent?.id ?? null, req.caller.accessor, startedAt);
      } catch (err) {
        if (intent) await this.leases.rollbackIntent(intent);
        throw err;
      }
    } else if (intent) {
      await this.leases.rollbackIntent(intent);
    }
    return {
      data: response.data ?? {},
      warnings: [...warnings, ...(response.warnings ?? [])],
      lease,
      refreshSeconds: response.refreshSeconds,
    };
  }
}

/** The ACL capability an operation needs; a write is "create" unless the entry exists. */
async function capability(operation: Operation, spec: PathSpec, params: Record<string, string>): Promise<Capability> {
  if (operation !== "write") return operation;
  if (!spec.exists) return "update";
  return (await spec.exists(params)) ? "update" : "create";
}

/** Is `rest` (the path inside the mount) one of the engine's root-protected paths? */
function isRootPath(rootPaths: readonly string[] | undefined, rest: string): boolean {
  if (!rootPaths) return false;
  return rootPaths.some((p) => (p.endsWith("*") ? rest.startsWith(p.slice(0, -1)) : rest === p || rest === `${p}/`));
}
