// An ordinary AWS SDK v3 program that knows nothing of Lessor: its client is
// made with no options, so region, endpoint and credentials all come from the
// SDK's default chain, configured by environment variables alone.
//
//   node sts-caller.js N    N calls of STS GetCallerIdentity
//   node sts-caller.js 0    calls until standard input closes
//
// Prints one JSON line per call: {"t", "arn"} or {"t", "error"}.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

const calls = Number(process.argv[2] ?? "1");
let open = true;
process.stdin.on("end", () => (open = false));
process.stdin.resume();

const sts = new STSClient({});
for (let i = 0; calls === 0 ? open : i < calls; i++) {
  try {
    const who = await sts.send(new GetCallerIdentityCommand({}));
    process.stdout.write(`${JSON.stringify({ t: Date.now(), arn: who.Arn })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ t: Date.now(), error: `${(err as Error).name}: ${(err as Error).message}` })}\n`);
  }
  if (calls === 0) await new Promise((r) => setTimeout(r, 100));
}
sts.destroy();
process.exit(0);
