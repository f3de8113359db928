import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AddUserToGroupCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreateLoginProfileCommand,
  CreateServiceSpecificCredentialCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  DeactivateMFADeviceCommand,
  DeleteAccessKeyCommand,
  DeleteLoginProfileCommand,
  DeleteServiceSpecificCredentialCommand,
  DeleteSigningCertificateCommand,
  DeleteSSHPublicKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DeleteVirtualMFADeviceCommand,
  DetachUserPolicyCommand,
  EnableMFADeviceCommand,
  GetAccessKeyLastUsedCommand,
  GetLoginProfileCommand,
  GetUserCommand,
  type IAMClient,
  ListAccessKeysCommand,
  ListMFADevicesCommand,
  ListServiceSpecificCredentialsCommand,
  ListSigningCertificatesCommand,
  ListSSHPublicKeysCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  paginateListUsers,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  TagUserCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  UploadSigningCertificateCommand,
  UploadSSHPublicKeyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type AwsEmulator, startAwsEmulator, totp } from '../../tools/aws-emulator/index.js';
import { TEST_CERTIFICATES } from './certificates.js';
import { ALLOW_ALL, expectAwsError, iamClient, sshRsaPublicKey, stsClient } from './helpers.js';

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

async function createUser(name: string): Promise<void> {
  await iam.send(new CreateUserCommand({ UserName: name }));
}

describe('CreateUser / GetUser', () => {
  test('creates a user with path, tags and AWS-shaped ids', async () => {
    const out = await iam.send(
      new CreateUserCommand({ UserName: 'alice', Path: '/team/a/', Tags: [{ Key: 'owner', Value: 'lessor' }] }),
    );
    const u = out.User;
    assert.ok(u !== undefined);
    assert.equal(u.UserName, 'alice');
    assert.equal(u.Path, '/team/a/');
    assert.equal(u.Arn, `arn:aws:iam::${emu.accountId}:user/team/a/alice`);
    assert.match(u.UserId ?? '', /^AIDA[A-Z0-9]{17}$/);
    assert.ok(u.CreateDate instanceof Date && Math.abs(u.CreateDate.getTime() - Date.now()) < 5000);
    assert.deepEqual(u.Tags, [{ Key: 'owner', Value: 'lessor' }]);

    const got = await iam.send(new GetUserCommand({ UserName: 'ALICE' }));
    assert.equal(got.User?.UserName, 'alice', 'lookups ignore case, the stored name keeps it');
    assert.deepEqual(got.User?.Tags, [{ Key: 'owner', Value: 'lessor' }]);
  });

  test('names are unique without regard to case', async () => {
    await createUser('Dup');
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'dUP' })),
      'EntityAlreadyExistsException',
      409,
      'User with name dUP already exists.',
    );
  });

  test('rejects bad names and paths with ValidationError', async () => {
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'bad name' })),
      'ValidationError',
      400,
      "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
    );
    await expectAwsError(iam.send(new CreateUserCommand({ UserName: 'a/b' })), 'ValidationError', 400, /regular expression/);
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'x'.repeat(65) })),
      'ValidationError',
      400,
      /Member must have length less than or equal to 64/,
    );
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: '' })),
      'ValidationError',
      400,
      /Member must have length greater than or equal to 1/,
    );
    await expectAwsError(iam.send(new CreateUserCommand({ UserName: 'p1', Path: 'noslash' })), 'ValidationError', 400, /at 'path'/);
    await expectAwsError(iam.send(new CreateUserCommand({ UserName: 'p2', Path: '/a b/' })), 'ValidationError', 400, /at 'path'/);
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'bad name', Path: 'x' })),
      'ValidationError',
      400,
      /^2 validation errors detected: /,
    );
    assert.equal(emu.getUser('p1'), undefined);
  });

  test('a 64-character name is accepted', async () => {
    await createUser('y'.repeat(64));
    assert.ok(emu.getUser('y'.repeat(64)) !== undefined);
  });

  test('GetUser without UserName: the caller (root has no UserName)', async () => {
    const root = await iam.send(new GetUserCommand({}));
    assert.equal(root.User?.Arn, `arn:aws:iam::${emu.accountId}:root`);
    assert.equal(root.User?.UserId, emu.accountId);
    assert.equal(root.User?.UserName, undefined);

    await createUser('selfie');
    await iam.send(new PutUserPolicyCommand({ UserName: 'selfie', PolicyName: 'all', PolicyDocument: ALLOW_ALL }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: 'selfie' }))).AccessKey;
    assert.ok(key?.AccessKeyId !== undefined && key.SecretAccessKey !== undefined);
    const asUser = iamClient(emu, { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey });
    const self = await asUser.send(new GetUserCommand({}));
    assert.equal(self.User?.UserName, 'selfie');
  });

  test('GetUser of a missing user is NoSuchEntity with IAM wording', async () => {
    await expectAwsError(
      iam.send(new GetUserCommand({ UserName: 'ghost' })),
      'NoSuchEntityException',
      404,
      'The user with name ghost cannot be found.',
    );
  });
});

describe('tags', () => {
  test('tag, untag and list; keys compare without case', async () => {
    await createUser('tagged');
    await iam.send(new TagUserCommand({ UserName: 'tagged', Tags: [{ Key: 'Env', Value: 'dev' }, { Key: 'lease', Value: '' }] }));
    await iam.send(new TagUserCommand({ UserName: 'tagged', Tags: [{ Key: 'env', Value: 'prod' }] }));
    const tags = (await iam.send(new ListUserTagsCommand({ UserName: 'tagged' }))).Tags ?? [];
    assert.deepEqual(
      tags.map((t) => `${t.Key}=${t.Value}`).sort(),
      ['env=prod', 'lease='],
    );
    await iam.send(new UntagUserCommand({ UserName: 'tagged', TagKeys: ['ENV'] }));
    assert.deepEqual((await iam.send(new ListUserTagsCommand({ UserName: 'tagged' }))).Tags, [{ Key: 'lease', Value: '' }]);
  });

  test('at most 50 tags; duplicate keys and aws: prefix are InvalidInput', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await expectAwsError(iam.send(new CreateUserCommand({ UserName: 't51', Tags: many })), 'ValidationError', 400, /less than or equal to 50/);
    await createUser('t50');
    await iam.send(new TagUserCommand({ UserName: 't50', Tags: many.slice(0, 50) }));
    await expectAwsError(
      iam.send(new TagUserCommand({ UserName: 't50', Tags: [{ Key: 'one-more', Value: 'v' }] })),
      'LimitExceededException',
      409,
    );
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'tdup', Tags: [{ Key: 'a', Value: '1' }, { Key: 'A', Value: '2' }] })),
      'InvalidInputException',
      400,
      /Duplicate tag keys/,
    );
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'taws', Tags: [{ Key: 'aws:x', Value: '1' }] })),
      'InvalidInputException',
      400,
    );
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'tlong', Tags: [{ Key: 'k'.repeat(129), Value: '1' }] })),
      'ValidationError',
      400,
      /tags\.1\.member\.key/,
    );
    await expectAwsError(
      iam.send(new CreateUserCommand({ UserName: 'tval', Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] })),
      'ValidationError',
      400,
      /tags\.1\.member\.value/,
    );
  });
});

describe('access keys', () => {
  test('AKIA ids, 40-char secrets, a third key is LimitExceeded', async () => {
    await createUser('keyed');
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'keyed' }))).AccessKey;
      assert.match(k?.AccessKeyId ?? '', /^AKIA[A-Z0-9]{16}$/);
      assert.match(k?.SecretAccessKey ?? '', /^[A-Za-z0-9+/]{40}$/);
      assert.equal(k?.Status, 'Active');
      assert.equal(k?.UserName, 'keyed');
      ids.push(k?.AccessKeyId ?? '');
    }
    await expectAwsError(
      iam.send(new CreateAccessKeyCommand({ UserName: 'keyed' })),
      'LimitExceededException',
      409,
      'Cannot exceed quota for AccessKeysPerUser: 2',
    );
    const listed = (await iam.send(new ListAccessKeysCommand({ UserName: 'keyed' }))).AccessKeyMetadata ?? [];
    assert.deepEqual(listed.map((k) => k.AccessKeyId).sort(), [...ids].sort());

    await iam.send(new UpdateAccessKeyCommand({ UserName: 'keyed', AccessKeyId: ids[0], Status: 'Inactive' }));
    const after = (await iam.send(new ListAccessKeysCommand({ UserName: 'keyed' }))).AccessKeyMetadata ?? [];
    assert.equal(after.find((k) => k.AccessKeyId === ids[0])?.Status, 'Inactive');
    await expectAwsError(
      iam.send(new UpdateAccessKeyCommand({ UserName: 'keyed', AccessKeyId: ids[0], Status: 'Paused' as 'Active' })),
      'ValidationError',
      400,
      /enum value set/,
    );

    await iam.send(new DeleteAccessKeyCommand({ UserName: 'keyed', AccessKeyId: ids[0] }));
    await expectAwsError(
      iam.send(new DeleteAccessKeyCommand({ UserName: 'keyed', AccessKeyId: ids[0] })),
      'NoSuchEntityException',
      404,
      `The Access Key with id ${ids[0]} cannot be found.`,
    );
    // The freed slot can be used again.
    await iam.send(new CreateAccessKeyCommand({ UserName: 'keyed' }));
  });

  test('GetAccessKeyLastUsed reports N/A until the key signs a request', async () => {
    await createUser('lastused');
    const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'lastused' }))).AccessKey;
    assert.ok(k?.AccessKeyId !== undefined && k.SecretAccessKey !== undefined);
    const before = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: k.AccessKeyId }));
    assert.equal(before.UserName, 'lastused');
    assert.equal(before.AccessKeyLastUsed?.ServiceName, 'N/A');
    assert.equal(before.AccessKeyLastUsed?.LastUsedDate, undefined);
    await stsClient(emu, { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey }).send(new GetCallerIdentityCommand({}));
    const used = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: k.AccessKeyId }));
    assert.equal(used.AccessKeyLastUsed?.ServiceName, 'sts');
    assert.equal(used.AccessKeyLastUsed?.Region, 'us-east-1');
    assert.ok(used.AccessKeyLastUsed?.LastUsedDate instanceof Date);
  });
});

describe('DeleteUser', () => {
  test('a user with nothing attached is deleted, and only once', async () => {
    await createUser('plain');
    await iam.send(new DeleteUserCommand({ UserName: 'plain' }));
    await expectAwsError(
      iam.send(new DeleteUserCommand({ UserName: 'plain' })),
      'NoSuchEntityException',
      404,
      'The user with name plain cannot be found.',
    );
    assert.equal(emu.counts().deleteUserSuccesses['plain'], 1);
    assert.equal(emu.getUser('plain'), undefined);
  });

  test('a permissions boundary does not block deletion', async () => {
    await createUser('bounded');
    await iam.send(
      new PutUserPermissionsBoundaryCommand({ UserName: 'bounded', PermissionsBoundary: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }),
    );
    assert.equal(emu.getUser('bounded')?.permissionsBoundary, 'arn:aws:iam::aws:policy/ReadOnlyAccess');
    await iam.send(new DeleteUserCommand({ UserName: 'bounded' }));
  });

  /** Each blocker makes DeleteUser fail with DeleteConflict until it is removed. */
  const blockers: ReadonlyArray<{
    name: string;
    message: RegExp;
    add: (user: string) => Promise<() => Promise<void>>;
  }> = [
    {
      name: 'access key',
      message: /must delete access keys first/,
      add: async (user) => {
        const id = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey?.AccessKeyId;
        return async () => void (await iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: id })));
      },
    },
    {
      name: 'inline policy',
      message: /must delete policies first/,
      add: async (user) => {
        await iam.send(new PutUserPolicyCommand({ UserName: user, PolicyName: 'p', PolicyDocument: ALLOW_ALL }));
        return async () => void (await iam.send(new DeleteUserPolicyCommand({ UserName: user, PolicyName: 'p' })));
      },
    },
    {
      name: 'attached policy',
      message: /must detach all policies first/,
      add: async (user) => {
        const arn = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
        await iam.send(new AttachUserPolicyCommand({ UserName: user, PolicyArn: arn }));
        return async () => void (await iam.send(new DetachUserPolicyCommand({ UserName: user, PolicyArn: arn })));
      },
    },
    {
      name: 'group membership',
      message: /must remove users from group first/,
      add: async (user) => {
        const group = `g-${user}`;
        await iam.send(new CreateGroupCommand({ GroupName: group }));
        await iam.send(new AddUserToGroupCommand({ GroupName: group, UserName: user }));
        return async () => void (await iam.send(new RemoveUserFromGroupCommand({ GroupName: group, UserName: user })));
      },
    },
    {
      name: 'login profile',
      message: /must delete login profile first/,
      add: async (user) => {
        await iam.send(new CreateLoginProfileCommand({ UserName: user, Password: 'Corr3ct-Horse!' }));
        return async () => void (await iam.send(new DeleteLoginProfileCommand({ UserName: user })));
      },
    },
    {
      name: 'MFA device',
      message: /must delete MFA device first/,
      add: async (user) => {
        const device = (await iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: `mfa-${user}` })))
          .VirtualMFADevice;
        const serial = device?.SerialNumber ?? '';
        const seed = Buffer.from(device?.Base32StringSeed ?? new Uint8Array()).toString('ascii');
        const now = Date.now();
        await iam.send(
          new EnableMFADeviceCommand({
            UserName: user,
            SerialNumber: serial,
            AuthenticationCode1: totp(seed, now),
            AuthenticationCode2: totp(seed, now + 30_000),
          }),
        );
        return async () => {
          await iam.send(new DeactivateMFADeviceCommand({ UserName: user, SerialNumber: serial }));
          await iam.send(new DeleteVirtualMFADeviceCommand({ SerialNumber: serial }));
        };
      },
    },
    {
      name: 'signing certificate',
      message: /must delete signing certificates first/,
      add: async (user) => {
        const id = (await iam.send(new UploadSigningCertificateCommand({ UserName: user, CertificateBody: TEST_CERTIFICATES[0] })))
          .Certificate?.CertificateId;
        return async () => void (await iam.send(new DeleteSigningCertificateCommand({ UserName: user, CertificateId: id })));
      },
    },
    {
      name: 'SSH public key',
      message: /must delete SSH public keys first/,
      add: async (user) => {
        const id = (await iam.send(new UploadSSHPublicKeyCommand({ UserName: user, SSHPublicKeyBody: sshRsaPublicKey().body })))
          .SSHPublicKey?.SSHPublicKeyId;
        return async () => void (await iam.send(new DeleteSSHPublicKeyCommand({ UserName: user, SSHPublicKeyId: id })));
      },
    },
    {
      name: 'service-specific credential',
      message: /must delete service specific credentials first/,
      add: async (user) => {
        const id = (
          await iam.send(new CreateServiceSpecificCredentialCommand({ UserName: user, ServiceName: 'codecommit.amazonaws.com' }))
        ).ServiceSpecificCredential?.ServiceSpecificCredentialId;
        return async () =>
          void (await iam.send(new DeleteServiceSpecificCredentialCommand({ UserName: user, ServiceSpecificCredentialId: id })));
      },
    },
  ];

  for (const blocker of blockers) {
    test(`DeleteConflict while the user has a ${blocker.name}`, async () => {
      const user = `blocked-${blocker.name.replace(/[^a-z]/gi, '')}`;
      await createUser(user);
      const remove = await blocker.add(user);
      await expectAwsError(iam.send(new DeleteUserCommand({ UserName: user })), 'DeleteConflictException', 409, blocker.message);
      assert.ok(emu.getUser(user) !== undefined, 'still there after the conflict');
      await remove();
      await iam.send(new DeleteUserCommand({ UserName: user }));
      assert.equal(emu.getUser(user), undefined);
      assert.equal(emu.counts().deleteUserSuccesses[user], 1);
    });
  }
});

describe('other credentials', () => {
  test('login profile: default password policy, exists once, NoSuchEntity after delete', async () => {
    await createUser('console');
    await expectAwsError(
      iam.send(new CreateLoginProfileCommand({ UserName: 'console', Password: 'short' })),
      'PasswordPolicyViolationException',
      400,
    );
    await iam.send(new CreateLoginProfileCommand({ UserName: 'console', Password: 'Corr3ct-Horse!', PasswordResetRequired: true }));
    const got = await iam.send(new GetLoginProfileCommand({ UserName: 'console' }));
    assert.equal(got.LoginProfile?.PasswordResetRequired, true);
    await expectAwsError(
      iam.send(new CreateLoginProfileCommand({ UserName: 'console', Password: 'Corr3ct-Horse!' })),
      'EntityAlreadyExistsException',
      409,
    );
    await iam.send(new DeleteLoginProfileCommand({ UserName: 'console' }));
    await expectAwsError(
      iam.send(new GetLoginProfileCommand({ UserName: 'console' })),
      'NoSuchEntityException',
      404,
      'Login Profile for User console cannot be found.',
    );
  });

  test('virtual MFA: codes are checked, an assigned device cannot be deleted', async () => {
    await createUser('mfa-user');
    const device = (await iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: 'phone', Path: '/mfa/' })))
      .VirtualMFADevice;
    assert.equal(device?.SerialNumber, `arn:aws:iam::${emu.accountId}:mfa/mfa/phone`);
    const seed = Buffer.from(device?.Base32StringSeed ?? new Uint8Array()).toString('ascii');
    assert.match(seed, /^[A-Z2-7]{64}$/);
    const serial = device?.SerialNumber ?? '';
    const now = Date.now();
    const wrong = totp(seed, now) === '000000' ? '111111' : '000000';
    await expectAwsError(
      iam.send(
        new EnableMFADeviceCommand({ UserName: 'mfa-user', SerialNumber: serial, AuthenticationCode1: wrong, AuthenticationCode2: wrong }),
      ),
      'InvalidAuthenticationCodeException',
      403,
    );
    await iam.send(
      new EnableMFADeviceCommand({
        UserName: 'mfa-user',
        SerialNumber: serial,
        AuthenticationCode1: totp(seed, now),
        AuthenticationCode2: totp(seed, now + 30_000),
      }),
    );
    const listed = (await iam.send(new ListMFADevicesCommand({ UserName: 'mfa-user' }))).MFADevices ?? [];
    assert.deepEqual(listed.map((d) => d.SerialNumber), [serial]);
    await expectAwsError(iam.send(new DeleteVirtualMFADeviceCommand({ SerialNumber: serial })), 'DeleteConflictException', 409);
    assert.equal(emu.mfaCode(serial, now), totp(seed, now));
  });

  test('signing certificates: PEM is parsed, duplicates and a third are refused', async () => {
    await createUser('certs');
    await expectAwsError(
      iam.send(new UploadSigningCertificateCommand({ UserName: 'certs', CertificateBody: 'not a certificate' })),
      'MalformedCertificateException',
      400,
    );
    const first = await iam.send(new UploadSigningCertificateCommand({ UserName: 'certs', CertificateBody: TEST_CERTIFICATES[1] }));
    assert.equal(first.Certificate?.Status, 'Active');
    assert.match(first.Certificate?.CertificateId ?? '', /^[A-Z0-9]{24,128}$/);
    await expectAwsError(
      iam.send(new UploadSigningCertificateCommand({ UserName: 'certs', CertificateBody: TEST_CERTIFICATES[1] })),
      'DuplicateCertificateException',
      409,
    );
    await iam.send(new UploadSigningCertificateCommand({ UserName: 'certs', CertificateBody: TEST_CERTIFICATES[2] }));
    await expectAwsError(
      iam.send(new UploadSigningCertificateCommand({ UserName: 'certs', CertificateBody: TEST_CERTIFICATES[0] })),
      'LimitExceededException',
      409,
    );
    assert.equal((await iam.send(new ListSigningCertificatesCommand({ UserName: 'certs' }))).Certificates?.length, 2);
  });

  test('SSH keys: RSA >= 2048 bits, MD5 fingerprint, other key types unrecognized', async () => {
    await createUser('ssh');
    const key = sshRsaPublicKey();
    const out = await iam.send(new UploadSSHPublicKeyCommand({ UserName: 'ssh', SSHPublicKeyBody: key.body }));
    const expected = (createHash('md5').update(key.blob).digest('hex').match(/../g) ?? []).join(':');
    assert.equal(out.SSHPublicKey?.Fingerprint, expected);
    assert.match(out.SSHPublicKey?.SSHPublicKeyId ?? '', /^APKA[A-Z0-9]{16}$/);
    await expectAwsError(
      iam.send(new UploadSSHPublicKeyCommand({ UserName: 'ssh', SSHPublicKeyBody: key.body })),
      'DuplicateSSHPublicKeyException',
      400,
    );
    await expectAwsError(
      iam.send(new UploadSSHPublicKeyCommand({ UserName: 'ssh', SSHPublicKeyBody: sshRsaPublicKey(1024).body })),
      'InvalidPublicKeyException',
      400,
    );
    await expectAwsError(
      iam.send(new UploadSSHPublicKeyCommand({ UserName: 'ssh', SSHPublicKeyBody: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA x' })),
      'UnrecognizedPublicKeyEncodingException',
      400,
    );
    assert.equal((await iam.send(new ListSSHPublicKeysCommand({ UserName: 'ssh' }))).SSHPublicKeys?.length, 1);
  });

  test('service-specific credentials: supported services only, two per service', async () => {
    await createUser('svc');
    await expectAwsError(
      iam.send(new CreateServiceSpecificCredentialCommand({ UserName: 'svc', ServiceName: 's3.amazonaws.com' })),
      'ServiceNotSupportedException',
      404,
    );
    const first = await iam.send(new CreateServiceSpecificCredentialCommand({ UserName: 'svc', ServiceName: 'codecommit.amazonaws.com' }));
    assert.equal(first.ServiceSpecificCredential?.ServiceUserName, `svc-at-${emu.accountId}`);
    assert.ok((first.ServiceSpecificCredential?.ServicePassword ?? '').length >= 40);
    await iam.send(new CreateServiceSpecificCredentialCommand({ UserName: 'svc', ServiceName: 'codecommit.amazonaws.com' }));
    await expectAwsError(
      iam.send(new CreateServiceSpecificCredentialCommand({ UserName: 'svc', ServiceName: 'codecommit.amazonaws.com' })),
      'LimitExceededException',
      409,
    );
    await iam.send(new CreateServiceSpecificCredentialCommand({ UserName: 'svc', ServiceName: 'cassandra.amazonaws.com' }));
    const listed = await iam.send(new ListServiceSpecificCredentialsCommand({ UserName: 'svc' }));
    assert.equal(listed.ServiceSpecificCredentials?.length, 3);
  });
});

describe('ListUsers paging', () => {
  test('Marker/MaxItems walk every user once, in name order; PathPrefix filters', async () => {
    for (let i = 0; i < 25; i++) {
      await iam.send(new CreateUserCommand({ UserName: `page-${String(i).padStart(2, '0')}`, Path: i % 2 === 0 ? '/even/' : '/odd/' }));
    }
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await iam.send(new ListUsersCommand({ PathPrefix: '/', MaxItems: 7, Marker: marker }));
      pages++;
      assert.ok((out.Users?.length ?? 0) <= 7);
      if (out.IsTruncated === true) assert.ok(out.Marker !== undefined);
      else assert.equal(out.Marker, undefined);
      seen.push(...(out.Users ?? []).map((u) => u.UserName ?? ''));
      marker = out.IsTruncated === true ? out.Marker : undefined;
    } while (marker !== undefined);
    const pageUsers = seen.filter((n) => n.startsWith('page-'));
    assert.equal(pageUsers.length, 25);
    assert.equal(new Set(seen).size, seen.length, 'no user twice');
    assert.deepEqual(seen, [...seen].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    assert.ok(pages >= 4);

    const odd: string[] = [];
    for await (const page of paginateListUsers({ client: iam, pageSize: 5 }, { PathPrefix: '/odd/' })) {
      odd.push(...(page.Users ?? []).map((u) => u.UserName ?? ''));
    }
    assert.equal(odd.length, 12);
    assert.ok(odd.every((n) => Number(n.slice(5)) % 2 === 1));

    await expectAwsError(iam.send(new ListUsersCommand({ MaxItems: 0 })), 'ValidationError', 400, /greater than or equal to 1/);
    await expectAwsError(iam.send(new ListUsersCommand({ MaxItems: 1001 })), 'ValidationError', 400, /less than or equal to 1000/);
  });
});
