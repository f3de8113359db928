import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { CreateAccessKeyCommand, CreateUserCommand, DeleteAccessKeyCommand, DeleteUserCommand, type IAMClient, ListAccessKeysCommand, ListUsersCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type AwsEmulator, type SeededUser, type StateSnapshot, startAwsEmulator } from '../../tools/aws-emulator/index.js';
import { expectAwsError, iamClient, policyDoc, rootCreds, stsClient } from './helpers.js';

let emu: AwsEmulator;
let iam: IAMClient;

before(async () => {
  emu = await startAwsEmulator({ port: 0 });
  iam = iamClient(emu);
});

after(async () => {
  iam.destroy();
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${emu.endpoint}/_emulator/${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, json: (await res.json()) as unknown };
}

describe('faults', () => {
  test('a Throttling fault is retried by the SDK, then the call succeeds', async () => {
    emu.addFault({ action: 'GetCallerIdentity', code: 'Throttling', count: 2 });
    const sts = stsClient(emu, rootCreds(emu), 3);
    const out = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(out.$metadata.attempts, 3);
    assert.equal(out.Account, emu.accountId);
    const counts = emu.counts();
    assert.equal(counts.calls['GetCallerIdentity'], 3);
    assert.deepEqual(counts.errors['GetCallerIdentity'], { Throttling: 2 });
    assert.deepEqual(emu.listFaults(), [], 'an exhausted fault is gone');
  });

  test('when faults outlast the retries the SDK surfaces the AWS error', async () => {
    emu.addFault({ action: 'iam:ListUsers', code: 'ServiceFailure' });
    const err = await expectAwsError(iamClient(emu, rootCreds(emu), 2).send(new ListUsersCommand({})), 'ServiceFailureException', 500);
    assert.equal(err.$metadata?.attempts, 2);
    assert.equal(err.$fault, 'server');
    // Other actions are unaffected.
    await stsClient(emu).send(new GetCallerIdentityCommand({}));
  });

  test('any error code, status and message can be injected; "*" matches every action', async () => {
    emu.addFault({ code: 'NoSuchEntity', message: 'injected', count: 1 });
    await expectAwsError(iam.send(new ListUsersCommand({})), 'NoSuchEntityException', 404, 'injected');
    emu.addFault({ action: 'CreateUser', code: 'ServiceUnavailable', status: 503, count: 1 });
    await expectAwsError(iam.send(new CreateUserCommand({ UserName: 'u1' })), 'ServiceUnavailable', 503);
    await iam.send(new CreateUserCommand({ UserName: 'u1' }));
    emu.addFault({ action: 'DeleteUser', code: 'Throttling', probability: 0 });
    await iam.send(new DeleteUserCommand({ UserName: 'u1' }));
  });

  test('latency-only rules delay matching calls', async () => {
    emu.addFault({ action: 'GetCallerIdentity', latencyMs: 150, count: 1 });
    const sts = stsClient(emu);
    const t0 = Date.now();
    await sts.send(new GetCallerIdentityCommand({}));
    assert.ok(Date.now() - t0 >= 140, `took ${Date.now() - t0} ms`);
    const t1 = Date.now();
    await sts.send(new GetCallerIdentityCommand({}));
    assert.ok(Date.now() - t1 < 140, 'the rule was used up');
  });

  test('down: requests get no response (a network error) while the admin API keeps answering', async () => {
    emu.setDown(true);
    const sts = stsClient(emu);
    let caught: unknown;
    try {
      await sts.send(new GetCallerIdentityCommand({}));
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Error, 'the call failed');
    const meta = (caught as { $metadata?: { httpStatusCode?: number } }).$metadata;
    assert.equal(meta?.httpStatusCode, undefined, 'no HTTP response was received');
    assert.match(`${(caught as { code?: string }).code ?? ''} ${caught.message}`, /ECONNRESET|socket hang up/);

    const state = await admin('GET', 'faults');
    assert.equal(state.status, 200);
    assert.deepEqual(state.json, { down: true, faults: [] });

    await admin('DELETE', 'faults');
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Account, emu.accountId);
  });

  test('down for a period ends by itself', async () => {
    const set = await admin('POST', 'faults', { down: true, forMs: 200 });
    assert.deepEqual(set.json, { down: true });
    await assert.rejects(stsClient(emu).send(new GetCallerIdentityCommand({})));
    await new Promise((r) => setTimeout(r, 250));
    await stsClient(emu).send(new GetCallerIdentityCommand({}));
  });

  test('the HTTP admin API adds and removes fault rules', async () => {
    const added = await admin('POST', 'faults', { action: 'GetCallerIdentity', code: 'Throttling', count: 5 });
    assert.equal(added.status, 200);
    const id = (added.json as { id: number }).id;
    const listed = (await admin('GET', 'faults')).json as { faults: Array<{ id: number; status: number; remaining: number }> };
    assert.deepEqual(listed.faults.map((f) => [f.id, f.status, f.remaining]), [[id, 400, 5]]);
    await expectAwsError(stsClient(emu).send(new GetCallerIdentityCommand({})), 'Throttling', 400, 'Rate exceeded');
    assert.equal((await admin('DELETE', `faults/${id}`)).status, 200);
    await stsClient(emu).send(new GetCallerIdentityCommand({}));
    assert.equal((await admin('POST', 'faults', { probability: 2, code: 'X' })).status, 400);
    assert.equal((await admin('POST', 'faults', { action: 'GetCallerIdentity' })).status, 400);
  });
});

describe('counts', () => {
  test('calls per action, DeleteUser successes and DeleteUser calls per user name', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'once' }));
    await iam.send(new DeleteUserCommand({ UserName: 'once' }));
    await expectAwsError(iam.send(new DeleteUserCommand({ UserName: 'once' })), 'NoSuchEntityException', 404);
    await iam.send(new CreateUserCommand({ UserName: 'other' }));
    await iam.send(new CreateAccessKeyCommand({ UserName: 'other' }));
    await expectAwsError(iam.send(new DeleteUserCommand({ UserName: 'other' })), 'DeleteConflictException', 409);
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: 'other' }));
    await iam.send(new DeleteAccessKeyCommand({ UserName: 'other', AccessKeyId: keys.AccessKeyMetadata?.[0]?.AccessKeyId }));
    await iam.send(new DeleteUserCommand({ UserName: 'other' }));
    const { json } = await admin('GET', 'counts');
    const counts = json as {
      calls: Record<string, number>;
      errors: Record<string, Record<string, number>>;
      deleteUserSuccesses: Record<string, number>;
      deleteUserCalls: Record<string, number>;
      deleteUserOutcomes: Record<string, Record<string, number>>;
    };
    assert.equal(counts.calls['DeleteUser'], 4);
    assert.equal(counts.calls['CreateUser'], 2);
    assert.deepEqual(counts.deleteUserSuccesses, { once: 1, other: 1 });
    // The second delete of 'once' failed, but it was a second delete all the same.
    assert.deepEqual(counts.deleteUserCalls, { once: 2, other: 2 });
    // 'other' was deleted once: its first call found it still holding a key and deleted nothing.
    assert.deepEqual(counts.deleteUserOutcomes, { once: { Success: 1, NoSuchEntity: 1 }, other: { DeleteConflict: 1, Success: 1 } });
    assert.deepEqual(counts.errors['DeleteUser'], { NoSuchEntity: 1, DeleteConflict: 1 });
    await admin('DELETE', 'counts');
    assert.equal(emu.counts().totalCalls, 0);
    assert.deepEqual(emu.counts().deleteUserCalls, {});
    assert.deepEqual(emu.counts().deleteUserOutcomes, {});
  });
});

describe('clock and settings', () => {
  test('POST /_emulator/clock moves time forward; settings change the key activation delay', async () => {
    const before = emu.now().getTime();
    const moved = await admin('POST', 'clock', { advanceSeconds: 3600 });
    assert.equal(moved.status, 200);
    assert.equal((moved.json as { offsetSeconds: number }).offsetSeconds, 3600);
    assert.ok(emu.now().getTime() - before >= 3600_000);
    assert.equal((await admin('POST', 'clock', { advanceSeconds: -5 })).status, 400);

    const set = await admin('POST', 'settings', { keyActivationDelayMs: 1234 });
    assert.deepEqual(set.json, { keyActivationDelayMs: 1234 });
    assert.equal(emu.keyActivationDelayMs, 1234);
  });
});

describe('state and seed', () => {
  test('GET /_emulator/state shows users with everything they hold', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'visible', Path: '/v/', Tags: [{ Key: 'k', Value: 'v' }] }));
    const { json } = await admin('GET', 'state');
    const state = json as StateSnapshot;
    assert.equal(state.accountId, emu.accountId);
    const user = state.users.find((u) => u.userName === 'visible');
    assert.ok(user !== undefined);
    assert.equal(user.path, '/v/');
    assert.deepEqual(user.tags, [{ Key: 'k', Value: 'v' }]);
    assert.deepEqual(user.accessKeys, []);
    assert.ok(state.policies.some((p) => p.arn === 'arn:aws:iam::aws:policy/AdministratorAccess'));
    const one = await admin('GET', 'users/visible');
    assert.equal((one.json as { userName: string }).userName, 'visible');
    assert.equal((await admin('GET', 'users/absent')).status, 404);
  });

  test('seeding 100,000 users with keys and a policy is fast, and the keys work', async () => {
    const t0 = Date.now();
    const seeded = emu.seed({
      users: 100_000,
      prefix: 'bench-',
      path: '/bench/',
      tags: [{ Key: 'seeded', Value: 'yes' }],
      policyDocument: policyDoc([{ Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' }]),
    });
    const ms = Date.now() - t0;
    assert.equal(seeded.length, 100_000);
    assert.ok(ms < 5000, `seeding took ${ms} ms`);
    assert.equal(new Set(seeded.map((s) => s.accessKeyId)).size, 100_000);

    const sample = seeded[54_321] as SeededUser;
    assert.equal(sample.userName, 'bench-54321');
    const creds = { accessKeyId: sample.accessKeyId, secretAccessKey: sample.secretAccessKey };
    assert.equal((await stsClient(emu, creds).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::${emu.accountId}:user/bench/bench-54321`);
    const page = await iamClient(emu, creds).send(new ListUsersCommand({ MaxItems: 1000, PathPrefix: '/bench/' }));
    assert.equal(page.Users?.length, 1000);
    assert.equal(page.IsTruncated, true);
    await expectAwsError(iamClient(emu, creds).send(new CreateUserCommand({ UserName: 'x' })), 'AccessDenied', 403);
    const snapshot = emu.getUser('bench-99999');
    assert.deepEqual(snapshot?.inlinePolicyNames, ['seed-policy']);
    assert.equal(snapshot?.accessKeys.length, 1);

    // Seeding over existing names is refused as a whole.
    assert.throws(() => emu.seed({ users: 2, prefix: 'bench-' }), /already exists/);
  });

  test('POST /_emulator/seed and /_emulator/reset', async () => {
    const { status, json } = await admin('POST', 'seed', { users: 3, prefix: 'http-' });
    assert.equal(status, 200);
    const seeded = json as SeededUser[];
    assert.deepEqual(seeded.map((s) => s.userName), ['http-0', 'http-1', 'http-2']);
    assert.ok(seeded.every((s) => /^AKIA[A-Z0-9]{16}$/.test(s.accessKeyId)));
    assert.equal((await admin('POST', 'seed', { users: 1, prefix: 'bad prefix ' })).status, 400);
    assert.equal((await admin('POST', 'seed', { users: 2, prefix: 'http-' })).status, 409);

    await admin('POST', 'reset');
    assert.deepEqual(emu.listUsers(), []);
    await expectAwsError(
      stsClient(emu, { accessKeyId: seeded[0]?.accessKeyId ?? '', secretAccessKey: seeded[0]?.secretAccessKey ?? '' }).send(
        new GetCallerIdentityCommand({}),
      ),
      'InvalidClientTokenId',
      403,
    );
    // The root key survives a reset.
    await stsClient(emu).send(new GetCallerIdentityCommand({}));
  });

  test('unknown admin routes are 404', async () => {
    assert.equal((await admin('GET', 'nothing-here')).status, 404);
  });
});
