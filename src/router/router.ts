// The router: from a clean path to the backend path that answers it, and
// from an authorized request to its handler. It finds the mount by longest
// prefix and the backend path by pattern; says which capability an operation
// needs there (a write is "create" or "update" by whether the entry exists)
// and whether the path is root-protected or unauthenticated, all from the
// backend's declarations; validates the fields; runs the handler; and for a
// dynamic secret has the lease manager record the lease in the same step.
// It checks no permission itself: the request pipeline does, on the route
// this returns, so the path checked is the path routed.
import { Code, LessorError } from "../errors.js";
import { matchPath } from "../engines/framework/paths.js";
import { validateFields } from "../engines/framework/fields.js";
import type {
  Caller,
  Connection,
  FieldValues,
  IssuedToken,
  JsonObject,
  LoginIdentity,
  Operation,
  PathsSpecial,
  PathSpec,
  Request,
} from "../engines/framework/types.js";
import type { MountedEngine, MountTable } from "../mounts/table.js";
import type { IntentRecord } from "../store/types.js";
import type { LeaseGrant, LeaseManager } from "../leases/manager.js";
import { timeOrderedId } from "../util/random.js";

/** What the router needs of the lease manager: recording what a request issued. */
export type IssuanceLedger = Pick<LeaseManager, "recordIntent" | "register" | "rollbackIntent">;

/** Mints a token for a login's identity (the token authority; the router never makes tokens itself). */
export interface TokenMinter {
  mintForLogin(identity: LoginIdentity, mount: { path: string }): Promise<IssuedToken>;
}

/** A capability an ACL rule can grant. */
export type Capability = "create" | "read" | "update" | "delete" | "list";

export interface RouterRequest {
  operation: Operation;
  data: JsonObject;
  caller: Caller;
  connection: Connection;
  signal: AbortSignal;
  stream: ((message: JsonObject) => Promise<void>) | undefined;
}

export interface RouterResponse {
  data: JsonObject;
  warnings: string[];
  lease?: LeaseGrant;
  refreshSeconds?: number;
  /** A token made by the request (auth/token/create, a login). */
  token?: IssuedToken;
  /** The type of the mount that answered ("kv", "aws", "system", "token"), as Vault's responses name it. */
  mountType?: string;
}

/** Where a clean path leads. */
export interface Route {
  /** The full path, cleaned: what the ACL, quotas and audit all see. */
  path: string;
  mounted: MountedEngine;
  /** The path inside the mount. */
  rest: string;
  spec: PathSpec;
  params: Record<string, string>;
}

export class Router {
  constructor(
    readonly mounts: MountTable,
    private readonly leases: IssuanceLedger,
    private readonly logins?: TokenMinter,
  ) {}

  /** Whether the backend declares this (clean) path answerable without a token. */
  isUnauthenticated(path: string): boolean {
    const found = this.mounts.resolve(path);
    return found !== undefined && matchesSpecial(found.mounted.special.unauthenticated, found.rest);
  }

  /**
   * Finds the backend path that answers `path` (clean), or NOT_FOUND saying
   * what exists. Answered at once (no promise) when the mount is in the table,
   * as it is for nearly every request; a promise only when it must look again.
   */
  route(path: string): Route | Promise<Route> {
    const found = this.mounts.resolve(path);
    if (found) return this.routeIn(path, found);
    // A mount just enabled on another replica is loaded here before NOT_FOUND.
    return this.mounts.fresh(() => this.mounts.resolve(path)).then((again) => {
      if (!again) {
        throw LessorError.notFound(`no secrets engine is mounted at ${path.split("/")[0]}/ (see \`lessor secrets list\`)`, "MOUNT_NOT_FOUND", {
          path,
        });
      }
      return this.routeIn(path, again);
    });
  }

  private routeIn(path: string, found: { mounted: MountedEngine; rest: string }): Route {
    const { mounted, rest } = found;
    const match = matchPath(mounted.paths, rest);
    if (!match) {
      const known = mounted.engine.paths.map((p) => mounted.mount.path + p.pattern).join(", ");
      throw LessorError.notFound(`unknown path ${path}; the ${mounted.mount.type} engine answers: ${known}`, "PATH_NOT_FOUND", { path });
    }
    return { path, mounted, rest, spec: match.spec, params: match.params };
  }

  /**
   * The capability `operation` needs on the route, and whether sudo is needed
   * too (a root-protected path). UNIMPLEMENTED when the path does not support it.
   */
  capability(route: Route, operation: Operation): { capability: Capability; sudo: boolean } | Promise<{ capability: Capability; sudo: boolean }> {
    if (!route.spec.operations[operation]) throw LessorError.unsupported(operation, route.path);
    const sudo = matchesRoot(route.mounted.special.root, route.rest, operation);
    // At once, without a promise, unless a write must ask whether the entry exists.
    if (operation !== "write") return { capability: operation, sudo };
    if (!route.spec.exists) return { capability: "update", sudo };
    return route.spec.exists(route.params).then((exists) => ({ capability: exists ? "update" : "create", sudo }));
  }

  /** Validates the fields and runs the handler; records the lease of a dynamic secret. */
  async dispatch(route: Route, req: RouterRequest): Promise<RouterResponse> {
    const { mounted, spec, params } = route;
    const handler = spec.operations[req.operation];
    if (!handler) throw LessorError.unsupported(req.operation, route.path);
    const validated = validateFields(spec.fields, req.data, req.operation === "write", spec.freeForm);
    if ("violations" in validated) throw LessorError.invalidFields(validated.violations);
    const { values, provided, warnings } = validated.ok;

    let intent: IntentRecord | undefined;
    // Made on first use: most requests issue no lease. Time-ordered (UUIDv7),
    // so new leases of a path land together in the index.
    let id: string | undefined;
    const leaseId = (): string => (id ??= `${route.path.replace(/\/+$/, "")}/${timeOrderedId()}`);
    const accessor = mounted.mount.accessor;
    const request: Request = {
      operation: req.operation,
      path: route.rest,
      params,
      fields: values as FieldValues<Record<string, never>>,
      provided,
      raw: req.data,
      mount: mounted.mount,
      caller: req.caller,
      connection: req.connection,
      get signal() {
        return req.signal;
      },
      stream: req.stream,
      get leaseId() {
        return leaseId();
      },
      recordIntent: async (secretType, data) => {
        if (intent) throw new Error("recordIntent called twice for one request");
        const intentId = await this.leases.recordIntent(accessor, leaseId(), secretType, data);
        intent = { id: intentId, leaseId: leaseId(), mountAccessor: accessor, secretType, data, createdAt: Date.now() };
      },
    };

    const startedAt = Date.now();
    const undo = async (): Promise<void> => {
      if (intent) await this.leases.rollbackIntent(intent);
    };
    let response;
    try {
      response = await handler.call(spec.operations, request);
    } catch (err) {
      await undo();
      throw err;
    }

    let lease: LeaseGrant | undefined;
    if (response.secret) {
      // Nobody would hold a lease recorded now: the caller has gone.
      if (req.signal.aborted) {
        await undo();
        throw callerGone();
      }
      try {
        lease = await this.leases.register(accessor, leaseId(), response.secret, intent?.id ?? null, req.caller.tokenAccessor, startedAt);
      } catch (err) {
        await undo();
        throw err;
      }
    } else if (intent) {
      // Only a request that recorded an intent has one to undo (most never do: no await for them).
      await undo();
    }
    const token = response.login ? await this.mint(response.login, mounted) : response.token;
    return {
      data: response.data ?? {},
      warnings: [...warnings, ...(response.warnings ?? [])],
      lease,
      refreshSeconds: response.refreshSeconds,
      token,
      mountType: mounted.mount.type,
    };
  }

  private mint(identity: LoginIdentity, mounted: MountedEngine): Promise<IssuedToken> {
    if (!this.logins) throw new Error("a login path answered, but no token minter is configured");
    return this.logins.mintForLogin(identity, mounted.mount);
  }
}

/** The caller went away before the secret's lease was recorded. */
export function callerGone(): LessorError {
  return new LessorError(Code.CANCELLED, "the caller went away before the secret was issued; nothing was issued (what was made has been undone)", {
    reason: "CALLER_GONE",
  });
}

/** Does a special path (exact, or a prefix ending in "*") name `rest`? */
function matchesPath(pattern: string, rest: string): boolean {
  return pattern.endsWith("*") ? rest.startsWith(pattern.slice(0, -1)) : rest === pattern || rest === `${pattern}/`;
}

function matchesSpecial(paths: PathsSpecial["unauthenticated"], rest: string): boolean {
  return paths !== undefined && paths.some((p) => matchesPath(p, rest));
}

/** Is `operation` on `rest` root-protected? */
function matchesRoot(paths: PathsSpecial["root"], rest: string, operation: Operation): boolean {
  if (!paths) return false;
  return paths.some((p) => (typeof p === "string" ? matchesPath(p, rest) : p.operations.includes(operation) && matchesPath(p.path, rest)));
}
