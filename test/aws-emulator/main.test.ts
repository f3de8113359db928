// The emulator as a user starts it (node dist/tools/aws-emulator/main.js):
// the lines it prints are shell `export`s that, pasted into bash, give the
// AWS SDK an endpoint and a key the emulator accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

const MAIN = fileURLToPath(new URL('../../tools/aws-emulator/main.js', import.meta.url));

test('the emulator prints export lines a shell takes as they are', async (t) => {
  const proc = spawn(process.execPath, [MAIN, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  t.after(async () => {
    proc.kill('SIGTERM');
    await exited;
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the emulator printed no admin line:\n${out}`)), 15_000);
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Admin API:')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const exports = out.split('\n').filter((line) => line.startsWith('export '));
  assert.deepEqual(
    exports.map((line) => /^export (\w+)=/.exec(line)?.[1]),
    ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'],
  );

  // What bash makes of them, pasted as printed.
  const printed = execFileSync('bash', ['-c', `${exports.join('\n')}\nenv`], { env: {}, encoding: 'utf8' });
  const env = Object.fromEntries(printed.split('\n').filter((l) => l.startsWith('AWS_')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.match(env.AWS_ENDPOINT_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(env.AWS_REGION, 'us-east-1');

  const sts = new STSClient({
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' },
  });
  t.after(() => sts.destroy());
  const who = await sts.send(new GetCallerIdentityCommand({}));
  assert.match(who.Arn ?? '', /^arn:aws:iam::\d{12}:root$/);
});
