// The IAM/STS emulator and AWS SDK clients pointed at it, for tests.
import { IAMClient } from "@aws-sdk/client-iam";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { LessorClient } from "@lessor/client";
import { startAwsEmulator, type AwsEmulator } from "../../tools/aws-emulator/index.js";
import { clientFor, startServer, type ServerProcess, type StartServerOptions } from "./processes.js";

export { startAwsEmulator, type AwsEmulator };

/** Environment for a server process: the AWS SDK talks to the emulator only. */
export function awsEnv(emulator: AwsEmulator): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) env[key] = undefined;
  return { ...env, AWS_ENDPOINT_URL: emulator.endpoint, AWS_EC2_METADATA_DISABLED: "true" };
}

/**
 * A fresh emulator and a server whose AWS SDK talks to it, with a root client
 * (made by `connect`: a TLS server needs its CA); all stopped after the test.
 */
export async function startWithEmulator(
  t: { after: (fn: () => Promise<void>) => void },
  options: StartServerOptions = {},
  connect: (server: ServerProcess) => LessorClient = clientFor,
): Promise<{ emulator: AwsEmulator; server: ServerProcess; client: LessorClient }> {
  const emulator = await startAwsEmulator({ port: 0 });
  const server = await startServer({ ...options, env: { ...awsEnv(emulator), ...options.env } });
  const client = connect(server);
  t.after(async () => {
    client.close();
    await server.stop();
    await emulator.close();
  });
  return { emulator, server, client };
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
