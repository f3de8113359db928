// A real server process with the aws engine pointed at the emulator, for client tests.
import { LessorClient } from "@lessor/client";
import { type ServerProcess } from "../helpers/processes.js";
import { EC2_POLICY, type AwsEmulator, startWithEmulator } from "../helpers/aws.js";

export interface AwsSetup {
  emulator: AwsEmulator;
  server: ServerProcess;
  client: LessorClient;
}

/** Server + emulator, aws mounted with the given lease TTLs and a role "deploy"; stopped after the test. */
export async function awsSetup(
  t: { after: (fn: () => Promise<void>) => void },
  ttl: { defaultLeaseTtlSeconds?: number; maxLeaseTtlSeconds?: number } = {},
): Promise<AwsSetup> {
  const { emulator, server, client } = await startWithEmulator(t);
  await client.mounts.enable("aws", ttl);
  await client.write("aws/config/root", { access_key: emulator.rootAccessKeyId, secret_key: emulator.rootSecretAccessKey, region: "us-east-1" });
  await client.write("aws/roles/deploy", { policy_document: EC2_POLICY });
  return { emulator, server, client };
}
