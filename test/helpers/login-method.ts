// TESTS ONLY: an auth method with the smallest possible proof (a password
// per role), so tests of what every login shares (the token it mints,
// metadata, templated policies, CIDR binding, the generic refusal, quotas
// and audit on the login path) need no JWT, certificate or AWS signature.
// Registered in the test's own process, for servers it starts with startLessor.
import { z } from "zod";
import { loginIdentity, loginRefused, TOKEN_FIELDS, tokenSettingsSchema } from "../../src/auth-methods/common.js";
import { engineFactories, registerEngine } from "../../src/engines/index.js";
import { definePath } from "../../src/engines/framework/types.js";

export const TEST_LOGIN_METHOD = "test-login";

const roleSchema = tokenSettingsSchema.extend({ password: z.string(), namespace: z.string() });

export function registerTestLoginMethod(): void {
  if (engineFactories().some((f) => f.type === TEST_LOGIN_METHOD)) return;
  registerEngine({
    type: TEST_LOGIN_METHOD,
    kind: "auth",
    synopsis: "TESTS ONLY: log in with a role's password.",
    special: { unauthenticated: ["login"] },
    create: ({ storage }) => ({
      paths: [
        definePath({
          pattern: "role/:name",
          synopsis: "A role: its password, the namespace its tokens carry, and the token fields.",
          fields: { ...TOKEN_FIELDS, password: { type: "string", description: "The password.", required: true }, namespace: { type: "string", description: "Metadata.", default: "" } },
          operations: {
            async write(req) {
              await storage.put(`role/${req.params.name}`, { ...req.fields });
              return {};
            },
          },
        }),
        definePath({
          pattern: "login",
          synopsis: "Log in.",
          fields: { role: { type: "string", description: "The role.", required: true }, password: { type: "string", description: "Its password.", required: true } },
          operations: {
            async write(req) {
              const stored = await storage.get(`role/${req.fields.role}`);
              if (stored === undefined) throw loginRefused(`no role named ${req.fields.role}`);
              const role = roleSchema.parse(stored);
              if (role.password !== req.fields.password) throw loginRefused(`wrong password for role ${req.fields.role}`);
              return { login: loginIdentity(role, req.fields.role, { role: req.fields.role, namespace: role.namespace }) };
            },
          },
        }),
      ],
      secrets: {},
    }),
  });
}
