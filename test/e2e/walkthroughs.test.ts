// Each reference walkthrough, run through bash and the real CLI against a
// real server and the IAM emulator: every line printed must be what the
// walkthrough shows (ids and keys matched by shape).
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { makeBinDir, runStep, type Shell } from "../../demo/runner.js";
import { SEED_ROOT_ACCESS_KEY, SEED_ROOT_SECRET_KEY, WALKTHROUGHS } from "../../demo/walkthroughs.js";
import { startServer, tempDir } from "../helpers/processes.js";
import { awsEnv, startAwsEmulator, whoAmI } from "../helpers/aws.js";

for (const walkthrough of WALKTHROUGHS) {
  test(`walkthrough: ${walkthrough.name} (${walkthrough.seed})`, async (t) => {
    const emulator = await startAwsEmulator({ port: 0, rootAccessKeyId: SEED_ROOT_ACCESS_KEY, rootSecretAccessKey: SEED_ROOT_SECRET_KEY });
    const home = tempDir("home");
    const work = tempDir("work");
    const server = await startServer({ dev: true, home, env: awsEnv(emulator) });
    t.after(async () => {
      await server.stop();
      await emulator.close();
      rmSync(home, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });
    const shell: Shell = {
      cwd: work,
      env: { ...process.env, ...awsEnv(emulator), HOME: home, LESSOR_ADDR: server.address, PATH: `${makeBinDir(`${work}/bin`)}:${process.env.PATH ?? ""}` },
      vars: {},
    };
    let issued: { akid: string; secret: string } | undefined;
    for (const step of walkthrough.steps) {
      const result = await runStep(step, shell);
      assert.deepEqual(result.problems, [], `step \`${step.command.split("\n")[0]}\`:\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      const akid = /^access_key\s+(\S+)$/m.exec(result.stdout)?.[1];
      const secret = /^secret_key\s+(\S+)$/m.exec(result.stdout)?.[1];
      if (akid && secret) {
        issued = { akid, secret };
        const who = await whoAmI(emulator, akid, secret);
        assert.ok("arn" in who, `issued key should work: ${JSON.stringify(who)}`);
        assert.match(who.arn, /:user\/lessor-root-/);
        assert.equal(emulator.listUsers().length, 1);
      }
    }
    assert.ok(issued, "the walkthrough issued a key");
    assert.deepEqual(await whoAmI(emulator, issued.akid, issued.secret), { error: "InvalidClientTokenId" });
    assert.deepEqual(emulator.listUsers(), [], "no IAM user is left after revoke");
  });
}
