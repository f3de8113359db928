// aws/tidy: finds IAM users this mount made that no live lease owns any more
// (a revocation someone undid by hand, a lost rollback, a restored backup)
// and deletes them when asked. A user is an orphan only if it carries both of
// Lessor's tags, the mount tag names this mount, and its lease is neither live
// nor still being issued. Nothing else is ever touched: users without the
// tags, users of another mount or server, users outside the path prefix.
import type { IAMClient } from "@aws-sdk/client-iam";
import { LessorError } from "../../errors.js";
import { definePath, type PathSpec } from "../framework/types.js";
import { IAM_PATH } from "./arns.js";
import { mapAwsError } from "./errors.js";
import { deleteIamUser, lessorTagsOf } from "./iam-user.js";
import type { AwsBackend } from "./backend.js";
import { iamSdk } from "./sdk.js";

/** Users checked at once: ListUserTags calls in flight. */
const CONCURRENCY = 8;

type Orphan = {
  user_name: string;
  path: string;
  lease_id: string;
};

async function mapLimit<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function findOrphans(backend: AwsBackend, iam: IAMClient, pathPrefix: string): Promise<{ scanned: number; orphans: Orphan[] }> {
  const { ListUsersCommand } = await iamSdk();
  const mountPath = backend.mountPath;
  const orphans: Orphan[] = [];
  let scanned = 0;
  let marker: string | undefined;
  do {
    let page;
    try {
      page = await iam.send(new ListUsersCommand({ PathPrefix: pathPrefix, Marker: marker, MaxItems: 1000 }));
    } catch (err) {
      throw mapAwsError(err, "iam:ListUsers", mountPath);
    }
    const users = (page.Users ?? []).filter((u) => u.UserName);
    scanned += users.length;
    // ListUsers does not return tags: ask for each user's.
    await mapLimit(users, CONCURRENCY, async (u) => {
      const name = u.UserName as string;
      const tags = await lessorTagsOf(iam, name, mountPath);
      if (!tags?.leaseId || tags.mount !== backend.mountAccessor) return;
      if (await backend.leases.isLive(tags.leaseId)) return;
      orphans.push({ user_name: name, path: u.Path ?? "/", lease_id: tags.leaseId });
    });
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  orphans.sort((a, b) => a.user_name.localeCompare(b.user_name));
  return { scanned, orphans };
}

export function tidyPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "tidy",
    synopsis: "Find, and delete, IAM users of this mount that no live lease owns.",
    description:
      "Lists the IAM users under path_prefix (ListUsers, then ListUserTags for each) that carry Lessor's lease tag and this mount's tag, but whose lease is revoked or unknown and not being issued. Reading lists them; writing deletes them with everything they hold, unless dry_run=true. Users without Lessor's tags, of another mount or server, or with a live lease are never touched.",
    fields: {
      path_prefix: { type: "string", default: "/", description: 'Only users whose IAM path starts with this ("/" for all).' },
      dry_run: { type: "bool", default: false, description: "On write: only list what would be deleted." },
    },
    operations: {
      async read(req) {
        const prefix = checkPrefix(req.fields.path_prefix);
        const { iam } = await backend.aws();
        const { scanned, orphans } = await findOrphans(backend, iam, prefix);
        return { data: { scanned, orphans: orphans, deleted: [], failed: {} } };
      },
      async write(req) {
        const prefix = checkPrefix(req.fields.path_prefix);
        const { iam } = await backend.aws();
        const { scanned, orphans } = await findOrphans(backend, iam, prefix);
        const deleted: string[] = [];
        const failed: Record<string, string> = {};
        if (!req.fields.dry_run) {
          const errors = new Map<string, LessorError>();
          await mapLimit(orphans, CONCURRENCY, async (o) => {
            try {
              await deleteIamUser(iam, { username: o.user_name }, backend.mountPath, { logger: backend.logger });
              deleted.push(o.user_name);
            } catch (err) {
              const mapped = err instanceof LessorError ? err : mapAwsError(err, "iam:DeleteUser", backend.mountPath);
              errors.set(o.user_name, mapped);
              failed[o.user_name] = mapped.message;
            }
          });
          deleted.sort();
          if (deleted.length > 0) backend.logger.info({ users: deleted.length }, "tidy deleted IAM users no lease owned");
          if (errors.size > 0) throw tidyFailed(deleted, errors);
        }
        return { data: { scanned, orphans: orphans, deleted, failed } };
      },
    },
  });
}

/** Users named in a tidy failure's message, at most; the rest are counted. */
const FAILURES_SHOWN = 20;

/**
 * A tidy write that could not delete every orphan fails (so the CLI exits
 * non-zero and a program sees an error status), saying what was deleted and
 * what was not, with the first failure's code.
 */
function tidyFailed(deleted: string[], errors: Map<string, LessorError>): LessorError {
  const names = [...errors.keys()].sort();
  const shown = names.slice(0, FAILURES_SHOWN).map((name) => `${name}: ${(errors.get(name) as LessorError).message}`);
  const more = names.length > FAILURES_SHOWN ? `; and ${names.length - FAILURES_SHOWN} more` : "";
  const first = errors.get(names[0] as string) as LessorError;
  return new LessorError(
    first.code,
    `tidy could not delete ${names.length} of ${names.length + deleted.length} IAM users no lease owns (${deleted.length} deleted): ${shown.join("; ")}${more}`,
    {
      reason: "TIDY_INCOMPLETE",
      metadata: { deleted: String(deleted.length), failed: String(names.length), failed_users: names.slice(0, FAILURES_SHOWN).join(",") },
      retryDelayMs: first.retryDelayMs,
    },
  );
}

function checkPrefix(prefix: string): string {
  // ListUsers takes a path prefix: "/" or "/division/", also "/div" (a partial path).
  if (!prefix.startsWith("/") || prefix.length > 512 || (prefix !== "/" && !IAM_PATH.test(`${prefix.replace(/\/$/, "")}/`))) {
    throw LessorError.invalidField("path_prefix", 'must be an IAM path prefix such as "/" or "/lessor/"');
  }
  return prefix;
}
