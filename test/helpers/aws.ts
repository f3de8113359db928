// The IAM/STS emulator and AWS SDK clients pointed at it, for tests.
import { IAMClient } from "@aws-sdk/client-iam";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { startAwsEmulator, type AwsEmulator } from "../../tools/aws-emulator/index.js";

export { startAwsEmulator, type AwsEmulator };

/** Environment for a server process: the AWS SDK talks to the emulator only. */
export function awsEnv(emulator: AwsEmulator): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) env[key] = undefined;
  return { ...env, AWS_ENDPOINT_URL: emulator.endpoint, AWS_EC2_METADATA_DISABLED: "true" };
}

export function rootIam(emulator: AwsEmulator): IAMClient {
  return new IAMClient({
    endpoint: emulator.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: emulator.rootAccessKeyId, secretAccessKey: emulator.rootSecretAccessKey },
  });
}

/** Who AWS says a key belongs to, or the error name when the key is refused. */
export async function whoAmI(
  emulator: AwsEmulator,
  accessKeyId: string,
  secretAccessKey: string,
  sessionToken?: string,
): Promise<{ arn: string } | { error: string }> {
  const sts = new STSClient({
    endpoint: emulator.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId, secretAccessKey, sessionToken },
    maxAttempts: 1,
  });
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return { arn: id.Arn ?? "" };
  } catch (err) {
    return { error: (err as Error).name };
  } finally {
    sts.destroy();
  }
}

export const EC2_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: ["ec2:*"], Resource: ["*"] }],
});
