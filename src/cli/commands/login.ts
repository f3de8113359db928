// lessor login: log in with an auth method (or a token) and keep the token in
// ~/.lessor-token for the commands that follow, printing what Vault's
// `vault login` prints. `-method=X` names an entry of a small registry: how
// to turn the command's key=value arguments into the method's login fields
// (a method that needs more, such as signing a request or presenting a
// client certificate, registers its own).
import { awsIamLoginData, LessorClient } from "@lessor/client";
import { parseKeyValues, STDIN_ARG, UsageError } from "../input.js";
import { asFormat, defineCommand, FORMAT_OPTION, processIo as io, saveToken, withClient } from "../context.js";
import { printAuth } from "./tokens.js";

export interface CliLoginMethod {
  /** Where the method is usually mounted: the default of -path. */
  defaultPath: string;
  /** The key=value arguments it takes, for help and errors, e.g. "role=R jwt=@FILE". */
  usage: string;
  /** The login fields from the command's key=value arguments (files already read); UsageError when they will not do. */
  loginData(args: Record<string, unknown>): Promise<Record<string, unknown>>;
}

const methods = new Map<string, CliLoginMethod>();

/** Adds a -method the CLI can log in with. */
export function registerCliLoginMethod(name: string, method: CliLoginMethod): void {
  if (methods.has(name) || name === "token") throw new Error(`a login method "${name}" is already registered`);
  methods.set(name, method);
}

/** A method whose login fields are the arguments as given; `required` must be among them. */
function asGiven(name: string, defaultPath: string, usage: string, required: readonly string[]): void {
  registerCliLoginMethod(name, {
    defaultPath,
    usage,
    loginData: async (args) => {
      if (required.some((field) => args[field] === undefined)) throw new UsageError(`-method=${name} takes ${usage}`);
      return args;
    },
  });
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

asGiven("jwt", "jwt", "role=ROLE jwt=@FILE", ["jwt"]);
asGiven("approle", "approle", "role_id=ROLE_ID secret_id=SECRET_ID (or secret_id=@FILE)", ["role_id"]);
// The connection's client certificate is the proof: LESSOR_CLIENT_CERT and LESSOR_CLIENT_KEY.
asGiven("cert", "cert", "[name=ROLE] (with LESSOR_CLIENT_CERT and LESSOR_CLIENT_KEY)", []);
// As `vault login -method=aws`: a GetCallerIdentity request signed with the AWS SDK's default chain.
registerCliLoginMethod("aws", {
  defaultPath: "aws",
  usage: "[role=ROLE] [header_value=SERVER_ID] [region=REGION]",
  loginData: (args) => awsIamLoginData({ role: text(args.role), serverIdHeaderValue: text(args.header_value), region: text(args.region) }),
});

const SAVED = `Success! You are now authenticated. The token information displayed below
is already stored in ~/.lessor-token. You do NOT need to run "lessor login"
again. Future Lessor requests will automatically use this token.
`;
const NOT_SAVED = `The token was not stored (-no-store). Set the LESSOR_TOKEN environment
variable or pass the token below with each request to Lessor.
`;

export const loginCommand = defineCommand({
  command: "login [args..]",
  describe: "Log in: `lessor login TOKEN`, or `lessor login -method=jwt role=R jwt=@FILE` (stores the token in ~/.lessor-token)",
  builder: (y) =>
    y
      .positional("args", { type: "string", array: true, describe: "The token (-method=token), or the method's key=value login fields" })
      .option("method", { type: "string", default: "token", describe: `Auth method: token, ${[...methods.keys()].join(", ")}` })
      .option("path", { type: "string", describe: "Where the method is mounted under auth/ (default: its usual path)" })
      .option("no-store", { type: "boolean", default: false, describe: "Only print the token; do not store it" })
      .option("format", FORMAT_OPTION)
      .option("field", { type: "string", describe: "Print only this field, e.g. token" }),
  handler: (argv) =>
    withClient(argv, "authenticating", async (c) => {
      const args = argv.args ?? [];
      const { token, info } = argv.method === "token" ? await withToken(c, args) : await withMethod(c, argv.method, argv.path, args);
      const store = !argv["no-store"];
      if (store) saveToken(token);
      else io.err(NOT_SAVED);
      if (store && process.env.LESSOR_TOKEN) {
        io.err("WARNING! The LESSOR_TOKEN environment variable is set! It takes precedence over ~/.lessor-token; unset it or update its value.\n");
      }
      if (argv.field === undefined && asFormat(argv.format) === "table") io.out(`${store ? SAVED : "Success! You are now authenticated.\n"}\n`);
      printAuth(token, info, argv.format, argv.field);
    }),
});

/** `lessor login TOKEN` (or `-` for standard input): checks the token by looking it up. */
async function withToken(c: LessorClient, args: string[]) {
  if (args.length !== 1) throw new UsageError("give one token: lessor login TOKEN (or - to read it from standard input), or -method=NAME with its fields");
  const [given = ""] = args;
  const token = given === "-" || given === STDIN_ARG ? io.stdin().trim() : given;
  const probe = new LessorClient({ address: c.address, token });
  try {
    return { token, info: await probe.tokens.lookupSelf() };
  } finally {
    probe.close();
  }
}

async function withMethod(c: LessorClient, name: string, path: string | undefined, args: string[]) {
  const method = methods.get(name);
  if (!method) {
    throw new UsageError(`unknown auth method "${name}"; the CLI logs in with: token, ${[...methods.keys()].join(", ")} (others: lessor write auth/<path>/login ...)`);
  }
  return c.login(path ?? method.defaultPath, await method.loginData(parseKeyValues(args, io.stdin)));
}
