// The emulator's own ceiling for the calls revoking a lease makes: run in its
// own process (`node dist/bench/iam-ceiling.js <spec.json>`), it deletes
// seeded users (DeleteAccessKey, DeleteUserPolicy, DeleteUser) through the
// AWS SDK at a fixed concurrency, as fast as the emulator answers, and prints
// {"revocationsPerSecond": n}.
import { readFileSync } from "node:fs";
import { DeleteAccessKeyCommand, DeleteUserCommand, DeleteUserPolicyCommand, IAMClient } from "@aws-sdk/client-iam";

interface Spec {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  policyName: string;
  concurrency: number;
  users: Array<{ userName: string; accessKeyId: string }>;
}

const spec = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as Spec;
const iam = new IAMClient({
  endpoint: spec.endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey },
  maxAttempts: 1,
  cacheMiddleware: true, // as Lessor's own clients
});
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: spec.concurrency }, async () => {
    while (next < spec.users.length) {
      const u = spec.users[next++] as Spec["users"][number];
      await iam.send(new DeleteAccessKeyCommand({ UserName: u.userName, AccessKeyId: u.accessKeyId }));
      await iam.send(new DeleteUserPolicyCommand({ UserName: u.userName, PolicyName: spec.policyName }));
      await iam.send(new DeleteUserCommand({ UserName: u.userName }));
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ revocationsPerSecond: spec.users.length / seconds, seconds }));
iam.destroy();
