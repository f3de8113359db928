import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  GetUserCommand,
  type IAMClient,
  ListUsersCommand,
  PutGroupPolicyCommand,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type AwsEmulator, startAwsEmulator } from '../../tools/aws-emulator/index.js';
import {
  type Creds,
  errorCode,
  expectAwsError,
  iamClient,
  policyDoc,
  presignedUrl,
  rootCreds,
  signedPost,
  stsClient,
} from './helpers.js';

let emu: AwsEmulator;
let iam: IAMClient;

before(async () => {
  emu = await startAwsEmulator({ port: 0, accountId: '210987654321' });
  iam = iamClient(emu);
});

after(async () => {
  iam.destroy();
  await emu.close();
});

async function userWithKey(name: string): Promise<Creds> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey;
  assert.ok(key?.AccessKeyId !== undefined && key.SecretAccessKey !== undefined);
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

describe('SigV4 authentication', () => {
  test('the configured account id and root key are used', async () => {
    const who = await stsClient(emu).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Account, '210987654321');
    assert.equal(who.Arn, 'arn:aws:iam::210987654321:root');
    assert.match(emu.rootAccessKeyId, /^AKIA[A-Z0-9]{16}$/);
  });

  test('a wrong secret is SignatureDoesNotMatch', async () => {
    const bad = { accessKeyId: emu.rootAccessKeyId, secretAccessKey: emu.rootSecretAccessKey + 'x' };
    await expectAwsError(stsClient(emu, bad).send(new GetCallerIdentityCommand({})), 'SignatureDoesNotMatch', 403, /does not match/);
    await expectAwsError(iamClient(emu, bad).send(new ListUsersCommand({})), 'SignatureDoesNotMatch', 403);
  });

  test('an unknown key is InvalidClientTokenId', async () => {
    const unknown = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
    await expectAwsError(
      stsClient(emu, unknown).send(new GetCallerIdentityCommand({})),
      'InvalidClientTokenId',
      403,
      'The security token included in the request is invalid.',
    );
  });

  test('a deleted key stops working; so does an inactive one until reactivated', async () => {
    const creds = await userWithKey('rotating');
    const sts = stsClient(emu, creds);
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, 'arn:aws:iam::210987654321:user/rotating');

    await iam.send(new UpdateAccessKeyCommand({ UserName: 'rotating', AccessKeyId: creds.accessKeyId, Status: 'Inactive' }));
    await expectAwsError(sts.send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
    await iam.send(new UpdateAccessKeyCommand({ UserName: 'rotating', AccessKeyId: creds.accessKeyId, Status: 'Active' }));
    await sts.send(new GetCallerIdentityCommand({}));

    await iam.send(new DeleteAccessKeyCommand({ UserName: 'rotating', AccessKeyId: creds.accessKeyId }));
    await expectAwsError(sts.send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
    await iam.send(new DeleteUserCommand({ UserName: 'rotating' }));
    await expectAwsError(sts.send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
  });

  test('a long-term key sent with a session token is InvalidClientTokenId', async () => {
    const withToken = { ...rootCreds(emu), sessionToken: 'FwoGZXIvYXdzEXAMPLE' };
    await expectAwsError(stsClient(emu, withToken).send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
  });

  test('keyActivationDelayMs: a new key is unknown for a while (clock advance also activates it)', async () => {
    emu.setKeyActivationDelay(60_000);
    try {
      const creds = await userWithKey('eventual');
      const sts = stsClient(emu, creds);
      await expectAwsError(sts.send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
      emu.advanceClock(61);
      assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Arn, 'arn:aws:iam::210987654321:user/eventual');
    } finally {
      emu.setKeyActivationDelay(0);
    }
  });

  test('raw protocol: missing authentication, stale signatures, wrong scope', async () => {
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const unsigned = await fetch(`${emu.endpoint}/`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(unsigned.status, 403);
    const text = await unsigned.text();
    assert.equal(errorCode(text), 'MissingAuthenticationToken');
    assert.match(text, /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);

    const ok = await signedPost({ endpoint: emu.endpoint, creds: rootCreds(emu), service: 'sts', body });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'text/xml');
    assert.ok((ok.headers.get('x-amzn-requestid') ?? '').length > 0);
    assert.match(await ok.text(), /<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);

    const stale = await signedPost({ endpoint: emu.endpoint, creds: rootCreds(emu), service: 'sts', body, signedAt: Date.now() - 20 * 60_000 });
    assert.equal(stale.status, 403);
    const staleText = await stale.text();
    assert.equal(errorCode(staleText), 'SignatureDoesNotMatch');
    assert.match(staleText, /Signature expired/);

    const wrongScope = await signedPost({ endpoint: emu.endpoint, creds: rootCreds(emu), service: 'iam', body });
    assert.equal(wrongScope.status, 403);
    assert.equal(errorCode(await wrongScope.text()), 'SignatureDoesNotMatch');

    const unknownAction = await signedPost({
      endpoint: emu.endpoint,
      creds: rootCreds(emu),
      service: 'iam',
      body: 'Action=MakeCoffee&Version=2010-05-08',
    });
    assert.equal(unknownAction.status, 400);
    assert.equal(errorCode(await unknownAction.text()), 'InvalidAction');
  });

  test('presigned GET requests are verified too', async () => {
    const url = presignedUrl(emu.endpoint, rootCreds(emu), 'sts', { Action: 'GetCallerIdentity', Version: '2011-06-15' }, 60);
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /<Arn>arn:aws:iam::210987654321:root<\/Arn>/);
    const tampered = await fetch(url.replace('Version=2011-06-15', 'Version=2011-06-15&Extra=1'));
    assert.equal(tampered.status, 403);
    assert.equal(errorCode(await tampered.text()), 'SignatureDoesNotMatch');
  });
});

describe('authorization', () => {
  test('a user without policies is denied with IAM message shape; GetCallerIdentity needs no permission', async () => {
    const creds = await userWithKey('nobody');
    const asUser = iamClient(emu, creds);
    await expectAwsError(
      asUser.send(new CreateUserCommand({ UserName: 'victim' })),
      'AccessDenied',
      403,
      'User: arn:aws:iam::210987654321:user/nobody is not authorized to perform: iam:CreateUser on resource: ' +
        'arn:aws:iam::210987654321:user/victim because no identity-based policy allows the iam:CreateUser action',
    );
    assert.equal(emu.getUser('victim'), undefined);
    await expectAwsError(asUser.send(new GetUserCommand({})), 'AccessDenied', 403, /iam:GetUser/);
    assert.equal((await stsClient(emu, creds).send(new GetCallerIdentityCommand({}))).Arn, 'arn:aws:iam::210987654321:user/nobody');
  });

  test('wildcard Allow grants, an explicit Deny wins', async () => {
    const creds = await userWithKey('creator');
    const asUser = iamClient(emu, creds);
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'creator',
        PolicyName: 'create',
        PolicyDocument: policyDoc([{ Effect: 'Allow', Action: ['iam:Create*', 'iam:ListUsers'], Resource: '*' }]),
      }),
    );
    await asUser.send(new CreateUserCommand({ UserName: 'made-by-creator' }));
    assert.ok(emu.getUser('made-by-creator') !== undefined);
    await expectAwsError(asUser.send(new DeleteUserCommand({ UserName: 'made-by-creator' })), 'AccessDenied', 403);

    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'creator',
        PolicyName: 'no-admins',
        PolicyDocument: policyDoc([
          { Effect: 'Deny', Action: 'iam:CreateUser', Resource: 'arn:aws:iam::210987654321:user/admin-*' },
        ]),
      }),
    );
    await expectAwsError(
      asUser.send(new CreateUserCommand({ UserName: 'admin-x' })),
      'AccessDenied',
      403,
      /with an explicit deny in an identity-based policy$/,
    );
    await asUser.send(new CreateUserCommand({ UserName: 'ordinary' }));
    await asUser.send(new ListUsersCommand({}));
  });

  test('policy variables: ${aws:username} scopes a user to itself', async () => {
    const creds = await userWithKey('selfish');
    await iam.send(
      new PutUserPolicyCommand({
        UserName: 'selfish',
        PolicyName: 'self',
        PolicyDocument: policyDoc([
          { Effect: 'Allow', Action: 'iam:GetUser', Resource: 'arn:aws:iam::210987654321:user/${aws:username}' },
        ]),
      }),
    );
    const asUser = iamClient(emu, creds);
    assert.equal((await asUser.send(new GetUserCommand({}))).User?.UserName, 'selfish');
    await expectAwsError(asUser.send(new GetUserCommand({ UserName: 'creator' })), 'AccessDenied', 403);
  });

  test('group policies and AWS managed policies grant; a permissions boundary limits', async () => {
    const grouped = await userWithKey('grouped');
    await iam.send(new CreateGroupCommand({ GroupName: 'listers' }));
    await iam.send(
      new PutGroupPolicyCommand({
        GroupName: 'listers',
        PolicyName: 'list',
        PolicyDocument: policyDoc([{ Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' }]),
      }),
    );
    await expectAwsError(iamClient(emu, grouped).send(new ListUsersCommand({})), 'AccessDenied', 403);
    await iam.send(new AddUserToGroupCommand({ GroupName: 'listers', UserName: 'grouped' }));
    await iamClient(emu, grouped).send(new ListUsersCommand({}));

    const admin = await userWithKey('admin');
    await iam.send(new AttachUserPolicyCommand({ UserName: 'admin', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }));
    const asAdmin = iamClient(emu, admin);
    await asAdmin.send(new CreateUserCommand({ UserName: 'made-by-admin' }));

    await iam.send(
      new PutUserPermissionsBoundaryCommand({ UserName: 'admin', PermissionsBoundary: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }),
    );
    await asAdmin.send(new ListUsersCommand({}));
    await expectAwsError(
      asAdmin.send(new CreateUserCommand({ UserName: 'blocked-by-boundary' })),
      'AccessDenied',
      403,
      /because no permissions boundary allows the iam:CreateUser action$/,
    );
  });

  test('PowerUserAccess does not reach IAM user management', async () => {
    const power = await userWithKey('power');
    await iam.send(new AttachUserPolicyCommand({ UserName: 'power', PolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' }));
    await expectAwsError(iamClient(emu, power).send(new CreateUserCommand({ UserName: 'nope' })), 'AccessDenied', 403);
    await iam.send(new AttachUserPolicyCommand({ UserName: 'power', PolicyArn: 'arn:aws:iam::aws:policy/IAMFullAccess' }));
    await iamClient(emu, power).send(new CreateUserCommand({ UserName: 'yes' }));
  });
});
