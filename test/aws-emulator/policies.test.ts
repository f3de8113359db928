import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteGroupCommand,
  DeletePolicyCommand,
  DeleteRoleCommand,
  DetachUserPolicyCommand,
  GetGroupCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetUserPolicyCommand,
  type IAMClient,
  ListAttachedUserPoliciesCommand,
  ListGroupsForUserCommand,
  ListPoliciesCommand,
  ListUserPoliciesCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
} from '@aws-sdk/client-iam';
import { type AwsEmulator, startAwsEmulator } from '../../tools/aws-emulator/index.js';
import { ALLOW_ALL, expectAwsError, iamClient, policyDoc } from './helpers.js';

let emu: AwsEmulator;
let iam: IAMClient;

before(async () => {
  emu = await startAwsEmulator({ port: 0 });
  iam = iamClient(emu);
  await iam.send(new CreateUserCommand({ UserName: 'holder' }));
});

after(async () => {
  iam.destroy();
  await emu.close();
});

const put = (doc: string, name = 'p'): Promise<unknown> =>
  iam.send(new PutUserPolicyCommand({ UserName: 'holder', PolicyName: name, PolicyDocument: doc }));

describe('MalformedPolicyDocument', () => {
  const stmt = { Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' };
  const cases: ReadonlyArray<readonly [string, string, string | RegExp]> = [
    ['not JSON', '{"Version": "2012-10-17", ', 'Syntax errors in policy.'],
    ['an unknown Version', JSON.stringify({ Version: '2023-11-12', Statement: [stmt] }), 'Syntax errors in policy.'],
    ['no Statement', JSON.stringify({ Version: '2012-10-17' }), 'Syntax errors in policy.'],
    ['an empty Statement', JSON.stringify({ Version: '2012-10-17', Statement: [] }), 'Syntax errors in policy.'],
    ['an Effect other than Allow/Deny', policyDoc([{ ...stmt, Effect: 'Permit' }]), 'Syntax errors in policy.'],
    ['an Effect in the wrong case', policyDoc([{ ...stmt, Effect: 'allow' }]), 'The policy failed legacy parsing'],
    ['no Effect', policyDoc([{ Action: 'iam:ListUsers', Resource: '*' }]), 'Syntax errors in policy.'],
    ['no Action', policyDoc([{ Effect: 'Allow', Resource: '*' }]), 'Policy statement must contain actions.'],
    ['an empty Action list', policyDoc([{ ...stmt, Action: [] }]), 'Policy statement must contain actions.'],
    ['no Resource', policyDoc([{ Effect: 'Allow', Action: 'iam:ListUsers' }]), 'Policy statement must contain resources.'],
    ['both Action and NotAction', policyDoc([{ ...stmt, NotAction: 'iam:*' }]), 'Syntax errors in policy.'],
    [
      'an action without a vendor',
      policyDoc([{ ...stmt, Action: 'ListUsers' }]),
      'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
    ],
    ['a Principal in an identity policy', policyDoc([{ ...stmt, Principal: '*' }]), 'Policy document should not specify a principal.'],
    [
      'duplicate Sids',
      policyDoc([
        { ...stmt, Sid: 'A' },
        { ...stmt, Sid: 'A' },
      ]),
      'Statement IDs (SID) in a single policy must be unique.',
    ],
    ['a resource that is not an ARN', policyDoc([{ ...stmt, Resource: 'users' }]), 'Resource users must be in ARN format or "*".'],
    ['an unknown top-level key', JSON.stringify({ Version: '2012-10-17', Statement: [stmt], Extra: 1 }), 'Syntax errors in policy.'],
    ['an unknown condition operator', policyDoc([{ ...stmt, Condition: { Foo: { 'aws:username': 'x' } } }]), 'Syntax errors in policy.'],
  ];
  for (const [what, doc, message] of cases) {
    test(`is returned for ${what}`, async () => {
      await expectAwsError(put(doc, 'bad'), 'MalformedPolicyDocumentException', 400, message);
    });
  }

  test('valid documents: 2008-10-17, a single statement object, NotAction, conditions', async () => {
    await put(JSON.stringify({ Version: '2008-10-17', Statement: { Effect: 'Allow', Action: 'iam:Get*', Resource: '*' } }), 'v2008');
    await put(
      policyDoc([
        { Sid: 'One', Effect: 'Deny', NotAction: ['iam:*'], NotResource: 'arn:aws:iam::*:user/x' },
        { Effect: 'Allow', Action: '*', Resource: '*', Condition: { Bool: { 'aws:MultiFactorAuthPresent': true } } },
      ]),
      'rich',
    );
    const names = (await iam.send(new ListUserPoliciesCommand({ UserName: 'holder' }))).PolicyNames;
    assert.deepEqual(names, ['rich', 'v2008']);
  });
});

describe('inline policies', () => {
  test('GetUserPolicy returns the document URL-encoded (RFC 3986)', async () => {
    const doc = policyDoc([{ Effect: 'Allow', Action: 'iam:List*', Resource: '*' }]);
    await iam.send(new CreateUserCommand({ UserName: 'reader' }));
    await iam.send(new PutUserPolicyCommand({ UserName: 'reader', PolicyName: 'read', PolicyDocument: doc }));
    const got = await iam.send(new GetUserPolicyCommand({ UserName: 'reader', PolicyName: 'READ' }));
    assert.equal(got.PolicyName, 'read');
    assert.ok(got.PolicyDocument?.startsWith('%7B%22Version%22'));
    assert.equal(decodeURIComponent(got.PolicyDocument ?? ''), doc);
    await expectAwsError(
      iam.send(new GetUserPolicyCommand({ UserName: 'reader', PolicyName: 'nope' })),
      'NoSuchEntityException',
      404,
      'The user policy with name nope cannot be found.',
    );
  });

  test('2,048 characters per user in aggregate, whitespace not counted', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'big' }));
    const sized = (n: number): string => {
      // Pads a valid document to exactly n non-whitespace characters with a long Sid.
      const base = policyDoc([{ Sid: '', Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' }]);
      return base.replace('"Sid":""', `"Sid":"${'S'.repeat(n - base.length)}"`);
    };
    assert.equal(sized(1500).length, 1500);
    await iam.send(new PutUserPolicyCommand({ UserName: 'big', PolicyName: 'a', PolicyDocument: sized(1500) }));
    // Whitespace is free: 548 characters plus lots of spaces fit exactly.
    const padded = sized(548).replace('{', '{' + ' '.repeat(3000));
    await iam.send(new PutUserPolicyCommand({ UserName: 'big', PolicyName: 'b', PolicyDocument: padded }));
    await expectAwsError(
      iam.send(new PutUserPolicyCommand({ UserName: 'big', PolicyName: 'c', PolicyDocument: sized(200) })),
      'LimitExceededException',
      409,
      'Maximum policy size of 2048 bytes exceeded for user big',
    );
    // Replacing a policy counts its new size, not both.
    await iam.send(new PutUserPolicyCommand({ UserName: 'big', PolicyName: 'b', PolicyDocument: sized(500) }));
  });
});

describe('managed policies', () => {
  test('create, get, duplicate names, attach, delete conflicts', async () => {
    const doc = policyDoc([{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }]);
    const description = 'Lets <callers> ask "who am I?" & nothing else';
    const created = (
      await iam.send(new CreatePolicyCommand({ PolicyName: 'whoami', Path: '/lessor/', PolicyDocument: doc, Description: description }))
    ).Policy;
    assert.equal(created?.Description, description, 'XML special characters survive the round trip');
    const arn = `arn:aws:iam::${emu.accountId}:policy/lessor/whoami`;
    assert.equal(created?.Arn, arn);
    assert.match(created?.PolicyId ?? '', /^ANPA[A-Z0-9]{17}$/);
    assert.equal(created?.DefaultVersionId, 'v1');
    await expectAwsError(
      iam.send(new CreatePolicyCommand({ PolicyName: 'WHOAMI', PolicyDocument: doc })),
      'EntityAlreadyExistsException',
      409,
      'A policy called WHOAMI already exists. Duplicate names are not allowed.',
    );
    const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
    assert.equal(decodeURIComponent(version.PolicyVersion?.Document ?? ''), doc);

    await iam.send(new CreateUserCommand({ UserName: 'attached' }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'attached', PolicyArn: arn }));
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.AttachmentCount, 1);
    const listed = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: 'attached' }));
    assert.deepEqual(listed.AttachedPolicies, [{ PolicyName: 'whoami', PolicyArn: arn }]);
    await expectAwsError(iam.send(new DeletePolicyCommand({ PolicyArn: arn })), 'DeleteConflictException', 409);
    await iam.send(new DetachUserPolicyCommand({ UserName: 'attached', PolicyArn: arn }));
    await expectAwsError(
      iam.send(new DetachUserPolicyCommand({ UserName: 'attached', PolicyArn: arn })),
      'NoSuchEntityException',
      404,
      `Policy ${arn} was not found.`,
    );
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    await expectAwsError(iam.send(new GetPolicyCommand({ PolicyArn: arn })), 'NoSuchEntityException', 404);
  });

  test('at most 10 managed policies per user; unknown ARNs are not attachable', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'collector' }));
    for (let i = 0; i < 10; i++) {
      const arn = (await iam.send(new CreatePolicyCommand({ PolicyName: `m${i}`, PolicyDocument: ALLOW_ALL }))).Policy?.Arn;
      await iam.send(new AttachUserPolicyCommand({ UserName: 'collector', PolicyArn: arn }));
    }
    await expectAwsError(
      iam.send(new AttachUserPolicyCommand({ UserName: 'collector', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' })),
      'LimitExceededException',
      409,
      'Cannot exceed quota for PoliciesPerUser: 10',
    );
    const missing = `arn:aws:iam::${emu.accountId}:policy/missing`;
    await expectAwsError(
      iam.send(new AttachUserPolicyCommand({ UserName: 'holder', PolicyArn: missing })),
      'NoSuchEntityException',
      404,
      `Policy ${missing} does not exist or is not attachable.`,
    );
  });

  test('AWS managed policies exist and cannot be deleted', async () => {
    for (const name of ['AdministratorAccess', 'ReadOnlyAccess', 'PowerUserAccess', 'IAMFullAccess']) {
      const p = await iam.send(new GetPolicyCommand({ PolicyArn: `arn:aws:iam::aws:policy/${name}` }));
      assert.equal(p.Policy?.PolicyName, name);
    }
    const aws = await iam.send(new ListPoliciesCommand({ Scope: 'AWS', MaxItems: 1000 }));
    assert.ok((aws.Policies ?? []).every((p) => p.Arn?.startsWith('arn:aws:iam::aws:policy/')));
    await expectAwsError(
      iam.send(new DeletePolicyCommand({ PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' })),
      'AccessDenied',
      403,
    );
  });

  test('CreatePolicy rejects documents over 6,144 characters', async () => {
    const huge = policyDoc([{ Sid: 'S'.repeat(6200), Effect: 'Allow', Action: 'iam:ListUsers', Resource: '*' }]);
    await expectAwsError(iam.send(new CreatePolicyCommand({ PolicyName: 'huge', PolicyDocument: huge })), 'LimitExceededException', 409);
  });
});

describe('groups', () => {
  test('membership, at most 10 groups per user, DeleteConflict while not empty', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'joiner' }));
    for (let i = 0; i < 11; i++) await iam.send(new CreateGroupCommand({ GroupName: `grp${i}`, Path: '/teams/' }));
    for (let i = 0; i < 10; i++) await iam.send(new AddUserToGroupCommand({ GroupName: `grp${i}`, UserName: 'joiner' }));
    await expectAwsError(
      iam.send(new AddUserToGroupCommand({ GroupName: 'grp10', UserName: 'joiner' })),
      'LimitExceededException',
      409,
      'Cannot exceed quota for GroupsPerUser: 10',
    );
    const groups = (await iam.send(new ListGroupsForUserCommand({ UserName: 'joiner' }))).Groups ?? [];
    assert.equal(groups.length, 10);
    assert.match(groups[0]?.Arn ?? '', new RegExp(`^arn:aws:iam::${emu.accountId}:group/teams/grp\\d+$`));
    const g0 = await iam.send(new GetGroupCommand({ GroupName: 'grp0' }));
    assert.deepEqual(g0.Users?.map((u) => u.UserName), ['joiner']);

    await expectAwsError(
      iam.send(new DeleteGroupCommand({ GroupName: 'grp0' })),
      'DeleteConflictException',
      409,
      'Cannot delete entity, must remove users from group first.',
    );
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'grp0', UserName: 'joiner' }));
    await iam.send(new PutGroupPolicyCommand({ GroupName: 'grp0', PolicyName: 'gp', PolicyDocument: ALLOW_ALL }));
    await expectAwsError(iam.send(new DeleteGroupCommand({ GroupName: 'grp0' })), 'DeleteConflictException', 409, /delete policies/);
    await iam.send(new AttachGroupPolicyCommand({ GroupName: 'grp10', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }));
    await expectAwsError(iam.send(new DeleteGroupCommand({ GroupName: 'grp10' })), 'DeleteConflictException', 409, /detach all policies/);
    await expectAwsError(
      iam.send(new GetGroupCommand({ GroupName: 'nogroup' })),
      'NoSuchEntityException',
      404,
      'The group with name nogroup cannot be found.',
    );
  });
});

describe('roles', () => {
  const trust = (principal: object): string =>
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }] });

  test('CreateRole returns AROA ids and the trust policy URL-encoded', async () => {
    const doc = trust({ AWS: emu.accountId });
    const role = (await iam.send(new CreateRoleCommand({ RoleName: 'deployer', AssumeRolePolicyDocument: doc, MaxSessionDuration: 7200 })))
      .Role;
    assert.match(role?.RoleId ?? '', /^AROA[A-Z0-9]{17}$/);
    assert.equal(role?.Arn, `arn:aws:iam::${emu.accountId}:role/deployer`);
    assert.equal(decodeURIComponent(role?.AssumeRolePolicyDocument ?? ''), doc);
    const got = await iam.send(new GetRoleCommand({ RoleName: 'deployer' }));
    assert.equal(got.Role?.MaxSessionDuration, 7200);
    await expectAwsError(
      iam.send(new CreateRoleCommand({ RoleName: 'Deployer', AssumeRolePolicyDocument: doc })),
      'EntityAlreadyExistsException',
      409,
    );
  });

  test('trust policy rules: Principal required, no Resource, existing principals, STS actions only', async () => {
    const noPrincipal = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] });
    await expectAwsError(
      iam.send(new CreateRoleCommand({ RoleName: 'r1', AssumeRolePolicyDocument: noPrincipal })),
      'MalformedPolicyDocumentException',
      400,
      'Missing required field Principal',
    );
    const withResource = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole', Resource: '*' }],
    });
    await expectAwsError(
      iam.send(new CreateRoleCommand({ RoleName: 'r2', AssumeRolePolicyDocument: withResource })),
      'MalformedPolicyDocumentException',
      400,
      'Has prohibited field Resource',
    );
    const ghost = `arn:aws:iam::${emu.accountId}:user/ghost`;
    await expectAwsError(
      iam.send(new CreateRoleCommand({ RoleName: 'r3', AssumeRolePolicyDocument: trust({ AWS: ghost }) })),
      'MalformedPolicyDocumentException',
      400,
      `Invalid principal in policy: "AWS":"${ghost}"`,
    );
    const s3Action = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }] });
    await expectAwsError(
      iam.send(new CreateRoleCommand({ RoleName: 'r4', AssumeRolePolicyDocument: s3Action })),
      'MalformedPolicyDocumentException',
      400,
      'AssumeRole policy may only specify STS AssumeRole actions.',
    );
    await expectAwsError(
      iam.send(new CreateRoleCommand({ RoleName: 'r5', AssumeRolePolicyDocument: trust({ AWS: emu.accountId }), MaxSessionDuration: 1800 })),
      'ValidationError',
      400,
      /maxSessionDuration/,
    );
  });

  test('DeleteRole is refused while policies remain', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'temp', AssumeRolePolicyDocument: trust({ Service: 'ec2.amazonaws.com' }) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: 'temp', PolicyName: 'inline', PolicyDocument: ALLOW_ALL }));
    await expectAwsError(iam.send(new DeleteRoleCommand({ RoleName: 'temp' })), 'DeleteConflictException', 409, /delete policies/);
    await iam.send(new CreateRoleCommand({ RoleName: 'temp2', AssumeRolePolicyDocument: trust({ Service: 'ec2.amazonaws.com' }) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'temp2', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }));
    await expectAwsError(iam.send(new DeleteRoleCommand({ RoleName: 'temp2' })), 'DeleteConflictException', 409, /detach all/);
    await expectAwsError(
      iam.send(new DeleteRoleCommand({ RoleName: 'norole' })),
      'NoSuchEntityException',
      404,
      'The role with name norole cannot be found.',
    );
  });
});
