// aws/config/root: the credentials and endpoints the engine uses. Written,
// never read back: the secret key is write-only.
import { LessorError } from "../../errors.js";
import { definePath, type PathSpec } from "../framework/types.js";
import type { AwsBackend } from "./index.js";
import type { RootConfig } from "./clients.js";

const ENDPOINT = /^https?:\/\/[^\s/$.?#][^\s]*$/i;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

const checkEndpoint = (v: unknown) => (typeof v === "string" && ENDPOINT.test(v) ? undefined : "must be an http:// or https:// URL");
const checkRegion = (v: unknown) =>
  typeof v === "string" && REGION.test(v) ? undefined : 'must be an AWS region name such as "us-east-1"';

export function configRootPath(backend: AwsBackend): PathSpec {
  return definePath({
    pattern: "config/root",
    synopsis: "Configure the AWS credentials and endpoints the engine uses.",
    description:
      "The access key and secret key of an IAM user (or none, to use the server's default AWS credential chain), the region, and optional IAM/STS endpoints. The secret key is write-only: reading this path is refused.",
    fields: {
      access_key: { type: "string", description: "AWS access key id. Empty: the AWS SDK's default credential chain." },
      secret_key: { type: "string", writeOnly: true, description: "AWS secret access key (write-only)." },
      region: { type: "string", description: "Region for API calls; default from the SDK's configuration, else us-east-1.", check: checkRegion },
      iam_endpoint: { type: "string", description: "Custom IAM endpoint URL; default from AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL.", check: checkEndpoint },
      sts_endpoint: { type: "string", description: "Custom STS endpoint URL; default from AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL.", check: checkEndpoint },
    },
    operations: {
      async write(req) {
        const existing = (await backend.rootConfig()) ?? {};
        const next: RootConfig = { ...existing };
        for (const name of req.provided) {
          const value = req.fields[name as keyof typeof req.fields];
          if (typeof value === "string") (next as Record<string, unknown>)[name] = value === "" ? undefined : value;
        }
        if ((next.access_key === undefined) !== (next.secret_key === undefined)) {
          throw LessorError.invalidField(
            next.access_key === undefined ? "access_key" : "secret_key",
            "access_key and secret_key go together: give both, or neither to use the default credential chain",
          );
        }
        await backend.storage.put("config/root", JSON.parse(JSON.stringify(next)));
        await backend.resetClients();
        return {};
      },
    },
  });
}
