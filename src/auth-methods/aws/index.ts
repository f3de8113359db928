// The aws auth method (Vault's `aws`, IAM principals): a workload with any
// AWS identity (instance role, ECS task role, EKS pod identity, a CI role)
// signs an sts:GetCallerIdentity request with its own credentials and sends
// the signed request, never the credentials. Lessor checks it, replays it to
// the configured STS endpoint only, and binds the principal STS names to a
// role (role/<name>: bound_iam_principal_arn globs, bound_account_id).
// Replaying a signed request needs no AWS credentials of Lessor's own.
import { z } from "zod";
import { LessorError } from "../../errors.js";
import { definePath, type EngineFactory, type EngineStorage, type FieldSpecs, type FieldValue } from "../../engines/framework/types.js";
import { loginIdentity, loginRefused, TOKEN_FIELDS, tokenSettingsSchema } from "../common.js";
import { boundArnAdmits, checkBoundArn, parseCallerArn } from "./arn.js";
import { callerIdentity } from "./caller-identity.js";
import { replayableRequest, SERVER_ID_HEADERS, type StsTarget } from "./signed-request.js";

export const DEFAULT_STS_ENDPOINT = "https://sts.amazonaws.com";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Longest base64 accepted for the signed request's parts (a GetCallerIdentity request is well under 4 KiB). */
const MAX_ENCODED = 16_384;

const configSchema = z.object({
  sts_endpoint: z.string().default(DEFAULT_STS_ENDPOINT),
  sts_region: z.string().default(""),
  iam_server_id_header_value: z.string().default(""),
});

const roleSchema = tokenSettingsSchema.extend({
  auth_type: z.literal("iam"),
  bound_iam_principal_arn: z.array(z.string()),
  bound_account_id: z.array(z.string()).default([]),
});
type AwsRole = z.infer<typeof roleSchema>;

function checkEndpoint(v: FieldValue): string | undefined {
  try {
    const url = new URL(String(v));
    if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an http:// or https:// URL";
    if (url.search !== "" || url.hash !== "" || url.username !== "") return "must be a plain URL: no query, fragment or user";
    return undefined;
  } catch {
    return "must be an http:// or https:// URL, such as https://sts.us-east-1.amazonaws.com";
  }
}

const CONFIG_FIELDS = {
  sts_endpoint: { type: "string", description: `The STS endpoint logins are replayed to, and the only one they may name (default ${DEFAULT_STS_ENDPOINT}).`, default: DEFAULT_STS_ENDPOINT, maxLength: 512, check: checkEndpoint },
  sts_region: { type: "string", description: "When set, signatures must be scoped to this region (the endpoint's).", default: "", maxLength: 64 },
  iam_server_id_header_value: {
    type: "string",
    description: `When set, logins must carry and sign this value in ${SERVER_ID_HEADERS.map((h) => h.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())).join(" or ")} (a signed request for another server is then useless here).`,
    default: "",
    maxLength: 1024,
  },
} satisfies FieldSpecs;

const ROLE_FIELDS = {
  auth_type: { type: "string", description: 'Only "iam": the caller proves an IAM principal with a signed GetCallerIdentity.', default: "iam", allowed: ["iam"] },
  bound_iam_principal_arn: {
    type: "list",
    description: "IAM principals that may log in: user or role ARNs, globs with *. A role's sessions match the role's ARN, whatever its path.",
    required: true,
    check: (v: FieldValue) => {
      const items = Array.isArray(v) ? v.map(String) : [];
      if (items.length === 0) return "is required: without it any AWS principal in any account could log in";
      return items.map(checkBoundArn).find((p) => p !== undefined);
    },
  },
  bound_account_id: {
    type: "list",
    description: "When set, the caller's AWS account must be one of these.",
    default: [],
    check: (v: FieldValue) => ((Array.isArray(v) ? v : []).every((a) => /^\d{12}$/.test(String(a))) ? undefined : "must be 12-digit AWS account IDs"),
  },
  ...TOKEN_FIELDS,
} satisfies FieldSpecs;

const LOGIN_FIELDS = {
  role: { type: "string", description: "The role to log in with (default: the name of the IAM user or role that signed).", default: "" },
  iam_http_request_method: { type: "string", description: "The signed request's HTTP method: POST.", required: true, allowed: ["POST"] },
  iam_request_url: { type: "string", description: "The signed request's URL, base64.", required: true, maxLength: MAX_ENCODED },
  iam_request_body: { type: "string", description: "The signed request's body, base64.", required: true, maxLength: MAX_ENCODED },
  iam_request_headers: { type: "string", description: "The signed request's headers: a JSON object (name → value or list of values), base64.", required: true, maxLength: MAX_ENCODED },
} satisfies FieldSpecs;

async function loadConfig(storage: EngineStorage): Promise<StsTarget> {
  const stored = configSchema.parse((await storage.get("config/client")) ?? {});
  return { endpoint: stored.sts_endpoint, region: stored.sts_region, serverIdHeaderValue: stored.iam_server_id_header_value };
}

async function loadRole(storage: EngineStorage, name: string): Promise<AwsRole | undefined> {
  const stored = await storage.get(`role/${name}`);
  return stored === undefined ? undefined : roleSchema.parse(stored);
}

export const awsAuthMethod: EngineFactory = {
  type: "aws",
  kind: "auth",
  synopsis: "Log in as an AWS IAM principal, with a signed sts:GetCallerIdentity request.",
  special: { unauthenticated: ["login"] },
  create({ storage }) {
    const config = definePath({
      pattern: "config/client",
      synopsis: "The STS endpoint logins are replayed to, and the server-ID header they must carry.",
      fields: CONFIG_FIELDS,
      async exists() {
        return (await storage.get("config/client")) !== undefined;
      },
      operations: {
        async read() {
          return { data: { ...configSchema.parse((await storage.get("config/client")) ?? {}) } };
        },
        async write(req) {
          await storage.put("config/client", configSchema.parse(req.fields));
          return {};
        },
        async delete() {
          await storage.delete("config/client");
          return {};
        },
      },
    });
    const role = definePath({
      pattern: "role/:name",
      synopsis: "A role: the IAM principals that may log in with it, and the token fields.",
      description: "Writing replaces the role.",
      fields: ROLE_FIELDS,
      async exists(params) {
        return (await storage.get(`role/${params.name}`)) !== undefined;
      },
      operations: {
        async read(req) {
          const entry = await loadRole(storage, req.params.name);
          if (!entry) throw LessorError.notFound(`no role named "${req.params.name}" at ${req.mount.path}`, "ROLE_NOT_FOUND");
          return { data: { ...entry } };
        },
        async write(req) {
          if (!NAME.test(req.params.name)) throw LessorError.invalidField("name", "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
          await storage.put(`role/${req.params.name}`, roleSchema.parse(req.fields));
          return {};
        },
        async delete(req) {
          await storage.delete(`role/${req.params.name}`);
          return {};
        },
      },
    });
    const roles = definePath({
      pattern: "role/",
      synopsis: "The roles.",
      fields: {},
      operations: {
        async list() {
          return { data: { keys: await storage.list("role/") } };
        },
      },
    });
    const login = definePath({
      pattern: "login",
      synopsis: "Log in with a signed sts:GetCallerIdentity request (Vault's iam_* login fields).",
      description:
        "Needs no token. The request must be a POST of Action=GetCallerIdentity&Version=2011-06-15 to the configured sts_endpoint, signed with SigV4 (and, when the mount sets iam_server_id_header_value, with that server-ID header signed). Lessor sends it to sts_endpoint only and binds the principal STS names to the role.",
      fields: LOGIN_FIELDS,
      operations: {
        async write(req) {
          const target = await loadConfig(storage);
          const caller = await callerIdentity(replayableRequest(req.fields, target), req.signal);
          const principal = parseCallerArn(caller.arn);
          if ("problem" in principal) throw loginRefused(principal.problem);
          const roleName = req.fields.role || principal.name;
          const entry = await loadRole(storage, roleName);
          if (!entry) throw loginRefused(`no role named ${roleName}`);
          if (!entry.bound_iam_principal_arn.some((b) => boundArnAdmits(b, principal))) {
            throw loginRefused(`${caller.arn} is not among role ${roleName}'s bound_iam_principal_arn`);
          }
          if (entry.bound_account_id.length > 0 && !entry.bound_account_id.includes(caller.account)) {
            throw loginRefused(`account ${caller.account} is not among role ${roleName}'s bound_account_id`);
          }
          const metadata = {
            role: roleName,
            account_id: caller.account,
            arn: caller.arn,
            canonical_arn: principal.canonicalArn,
            client_user_id: caller.userId.split(":")[0] ?? "",
            auth_type: "iam",
          };
          return { login: loginIdentity(entry, principal.name, metadata) };
        },
      },
    });
    return { paths: [config, role, roles, login], secrets: {} };
  },
};
