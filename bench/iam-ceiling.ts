// The emulator's own ceiling for the calls revoking a lease makes: run in its
// own process (`node dist/bench/iam-ceiling.js <spec.json>`), it deletes
// seeded users (DeleteAccessKey and DeleteUserPolicy together, then
// DeleteUser) through the AWS SDK at a fixed concurrency, as fast as the
// emulator answers (after a warm-up, untimed), and prints
// {"revocationsPerSecond": n} and how busy its core was.
import { readFileSync } from "node:fs";
import { DeleteAccessKeyCommand, DeleteUserCommand, DeleteUserPolicyCommand, IAMClient } from "@aws-sdk/client-iam";
import { z } from "zod";

const specSchema = z.object({
  endpoint: z.string(),
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  policyName: z.string(),
  concurrency: z.number().int().positive(),
  users: z.array(z.object({ userName: z.string(), accessKeyId: z.string() })),
  /** The first users, revoked before the timing starts. */
  warmupUsers: z.number().int().nonnegative(),
});

const spec = specSchema.parse(JSON.parse(readFileSync(z.string().parse(process.argv[2]), "utf8")));
const iam = new IAMClient({
  endpoint: spec.endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey },
  maxAttempts: 1,
  cacheMiddleware: true, // as Lessor's own clients
});
/** Revokes `users` with `concurrency` loops, each one user at a time. */
async function revokeAll(users: typeof spec.users): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      for (let u = users[next++]; u !== undefined; u = users[next++]) {
        // As Lessor revokes: the key and the policy side by side, then the user.
        await Promise.all([
          iam.send(new DeleteAccessKeyCommand({ UserName: u.userName, AccessKeyId: u.accessKeyId })),
          iam.send(new DeleteUserPolicyCommand({ UserName: u.userName, PolicyName: spec.policyName })),
        ]);
        await iam.send(new DeleteUserCommand({ UserName: u.userName }));
      }
    }),
  );
}

// Untimed first, so the timed part runs compiled code, as a server that has been up a while does.
await revokeAll(spec.users.slice(0, spec.warmupUsers));
const timed = spec.users.slice(spec.warmupUsers);
const started = performance.now();
const cpu0 = process.cpuUsage();
await revokeAll(timed);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
// How busy the client's core was: whether the client or the emulator set the ceiling.
const clientBusy = (cpu.user + cpu.system) / 1e6 / seconds;
console.log(JSON.stringify({ revocationsPerSecond: timed.length / seconds, seconds, clientBusy }));
iam.destroy();
