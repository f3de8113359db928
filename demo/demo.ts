// `npm run demo`: the three reference walkthroughs, for real. An IAM/STS
// emulator that speaks AWS's wire protocol stands in for an AWS account; a
// dev server and the real `lessor` CLI do the rest. Every step's output is
// shown and checked; the demo exits non-zero if any step differs.
import { rmSync } from "node:fs";
import { startServer, tempDir } from "../test/helpers/processes.js";
import { awsEnv, startAwsEmulator, whoAmI } from "../test/helpers/aws.js";
import { makeBinDir, runStep, type Shell } from "./runner.js";
import { SEED_ROOT_ACCESS_KEY, SEED_ROOT_SECRET_KEY, WALKTHROUGHS } from "./walkthroughs.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = "") => process.stdout.write(`${s}\n`);

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
      const server = await startServer({ dev: true, home, env: awsEnv(emulator) });
      say(dim(`lessor server -dev is listening on ${server.address}; its root token is in ~/.lessor-token`));
      const shell: Shell = {
        cwd: work,
        env: { ...process.env, ...awsEnv(emulator), HOME: home, LESSOR_ADDR: server.address, PATH: `${makeBinDir(`${work}/bin`)}:${process.env.PATH ?? ""}` },
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
            const who = await whoAmI(emulator, akid, secret);
            if ("arn" in who) say(dim(`# The new key works: sts:GetCallerIdentity says ${who.arn}`));
            else {
              failures++;
              say(`!! the new key does not work: ${who.error}`);
            }
          }
          if (issued && /revoke/.test(step.command) && result.status === 0) {
            const who = await whoAmI(emulator, issued.akid, issued.secret);
            if ("arn" in who) {
              failures++;
              say("!! the revoked key still works");
            } else say(dim(`# After revocation the key is refused: ${who.error}`));
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
