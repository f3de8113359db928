/**
 * IAM actions on a user's other credentials: console login profile, virtual
 * MFA devices (with real TOTP checks), X.509 signing certificates, SSH public
 * keys and service-specific credentials. Each of these blocks DeleteUser.
 */

import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { AwsError, alreadyExists, deleteConflict, limitExceeded, noSuchEntity, validationError } from './errors.js';
import {
  type ActionContext,
  type ActionHandler,
  allow,
  checkTagKeys,
  MAX_TAGS,
  pageRequest,
  paginate,
  requestTagContext,
  resourceTagContext,
  tagsXml,
  truncationXml,
  userOrCaller,
  userXml,
} from './handler.js';
import {
  AUTH_CODE_RULE,
  CERT_BODY_RULE,
  CERT_ID_RULE,
  MFA_NAME_RULE,
  PASSWORD_RULE,
  PATH_RULE,
  SERIAL_NUMBER_RULE,
  SERVICE_CRED_ID_RULE,
  SSH_KEY_ID_RULE,
  USER_NAME_RULE,
  Validator,
} from './params.js';
import {
  type ServiceCredential,
  type SigningCertificate,
  type SshPublicKey,
  type User,
  type VirtualMfaDevice,
  newCertificateId,
  newServiceCredentialId,
  newSshKeyId,
  randomToken,
} from './state.js';
import { newTotpSeed, verifyConsecutiveTotp } from './totp.js';
import { el, isoDate, memberList } from './xml.js';

const MAX_MFA_DEVICES = 8;
const MAX_SIGNING_CERTIFICATES = 2;
const MAX_SSH_KEYS = 5;
const MAX_SERVICE_CREDENTIALS_PER_SERVICE = 2;
const MIN_SSH_RSA_BITS = 2048;
const SUPPORTED_SERVICES: ReadonlySet<string> = new Set([
  'codecommit.amazonaws.com',
  'cassandra.amazonaws.com',
  'bedrock.amazonaws.com',
]);

/**
 * The user named by an optional UserName, or the calling user. The root
 * user's own certificates, SSH keys and MFA devices are not modelled.
 */
function targetUser(ctx: ActionContext, name: string | undefined, action: string): User {
  const target = userOrCaller(ctx, name);
  if (target === 'root') throw validationError('Must specify userName when calling with non-User credentials');
  allow(ctx, action, target.arn, resourceTagContext(target.tags));
  return target;
}

function userParam(ctx: ActionContext, action: string, required: boolean): User {
  const v = new Validator(ctx.params);
  const name = required ? v.required('UserName', USER_NAME_RULE) : v.optional('UserName', USER_NAME_RULE);
  v.finish();
  return targetUser(ctx, name, action);
}

// ---- Login profile ------------------------------------------------------------------

/** IAM's default password policy when the account sets none. */
function checkDefaultPasswordPolicy(password: string): void {
  let classes = 0;
  if (/[A-Z]/.test(password)) classes++;
  if (/[a-z]/.test(password)) classes++;
  if (/[0-9]/.test(password)) classes++;
  if (/[^A-Za-z0-9]/.test(password)) classes++;
  if (password.length < 8 || classes < 3) {
    throw new AwsError(
      'PasswordPolicyViolation',
      'Password does not conform to the account password policy: at least 8 characters and three of uppercase, lowercase, numbers and symbols.',
    );
  }
}

function loginProfileXml(u: User): string {
  const p = u.loginProfile;
  if (p === undefined) return '';
  return (
    `<LoginProfile>${el('UserName', u.name)}<CreateDate>${isoDate(p.createDate)}</CreateDate>` +
    `${el('PasswordResetRequired', p.passwordResetRequired)}</LoginProfile>`
  );
}

function noLoginProfile(u: User): AwsError {
  return noSuchEntity(`Login Profile for User ${u.name} cannot be found.`);
}

const createLoginProfile: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const password = v.required('Password', PASSWORD_RULE);
  const reset = v.bool('PasswordResetRequired') ?? false;
  v.finish();
  const u = targetUser(ctx, name, 'iam:CreateLoginProfile');
  if (u.loginProfile !== undefined) throw alreadyExists(`Login Profile for user ${u.name} already exists.`);
  checkDefaultPasswordPolicy(password);
  u.loginProfile = { createDate: ctx.account.clock.now(), passwordResetRequired: reset };
  return loginProfileXml(u);
};

const getLoginProfile: ActionHandler = (ctx) => {
  const u = userParam(ctx, 'iam:GetLoginProfile', false);
  if (u.loginProfile === undefined) throw noLoginProfile(u);
  return loginProfileXml(u);
};

const deleteLoginProfile: ActionHandler = (ctx) => {
  const u = userParam(ctx, 'iam:DeleteLoginProfile', false);
  if (u.loginProfile === undefined) throw noLoginProfile(u);
  u.loginProfile = undefined;
  return null;
};

// ---- Virtual MFA devices ------------------------------------------------------------

function noSuchDevice(serial: string): AwsError {
  return noSuchEntity(`MFA Device with serial number ${serial} does not exist.`);
}

const createVirtualMfaDevice: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('VirtualMFADeviceName', MFA_NAME_RULE);
  const path = v.optional('Path', PATH_RULE) ?? '/';
  const tags = v.tags('Tags', MAX_TAGS);
  v.finish();
  checkTagKeys(tags);
  const a = ctx.account;
  const serialNumber = a.arn('mfa', path, name);
  allow(ctx, 'iam:CreateVirtualMFADevice', serialNumber, requestTagContext(tags));
  if (a.mfaDevices.has(serialNumber.toLowerCase())) {
    throw alreadyExists('MFADevice entity at the same path and name already exists.');
  }
  const device: VirtualMfaDevice = {
    serialNumber,
    name,
    path,
    seed: newTotpSeed(),
    createDate: a.clock.now(),
    tags: tags.map((t) => ({ ...t })),
    user: undefined,
    enableDate: undefined,
  };
  a.mfaDevices.set(serialNumber.toLowerCase(), device);
  // Base32StringSeed is a blob, so it travels base64-encoded. QRCodePNG is not produced.
  return (
    `<VirtualMFADevice>${el('SerialNumber', serialNumber)}` +
    `${el('Base32StringSeed', Buffer.from(device.seed, 'ascii').toString('base64'))}` +
    `${device.tags.length > 0 ? tagsXml(device.tags) : ''}</VirtualMFADevice>`
  );
};

const enableMfaDevice: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const serial = v.required('SerialNumber', SERIAL_NUMBER_RULE);
  const code1 = v.required('AuthenticationCode1', AUTH_CODE_RULE);
  const code2 = v.required('AuthenticationCode2', AUTH_CODE_RULE);
  v.finish();
  const u = targetUser(ctx, name, 'iam:EnableMFADevice');
  const device = ctx.account.mfaDevices.get(serial.toLowerCase());
  if (device === undefined) throw noSuchDevice(serial);
  if (device.user !== undefined) throw alreadyExists('MFA Device is already in use.');
  if (u.mfaDevices.length >= MAX_MFA_DEVICES) throw limitExceeded(`Cannot exceed quota for MFADevicesPerUser: ${MAX_MFA_DEVICES}`);
  // TOTP codes come from the user's authenticator, which runs on real time.
  if (!verifyConsecutiveTotp(device.seed, code1, code2, Date.now())) {
    throw new AwsError('InvalidAuthenticationCode', 'Authentication code for device is not valid.');
  }
  device.user = u;
  device.enableDate = ctx.account.clock.now();
  u.mfaDevices.push(device);
  return null;
};

const deactivateMfaDevice: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const serial = v.required('SerialNumber', SERIAL_NUMBER_RULE);
  v.finish();
  const u = targetUser(ctx, name, 'iam:DeactivateMFADevice');
  const i = u.mfaDevices.findIndex((d) => d.serialNumber.toLowerCase() === serial.toLowerCase());
  const device = u.mfaDevices[i];
  if (device === undefined) throw noSuchDevice(serial);
  u.mfaDevices.splice(i, 1);
  device.user = undefined;
  device.enableDate = undefined;
  return null;
};

const listMfaDevices: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const page = pageRequest(v);
  v.finish();
  const target = userOrCaller(ctx, name);
  if (target === 'root') return memberList('MFADevices', []) + truncationXml(undefined);
  allow(ctx, 'iam:ListMFADevices', target.arn, resourceTagContext(target.tags));
  const result = paginate(target.mfaDevices, (d) => d.serialNumber, page);
  return (
    memberList(
      'MFADevices',
      result.items.map(
        (d) =>
          el('UserName', target.name) +
          el('SerialNumber', d.serialNumber) +
          `<EnableDate>${isoDate(d.enableDate ?? d.createDate)}</EnableDate>`,
      ),
    ) + truncationXml(result.nextMarker)
  );
};

const deleteVirtualMfaDevice: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const serial = v.required('SerialNumber', SERIAL_NUMBER_RULE);
  v.finish();
  allow(ctx, 'iam:DeleteVirtualMFADevice', serial);
  const device = ctx.account.mfaDevices.get(serial.toLowerCase());
  if (device === undefined) throw noSuchEntity(`VirtualMFADevice with serial number ${serial} doesn't exist.`);
  if (device.user !== undefined) throw deleteConflict('MFA VirtualDevice in use. Must deactivate first.');
  ctx.account.mfaDevices.delete(serial.toLowerCase());
  return null;
};

const listVirtualMfaDevices: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const status = v.enumOf('AssignmentStatus', ['Assigned', 'Unassigned', 'Any'] as const, false) ?? 'Any';
  const page = pageRequest(v);
  v.finish();
  allow(ctx, 'iam:ListVirtualMFADevices', `arn:aws:iam::${ctx.account.accountId}:mfa/`);
  const all = [...ctx.account.mfaDevices.values()].filter(
    (d) => status === 'Any' || (status === 'Assigned') === (d.user !== undefined),
  );
  const result = paginate(all, (d) => d.serialNumber, page);
  return (
    memberList(
      'VirtualMFADevices',
      result.items.map(
        (d) =>
          el('SerialNumber', d.serialNumber) +
          (d.user === undefined || d.enableDate === undefined
            ? ''
            : `<User>${userXml(d.user, false)}</User><EnableDate>${isoDate(d.enableDate)}</EnableDate>`),
      ),
    ) + truncationXml(result.nextMarker)
  );
};

// ---- Signing certificates ------------------------------------------------------------

function certificateXml(u: User, c: SigningCertificate): string {
  return (
    el('UserName', u.name) +
    el('CertificateId', c.id) +
    el('CertificateBody', c.body) +
    el('Status', c.status) +
    `<UploadDate>${isoDate(c.uploadDate)}</UploadDate>`
  );
}

function normaliseCertificate(body: string): string {
  return body.replace(/\r\n/g, '\n').trim();
}

const uploadSigningCertificate: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const body = v.required('CertificateBody', CERT_BODY_RULE);
  v.finish();
  const u = targetUser(ctx, name, 'iam:UploadSigningCertificate');
  try {
    new X509Certificate(body);
  } catch {
    throw new AwsError('MalformedCertificate', 'Unable to parse certificate. Please ensure the certificate is in PEM format.');
  }
  const key = normaliseCertificate(body);
  const existing = ctx.account.certificateBodies.get(key);
  if (existing !== undefined) throw new AwsError('DuplicateCertificate', `The Certificate with id ${existing} already exists.`);
  if (u.signingCertificates.length >= MAX_SIGNING_CERTIFICATES) {
    throw limitExceeded(`Cannot exceed quota for CertificatesPerUser: ${MAX_SIGNING_CERTIFICATES}`);
  }
  const cert: SigningCertificate = { id: newCertificateId(), body, status: 'Active', uploadDate: ctx.account.clock.now() };
  u.signingCertificates.push(cert);
  ctx.account.certificateBodies.set(key, cert.id);
  return `<Certificate>${certificateXml(u, cert)}</Certificate>`;
};

const listSigningCertificates: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const page = pageRequest(v);
  v.finish();
  const u = targetUser(ctx, name, 'iam:ListSigningCertificates');
  const result = paginate(u.signingCertificates, (c) => c.id, page);
  return (
    memberList('Certificates', result.items.map((c) => certificateXml(u, c))) + truncationXml(result.nextMarker)
  );
};

const deleteSigningCertificate: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const id = v.required('CertificateId', CERT_ID_RULE);
  v.finish();
  const u = targetUser(ctx, name, 'iam:DeleteSigningCertificate');
  const i = u.signingCertificates.findIndex((c) => c.id === id);
  const cert = u.signingCertificates[i];
  if (cert === undefined) throw noSuchEntity(`The Certificate with id ${id} cannot be found.`);
  u.signingCertificates.splice(i, 1);
  ctx.account.certificateBodies.delete(normaliseCertificate(cert.body));
  return null;
};

// ---- SSH public keys ---------------------------------------------------------------------

const invalidPublicKey = (): AwsError =>
  new AwsError('InvalidPublicKey', 'The public key is malformed or otherwise invalid.');
const unrecognizedEncoding = (): AwsError =>
  new AwsError('UnrecognizedPublicKeyEncoding', 'The public key encoding format is unsupported or unrecognized.');

/** SSH wire format: uint32 length-prefixed strings and mpints. */
function readSshString(buf: Buffer, offset: number): { value: Buffer; next: number } {
  if (offset + 4 > buf.length) throw invalidPublicKey();
  const len = buf.readUInt32BE(offset);
  const end = offset + 4 + len;
  if (end > buf.length) throw invalidPublicKey();
  return { value: buf.subarray(offset + 4, end), next: end };
}

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** An mpint is two's complement, so a set top bit needs a leading zero byte. */
function sshMpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  return sshString(((trimmed[0] ?? 0) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function modulusBits(mpint: Buffer): number {
  let start = 0;
  while (start < mpint.length && mpint[start] === 0) start++;
  if (start === mpint.length) return 0;
  return (mpint.length - start - 1) * 8 + (32 - Math.clz32(mpint[start] ?? 0));
}

const SSH_KEY_TYPES_NOT_SUPPORTED: ReadonlySet<string> = new Set([
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
]);

/** IAM accepts RSA keys (at least 2048 bits) in OpenSSH or PEM encoding. */
function parseSshPublicKey(body: string): Buffer {
  const text = body.trim();
  if (text.startsWith('-----BEGIN')) {
    let jwk: { kty?: string; n?: string; e?: string };
    try {
      jwk = createPublicKey(text).export({ format: 'jwk' });
    } catch {
      throw invalidPublicKey();
    }
    if (jwk.kty !== 'RSA' || jwk.n === undefined || jwk.e === undefined) throw unrecognizedEncoding();
    const n = Buffer.from(jwk.n, 'base64url');
    if (modulusBits(n) < MIN_SSH_RSA_BITS) throw invalidPublicKey();
    return Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshMpint(Buffer.from(jwk.e, 'base64url')), sshMpint(n)]);
  }
  const [type = '', data = ''] = text.split(/\s+/);
  if (type !== 'ssh-rsa') throw SSH_KEY_TYPES_NOT_SUPPORTED.has(type) ? unrecognizedEncoding() : invalidPublicKey();
  const blob = Buffer.from(data, 'base64');
  const kind = readSshString(blob, 0);
  if (kind.value.toString() !== 'ssh-rsa') throw invalidPublicKey();
  const e = readSshString(blob, kind.next);
  const n = readSshString(blob, e.next);
  if (n.next !== blob.length || modulusBits(n.value) < MIN_SSH_RSA_BITS) throw invalidPublicKey();
  return blob;
}

function fingerprint(blob: Buffer): string {
  return (createHash('md5').update(blob).digest('hex').match(/../g) ?? []).join(':');
}

function sshKeyXml(u: User, k: SshPublicKey, full: boolean): string {
  return (
    el('UserName', u.name) +
    el('SSHPublicKeyId', k.id) +
    (full ? el('Fingerprint', k.fingerprint) + el('SSHPublicKeyBody', k.body) : '') +
    el('Status', k.status) +
    `<UploadDate>${isoDate(k.uploadDate)}</UploadDate>`
  );
}

const uploadSshPublicKey: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const body = v.required('SSHPublicKeyBody', CERT_BODY_RULE);
  v.finish();
  const u = targetUser(ctx, name, 'iam:UploadSSHPublicKey');
  const print = fingerprint(parseSshPublicKey(body));
  if (u.sshPublicKeys.some((k) => k.fingerprint === print)) {
    throw new AwsError('DuplicateSSHPublicKey', 'The SSH public key is already associated with the specified IAM user.');
  }
  if (u.sshPublicKeys.length >= MAX_SSH_KEYS) throw limitExceeded(`Cannot exceed quota for PublicKeysPerUser: ${MAX_SSH_KEYS}`);
  const key: SshPublicKey = {
    id: newSshKeyId(),
    body,
    fingerprint: print,
    status: 'Active',
    uploadDate: ctx.account.clock.now(),
  };
  u.sshPublicKeys.push(key);
  return `<SSHPublicKey>${sshKeyXml(u, key, true)}</SSHPublicKey>`;
};

const listSshPublicKeys: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const page = pageRequest(v);
  v.finish();
  const u = targetUser(ctx, name, 'iam:ListSSHPublicKeys');
  const result = paginate(u.sshPublicKeys, (k) => k.id, page);
  return memberList('SSHPublicKeys', result.items.map((k) => sshKeyXml(u, k, false))) + truncationXml(result.nextMarker);
};

const deleteSshPublicKey: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const id = v.required('SSHPublicKeyId', SSH_KEY_ID_RULE);
  v.finish();
  const u = targetUser(ctx, name, 'iam:DeleteSSHPublicKey');
  const i = u.sshPublicKeys.findIndex((k) => k.id === id);
  if (i < 0) throw noSuchEntity(`The Public Key with id ${id} cannot be found.`);
  u.sshPublicKeys.splice(i, 1);
  return null;
};

// ---- Service-specific credentials ----------------------------------------------------------

function serviceCredentialXml(u: User, c: ServiceCredential, withPassword: boolean): string {
  return (
    `<CreateDate>${isoDate(c.createDate)}</CreateDate>` +
    el('ServiceName', c.serviceName) +
    el('ServiceUserName', c.serviceUserName) +
    (withPassword ? el('ServicePassword', c.password) : '') +
    el('ServiceSpecificCredentialId', c.id) +
    el('UserName', u.name) +
    el('Status', c.status)
  );
}

const createServiceSpecificCredential: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.required('UserName', USER_NAME_RULE);
  const service = v.required('ServiceName', {});
  v.finish();
  const u = targetUser(ctx, name, 'iam:CreateServiceSpecificCredential');
  if (!SUPPORTED_SERVICES.has(service)) throw new AwsError('NotSupportedService', `Service ${service} is not supported.`);
  const count = u.serviceCredentials.filter((c) => c.serviceName === service).length;
  if (count >= MAX_SERVICE_CREDENTIALS_PER_SERVICE) {
    throw limitExceeded(
      `Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: ${MAX_SERVICE_CREDENTIALS_PER_SERVICE}`,
    );
  }
  const cred: ServiceCredential = {
    id: newServiceCredentialId(),
    serviceName: service,
    serviceUserName: `${u.name}-at-${ctx.account.accountId}`,
    password: randomToken(33),
    status: 'Active',
    createDate: ctx.account.clock.now(),
  };
  u.serviceCredentials.push(cred);
  return `<ServiceSpecificCredential>${serviceCredentialXml(u, cred, true)}</ServiceSpecificCredential>`;
};

const listServiceSpecificCredentials: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const service = v.optional('ServiceName', {});
  const page = pageRequest(v);
  v.finish();
  const u = targetUser(ctx, name, 'iam:ListServiceSpecificCredentials');
  const all = u.serviceCredentials.filter((c) => service === undefined || c.serviceName === service);
  const result = paginate(all, (c) => c.id, page);
  return (
    memberList('ServiceSpecificCredentials', result.items.map((c) => serviceCredentialXml(u, c, false))) +
    truncationXml(result.nextMarker)
  );
};

const deleteServiceSpecificCredential: ActionHandler = (ctx) => {
  const v = new Validator(ctx.params);
  const name = v.optional('UserName', USER_NAME_RULE);
  const id = v.required('ServiceSpecificCredentialId', SERVICE_CRED_ID_RULE);
  v.finish();
  const u = targetUser(ctx, name, 'iam:DeleteServiceSpecificCredential');
  const i = u.serviceCredentials.findIndex((c) => c.id === id);
  if (i < 0) throw noSuchEntity(`The Service Specific Credential with id ${id} cannot be found.`);
  u.serviceCredentials.splice(i, 1);
  return null;
};

export const CREDENTIAL_ACTIONS: ReadonlyArray<readonly [string, ActionHandler]> = [
  ['CreateLoginProfile', createLoginProfile],
  ['GetLoginProfile', getLoginProfile],
  ['DeleteLoginProfile', deleteLoginProfile],
  ['CreateVirtualMFADevice', createVirtualMfaDevice],
  ['EnableMFADevice', enableMfaDevice],
  ['DeactivateMFADevice', deactivateMfaDevice],
  ['ListMFADevices', listMfaDevices],
  ['DeleteVirtualMFADevice', deleteVirtualMfaDevice],
  ['ListVirtualMFADevices', listVirtualMfaDevices],
  ['UploadSigningCertificate', uploadSigningCertificate],
  ['ListSigningCertificates', listSigningCertificates],
  ['DeleteSigningCertificate', deleteSigningCertificate],
  ['UploadSSHPublicKey', uploadSshPublicKey],
  ['ListSSHPublicKeys', listSshPublicKeys],
  ['DeleteSSHPublicKey', deleteSshPublicKey],
  ['CreateServiceSpecificCredential', createServiceSpecificCredential],
  ['ListServiceSpecificCredentials', listServiceSpecificCredentials],
  ['DeleteServiceSpecificCredential', deleteServiceSpecificCredential],
];
