import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AttachRolePolicyCommand,
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  DeleteUserPolicyCommand,
  EnableMFADeviceCommand,
  type IAMClient,
  ListUsersCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  AssumeRoleCommand,
  type Credentials,
  GetCallerIdentityCommand,
  GetFederationTokenCommand,
  GetSessionTokenCommand,
  type STSClient,
} from '@aws-sdk/client-sts';
import { type AwsEmulator, startAwsEmulator, totp } from '../../tools/aws-emulator/index.js';
import { ALLOW_ALL, type Creds, expectAwsError, iamClient, policyDoc, stsClient } from './helpers.js';

let emu: AwsEmulator;
let iam: IAMClient;
let rootSts: STSClient;
let alice: Creds;
let bob: Creds;
const ACCOUNT = '123456789012';

function temp(c: Credentials | undefined): Creds {
  assert.ok(c?.AccessKeyId !== undefined && c.SecretAccessKey !== undefined && c.SessionToken !== undefined);
  assert.match(c.AccessKeyId, /^ASIA[A-Z0-9]{16}$/);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

async function userWithKey(name: string, policy?: string): Promise<Creds> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  if (policy !== undefined) await iam.send(new PutUserPolicyCommand({ UserName: name, PolicyName: 'p', PolicyDocument: policy }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey;
  assert.ok(key?.AccessKeyId !== undefined && key.SecretAccessKey !== undefined);
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

function trust(statement: object): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', ...statement }] });
}

before(async () => {
  emu = await startAwsEmulator({ port: 0 });
  iam = iamClient(emu);
  rootSts = stsClient(emu);
  alice = await userWithKey('alice');
  bob = await userWithKey('bob', policyDoc([{ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:GetFederationToken'], Resource: '*' }]));
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'for-alice',
      Path: '/app/',
      AssumeRolePolicyDocument: trust({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/alice` } }),
    }),
  );
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'for-alice', PolicyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }));
  await iam.send(new CreateRoleCommand({ RoleName: 'for-account', AssumeRolePolicyDocument: trust({ Principal: { AWS: ACCOUNT } }) }));
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'partner',
      AssumeRolePolicyDocument: trust({ Principal: { AWS: '*' }, Condition: { StringEquals: { 'sts:ExternalId': 'secret-123' } } }),
    }),
  );
});

after(async () => {
  iam.destroy();
  await emu.close();
});

describe('GetCallerIdentity', () => {
  test('root and IAM user', async () => {
    const root = await rootSts.send(new GetCallerIdentityCommand({}));
    assert.deepEqual([root.Account, root.Arn, root.UserId], [ACCOUNT, `arn:aws:iam::${ACCOUNT}:root`, ACCOUNT]);
    const user = await stsClient(emu, alice).send(new GetCallerIdentityCommand({}));
    assert.equal(user.Arn, `arn:aws:iam::${ACCOUNT}:user/alice`);
    assert.match(user.UserId ?? '', /^AIDA[A-Z0-9]{17}$/);
  });
});

describe('AssumeRole', () => {
  test('a principal named in the trust policy gets role credentials that work', async () => {
    const out = await stsClient(emu, alice).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/app/for-alice`, RoleSessionName: 'lease-1', DurationSeconds: 900 }),
    );
    const creds = temp(out.Credentials);
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/for-alice/lease-1`);
    assert.match(out.AssumedRoleUser?.AssumedRoleId ?? '', /^AROA[A-Z0-9]{17}:lease-1$/);
    const expiresIn = (out.Credentials?.Expiration?.getTime() ?? 0) - emu.now().getTime();
    assert.ok(expiresIn > 890_000 && expiresIn <= 900_000, `expires in ${expiresIn} ms`);

    const who = await stsClient(emu, creds).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/for-alice/lease-1`);
    assert.equal(who.UserId, out.AssumedRoleUser?.AssumedRoleId);
    // The role's IAMFullAccess applies to the session.
    await iamClient(emu, creds).send(new ListUsersCommand({}));
  });

  test('nonexistent roles and untrusted callers are AccessDenied as AWS words it', async () => {
    const ghost = `arn:aws:iam::${ACCOUNT}:role/ghost`;
    await expectAwsError(
      stsClient(emu, alice).send(new AssumeRoleCommand({ RoleArn: ghost, RoleSessionName: 's1' })),
      'AccessDenied',
      403,
      `User: arn:aws:iam::${ACCOUNT}:user/alice is not authorized to perform: sts:AssumeRole on resource: ${ghost}`,
    );
    await expectAwsError(
      stsClient(emu, bob).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/app/for-alice`, RoleSessionName: 's1' })),
      'AccessDenied',
      403,
    );
    await expectAwsError(
      rootSts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/app/for-alice`, RoleSessionName: 's1' })),
      'AccessDenied',
      403,
      'Roles may not be assumed by root accounts.',
    );
  });

  test('an explicit Deny in the caller’s policies wins over a trust policy naming it', async () => {
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'alice',
        PolicyName: 'no-partner',
        PolicyDocument: policyDoc([{ Effect: 'Deny', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${ACCOUNT}:role/partner` }]),
      }),
    );
    try {
      await expectAwsError(
        stsClient(emu, alice).send(
          new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/partner`, RoleSessionName: 'd1', ExternalId: 'secret-123' }),
        ),
        'AccessDenied',
        403,
        /with an explicit deny in an identity-based policy$/,
      );
      // The Deny is scoped to one role; the role naming alice still works.
      await stsClient(emu, alice).send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/app/for-alice`, RoleSessionName: 'd2' }),
      );
    } finally {
      await iam.send(new DeleteUserPolicyCommand({ UserName: 'alice', PolicyName: 'no-partner' }));
    }
  });

  test('trusting the account delegates to the caller’s own policies', async () => {
    const arn = `arn:aws:iam::${ACCOUNT}:role/for-account`;
    await expectAwsError(
      stsClient(emu, alice).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'x1' })),
      'AccessDenied',
      403,
      /because no identity-based policy allows the sts:AssumeRole action/,
    );
    const out = await stsClient(emu, bob).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'x2' }));
    temp(out.Credentials);
  });

  test('ExternalId condition must match', async () => {
    const arn = `arn:aws:iam::${ACCOUNT}:role/partner`;
    const sts = stsClient(emu, alice);
    await expectAwsError(sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'p1' })), 'AccessDenied', 403);
    await expectAwsError(
      sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'p1', ExternalId: 'wrong-id' })),
      'AccessDenied',
      403,
    );
    await sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'p1', ExternalId: 'secret-123' }));
  });

  test('parameter rules: session name, duration bounds, MaxSessionDuration, token code', async () => {
    const arn = `arn:aws:iam::${ACCOUNT}:role/app/for-alice`;
    const sts = stsClient(emu, alice);
    await expectAwsError(sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'a' })), 'ValidationError', 400, /roleSessionName/);
    await expectAwsError(
      sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'has space' })),
      'ValidationError',
      400,
      /regular expression pattern/,
    );
    await expectAwsError(
      sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'ok', DurationSeconds: 899 })),
      'ValidationError',
      400,
      /greater than or equal to 900/,
    );
    await expectAwsError(
      sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'ok', DurationSeconds: 3601 })),
      'ValidationError',
      400,
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
    await expectAwsError(
      sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'ok', SerialNumber: 'arn:aws:iam::123456789012:mfa/x', TokenCode: '12345' })),
      'ValidationError',
      400,
      /tokenCode/,
    );
    await sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'ok', DurationSeconds: 3600 }));
  });

  test('a session policy narrows the role’s permissions; malformed ones are refused', async () => {
    const arn = `arn:aws:iam::${ACCOUNT}:role/app/for-alice`;
    const out = await stsClient(emu, alice).send(
      new AssumeRoleCommand({
        RoleArn: arn,
        RoleSessionName: 'narrow',
        Policy: policyDoc([{ Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' }]),
      }),
    );
    assert.ok((out.PackedPolicySize ?? 0) > 0);
    const asSession = iamClient(emu, temp(out.Credentials));
    await asSession.send(new ListUsersCommand({}));
    await expectAwsError(
      asSession.send(new CreateUserCommand({ UserName: 'nope' })),
      'AccessDenied',
      403,
      /because no session policy allows the iam:CreateUser action$/,
    );
    await expectAwsError(
      stsClient(emu, alice).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 'bad', Policy: '{"Version":"2012-10-17"}' })),
      'MalformedPolicyDocumentException',
      400,
    );
  });

  test('role chaining is limited to one hour', async () => {
    const first = await stsClient(emu, alice).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/app/for-alice`, RoleSessionName: 'hop1' }),
    );
    await expectAwsError(
      stsClient(emu, temp(first.Credentials)).send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/partner`, RoleSessionName: 'hop2', ExternalId: 'secret-123', DurationSeconds: 7200 }),
      ),
      'ValidationError',
      400,
      /role chaining/,
    );
  });

  test('expired credentials answer ExpiredToken (emulator clock)', async () => {
    const out = await stsClient(emu, alice).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/app/for-alice`, RoleSessionName: 'short', DurationSeconds: 900 }),
    );
    const sts = stsClient(emu, temp(out.Credentials));
    await sts.send(new GetCallerIdentityCommand({}));
    // Expiration is reported (and enforced) in whole seconds.
    emu.advanceClock(898);
    await sts.send(new GetCallerIdentityCommand({}));
    emu.advanceClock(3);
    await expectAwsError(
      sts.send(new GetCallerIdentityCommand({})),
      'ExpiredToken',
      403,
      'The security token included in the request is expired',
    );
    // A wrong session token is not "expired", it is invalid.
    const c = temp(out.Credentials);
    await expectAwsError(
      stsClient(emu, { ...c, sessionToken: c.sessionToken + 'x' }).send(new GetCallerIdentityCommand({})),
      'InvalidClientTokenId',
      403,
    );
  });
});

describe('GetFederationToken', () => {
  test('name and duration rules', async () => {
    await expectAwsError(rootSts.send(new GetFederationTokenCommand({ Name: 'x' })), 'ValidationError', 400, /name/);
    await expectAwsError(rootSts.send(new GetFederationTokenCommand({ Name: 'x'.repeat(33) })), 'ValidationError', 400);
    await expectAwsError(
      rootSts.send(new GetFederationTokenCommand({ Name: 'fed', DurationSeconds: 129601 })),
      'ValidationError',
      400,
      /less than or equal to 129600/,
    );
  });

  test('root sessions are capped at one hour; user sessions default to 12 hours', async () => {
    const root = await rootSts.send(new GetFederationTokenCommand({ Name: 'root-fed', DurationSeconds: 7200, Policy: ALLOW_ALL }));
    const rootTtl = (root.Credentials?.Expiration?.getTime() ?? 0) - emu.now().getTime();
    assert.ok(rootTtl > 3500_000 && rootTtl <= 3600_000, `root ttl ${rootTtl}`);
    assert.equal(root.FederatedUser?.Arn, `arn:aws:sts::${ACCOUNT}:federated-user/root-fed`);
    assert.equal(root.FederatedUser?.FederatedUserId, `${ACCOUNT}:root-fed`);

    const user = await stsClient(emu, bob).send(new GetFederationTokenCommand({ Name: 'bob-fed' }));
    const userTtl = (user.Credentials?.Expiration?.getTime() ?? 0) - emu.now().getTime();
    assert.ok(userTtl > 43100_000 && userTtl <= 43200_000, `user ttl ${userTtl}`);
    const who = await stsClient(emu, temp(user.Credentials)).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Arn, `arn:aws:sts::${ACCOUNT}:federated-user/bob-fed`);
    assert.equal(who.UserId, `${ACCOUNT}:bob-fed`);
  });

  test('needs sts:GetFederationToken for users; not callable with session credentials; IAM refuses the token', async () => {
    await expectAwsError(stsClient(emu, alice).send(new GetFederationTokenCommand({ Name: 'alice-fed' })), 'AccessDenied', 403);
    const fed = temp((await rootSts.send(new GetFederationTokenCommand({ Name: 'f2', Policy: ALLOW_ALL }))).Credentials);
    await expectAwsError(
      stsClient(emu, fed).send(new GetFederationTokenCommand({ Name: 'f3' })),
      'AccessDenied',
      403,
      'Cannot call GetFederationToken with session credentials',
    );
    await expectAwsError(iamClient(emu, fed).send(new ListUsersCommand({})), 'InvalidClientTokenId', 403);
  });
});

describe('GetSessionToken', () => {
  test('durations, no session-credential callers, IAM only with MFA', async () => {
    const root = await rootSts.send(new GetSessionTokenCommand({}));
    const rootTtl = (root.Credentials?.Expiration?.getTime() ?? 0) - emu.now().getTime();
    assert.ok(rootTtl > 3500_000 && rootTtl <= 3600_000, `root ttl ${rootTtl}`);
    await expectAwsError(rootSts.send(new GetSessionTokenCommand({ DurationSeconds: 800 })), 'ValidationError', 400);

    const aliceSession = await stsClient(emu, alice).send(new GetSessionTokenCommand({}));
    const ttl = (aliceSession.Credentials?.Expiration?.getTime() ?? 0) - emu.now().getTime();
    assert.ok(ttl > 43100_000 && ttl <= 43200_000, `user ttl ${ttl}`);
    const session = temp(aliceSession.Credentials);
    assert.equal((await stsClient(emu, session).send(new GetCallerIdentityCommand({}))).Arn, `arn:aws:iam::${ACCOUNT}:user/alice`);
    await expectAwsError(
      stsClient(emu, session).send(new GetSessionTokenCommand({})),
      'AccessDenied',
      403,
      'Cannot call GetSessionToken with session credentials',
    );
    await expectAwsError(iamClient(emu, session).send(new ListUsersCommand({})), 'InvalidClientTokenId', 403);
  });

  test('with a valid MFA code the session can call IAM', async () => {
    const carol = await userWithKey('carol', ALLOW_ALL);
    const device = (await iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: 'carol-phone' }))).VirtualMFADevice;
    const seed = Buffer.from(device?.Base32StringSeed ?? new Uint8Array()).toString('ascii');
    const serial = device?.SerialNumber ?? '';
    const now = Date.now();
    await iam.send(
      new EnableMFADeviceCommand({
        UserName: 'carol',
        SerialNumber: serial,
        AuthenticationCode1: totp(seed, now),
        AuthenticationCode2: totp(seed, now + 30_000),
      }),
    );
    const wrong = totp(seed, now) === '123456' ? '654321' : '123456';
    await expectAwsError(
      stsClient(emu, carol).send(new GetSessionTokenCommand({ SerialNumber: serial, TokenCode: wrong })),
      'AccessDenied',
      403,
      /MultiFactorAuthentication failed/,
    );
    const out = await stsClient(emu, carol).send(new GetSessionTokenCommand({ SerialNumber: serial, TokenCode: totp(seed, Date.now()) }));
    await iamClient(emu, temp(out.Credentials)).send(new ListUsersCommand({}));
  });
});
