/**
 * CLI: `node dist/tools/aws-emulator/main.js --port N [--host H]
 * [--account-id ID] [--root-access-key-id K --root-secret-access-key S]
 * [--key-activation-delay-ms N]`. Prints the endpoint and root key as `export`
 * lines for a shell, and stops cleanly on SIGINT/SIGTERM.
 */

import { parseArgs } from 'node:util';
import { startAwsEmulator } from './index.js';

const USAGE = `Usage: aws-emulator [--port N] [--host H] [--account-id ID]
                    [--root-access-key-id K --root-secret-access-key S]
                    [--key-activation-delay-ms N]`;

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return Number(value);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'account-id': { type: 'string' },
      'root-access-key-id': { type: 'string' },
      'root-secret-access-key': { type: 'string' },
      'key-activation-delay-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const emulator = await startAwsEmulator({
    port: integer(values.port, 'port') ?? 0,
    host: values.host,
    accountId: values['account-id'],
    rootAccessKeyId: values['root-access-key-id'],
    rootSecretAccessKey: values['root-secret-access-key'],
    keyActivationDelayMs: integer(values['key-activation-delay-ms'], 'key-activation-delay-ms'),
  });
  // `export` lines, so starting Lessor against the emulator is a paste away
  // (the server needs AWS_ENDPOINT_URL; the CLI user the keys for aws/config/root).
  const exports: Array<[string, string]> = [
    ['AWS_ENDPOINT_URL', emulator.endpoint],
    ['AWS_ACCESS_KEY_ID', emulator.rootAccessKeyId],
    ['AWS_SECRET_ACCESS_KEY', emulator.rootSecretAccessKey],
    ['AWS_REGION', 'us-east-1'],
  ];
  process.stdout.write(
    [
      `AWS IAM/STS emulator listening on ${emulator.endpoint} (account ${emulator.accountId})`,
      'Run these in each shell that starts `lessor server` or uses these keys:',
      '',
      ...exports.map(([name, value]) => `export ${name}='${value}'`),
      '',
      `Admin API: ${emulator.endpoint}/_emulator/state`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping\n`);
    emulator.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`error while stopping: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  process.stderr.write(`aws-emulator: ${e instanceof Error ? e.message : String(e)}\n${USAGE}\n`);
  process.exit(2);
});
