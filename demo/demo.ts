// `npm run demo`: the three reference walkthroughs, for real. An IAM/STS
// emulator that speaks AWS's wire protocol stands in for an AWS account; a
// dev server and the real `lessor` CLI do the rest. Every step's output is
// shown and checked; the demo exits non-zero if any step differs.
import { rmSync } from "node:fs";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { startAwsEmulator, type AwsEmulator } from "../tools/aws-emulator/index.js";
import { startServer, tempDir } from "../test/helpers/processes.js";
import { makeBinDir, runStep, type Shell } from "./runner.js";
import { SEED_ROOT_ACCESS_KEY, SEED_ROOT_SECRET_KEY, WALKTHROUGHS } from "./walkthroughs.js";

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = "") => process.stdout.write(`${s}\n`);

/** Environment that sends the AWS SDK to the emulator and nowhere else. */
export function awsEnvFor(emulator: AwsEmulator): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("AWS_")) delete env[key];
  return { ...env, AWS_ENDPOINT_URL: emulator.endpoint, AWS_EC2_METADATA_DISABLED: "true" };
}

async function callerArn(emulator: AwsEmulator, accessKeyId: string, secretAccessKey: string): Promise<string> {
  const sts = new STSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return id.Arn ?? "";
  } finally {
    sts.destroy();
  }
}

async function main(): Promise<number> {
  const emulator = await startAwsEmulator({ port: 0, rootAccessKeyId: SEED_ROOT_ACCESS_KEY, rootSecretAccessKey: SEED_ROOT_SECRET_KEY });
  say(bold("Lessor demo: the reference walkthroughs, end to end"));
  say(dim(`IAM/STS emulator (AWS Query protocol, SigV4-checked) at ${emulator.endpoint}, account ${emulator.accountId}`));
  let failures = 0;
  const work = tempDir("demo");
  try {
    for (const walkthrough of WALKTHROUGHS) {
      say();
      say(bold(`=== ${walkthrough.name} (${walkthrough.seed})`));
      const home = tempDir("demo-home");
      const server = await startServer({ dev: true, home, env: awsEnvFor(emulator) });
      say(dim(`lessor server -dev is listening on ${server.address}; its root token is in ~/.lessor-token`));
      const shell: Shell = {
        cwd: work,
        env: { ...awsEnvFor(emulator), HOME: home, LESSOR_ADDR: server.address, PATH: `${makeBinDir(`${work}/bin`)}:${process.env.PATH ?? ""}` },
        vars: {},
      };
      try {
        let issued: { akid: string; secret: string } | undefined;
        for (const step of walkthrough.steps) {
          say();
          if (step.note) say(dim(`# ${step.note}`));
          say(`$ ${step.command.split("\n").join("\n> ")}`);
          const result = await runStep(step, shell);
          if (result.stdout) process.stdout.write(result.stdout);
          if (result.stderr) process.stdout.write(result.stderr);
          if (result.problems.length > 0) {
            failures++;
            say(`!! this step did not print what the walkthrough shows:\n   ${result.problems.join("\n   ")}`);
          }
          const akid = /^access_key\s+(\S+)$/m.exec(result.stdout)?.[1];
          const secret = /^secret_key\s+(\S+)$/m.exec(result.stdout)?.[1];
          if (akid && secret) {
            issued = { akid, secret };
            const arn = await callerArn(emulator, akid, secret);
            say(dim(`# The new key works: sts:GetCallerIdentity says ${arn}`));
          }
          if (issued && /revoke/.test(step.command) && result.status === 0) {
            const rejected = await callerArn(emulator, issued.akid, issued.secret).then(
              () => undefined,
              (err: Error) => err.name,
            );
            if (rejected === undefined) {
              failures++;
              say("!! the revoked key still works");
            } else say(dim(`# After revocation the key is refused: ${rejected}`));
            issued = undefined;
          }
        }
        const users = emulator.listUsers();
        say();
        say(dim(`# IAM users left in the account: ${users.length}`));
        if (users.length > 0) failures++;
      } finally {
        await server.stop();
        rmSync(home, { recursive: true, force: true });
      }
    }
  } finally {
    await emulator.close();
    rmSync(work, { recursive: true, force: true });
  }
  say();
  say(failures === 0 ? bold("Demo finished: every step printed what the walkthroughs show.") : bold(`Demo finished with ${failures} problem(s).`));
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main();
