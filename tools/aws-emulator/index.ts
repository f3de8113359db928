/**
 * Programmatic entry point: start an IAM + STS emulator on a local port and
 * control it in-process (the same controls the /_emulator/ admin API offers).
 */

import { randomBytes } from 'node:crypto';
import {
  type CountsSnapshot,
  EmulatorServer,
  type FaultInfo,
  type FaultSpec,
  type SeededUser,
  type SeedSpec,
} from './server.js';
import { randomId, type StateSnapshot, type UserSnapshot } from './state.js';
import { totp } from './totp.js';

export type { CountsSnapshot, FaultInfo, FaultSpec, SeededUser, SeedSpec, StateSnapshot, UserSnapshot };
export { totp, base32Decode, base32Encode } from './totp.js';
export { IAM_VERSION, STS_VERSION } from './server.js';

export interface AwsEmulatorOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Defaults to 127.0.0.1. */
  readonly host?: string;
  /** Defaults to 123456789012. */
  readonly accountId?: string;
  /** The account root user's key; a random AKIA... pair when omitted. */
  readonly rootAccessKeyId?: string;
  readonly rootSecretAccessKey?: string;
  /** How long a key made by CreateAccessKey answers InvalidClientTokenId (IAM eventual consistency). */
  readonly keyActivationDelayMs?: number;
}

export interface AwsEmulator {
  /** E.g. http://127.0.0.1:4599 */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly accountId: string;
  readonly rootAccessKeyId: string;
  readonly rootSecretAccessKey: string;
  close(): Promise<void>;

  /** Everything the account holds; `userNamePrefix` narrows the user list. */
  state(options?: { userNamePrefix?: string }): StateSnapshot;
  /** Every user with everything it holds (keys, policies, groups, MFA, ...). */
  listUsers(): UserSnapshot[];
  getUser(userName: string): UserSnapshot | undefined;

  counts(): CountsSnapshot;
  /** Calls of one action since the last reset, for polling (counts() copies every per-user tally). */
  callCount(action: string): number;
  resetCounts(): void;

  /** Makes matching calls fail with an AWS error and/or answer late; returns the rule id. */
  addFault(fault: FaultSpec): number;
  removeFault(id: number): boolean;
  listFaults(): FaultInfo[];
  /** Removes every fault rule and ends a `down` period. */
  clearFaults(): void;
  /** While down, AWS-protocol requests get their socket destroyed with no response. */
  setDown(down: boolean, forMs?: number): void;

  /** Moves the emulator's clock (credential expiry, timestamps) forward. */
  advanceClock(seconds: number): void;
  now(): Date;
  setKeyActivationDelay(ms: number): void;
  readonly keyActivationDelayMs: number;

  /** Bulk-creates users with one access key each (and an inline policy if given). */
  seed(spec: SeedSpec): SeededUser[];
  /** Back to an empty account (root key, AWS managed policies) with no faults or counts. */
  reset(): void;

  /** The current TOTP code of a virtual MFA device, as its authenticator app would show. */
  mfaCode(serialNumber: string, atMs?: number): string;
}

const ACCOUNT_ID = /^\d{12}$/;
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

export async function startAwsEmulator(options: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
  const accountId = options.accountId ?? '123456789012';
  if (!ACCOUNT_ID.test(accountId)) throw new Error(`accountId must be 12 digits, got ${accountId}`);
  if ((options.rootAccessKeyId === undefined) !== (options.rootSecretAccessKey === undefined)) {
    throw new Error('rootAccessKeyId and rootSecretAccessKey must be given together');
  }
  const rootAccessKeyId = options.rootAccessKeyId ?? randomId('AKIA', 16);
  const rootSecretAccessKey = options.rootSecretAccessKey ?? randomBytes(30).toString('base64');
  if (!ACCESS_KEY_ID.test(rootAccessKeyId)) throw new Error('rootAccessKeyId must be 16-128 upper-case letters or digits');
  if (rootSecretAccessKey === '') throw new Error('rootSecretAccessKey must not be empty');
  const keyActivationDelayMs = options.keyActivationDelayMs ?? 0;
  if (!Number.isFinite(keyActivationDelayMs) || keyActivationDelayMs < 0) {
    throw new Error('keyActivationDelayMs must be a non-negative number');
  }

  const server = new EmulatorServer({ accountId, rootAccessKeyId, rootSecretAccessKey, keyActivationDelayMs });
  const requestedHost = options.host ?? '127.0.0.1';
  const address = await server.listen(options.port ?? 0, requestedHost);
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const endpoint = `http://${urlHost}:${address.port}`;

  return {
    endpoint,
    host: address.address,
    port: address.port,
    accountId,
    rootAccessKeyId,
    rootSecretAccessKey,
    close: () => server.close(),
    state: (o) => server.state(o?.userNamePrefix),
    listUsers: () => server.state().users,
    getUser: (name) => server.user(name),
    counts: () => server.counts(),
    callCount: (action) => server.callCount(action),
    resetCounts: () => server.resetCounts(),
    addFault: (fault) => server.addFault(fault),
    removeFault: (id) => server.removeFault(id),
    listFaults: () => server.listFaults(),
    clearFaults: () => server.clearFaults(),
    setDown: (down, forMs) => server.setDown(down, forMs),
    advanceClock: (seconds) => server.advanceClock(seconds),
    now: () => new Date(server.account.clock.now()),
    setKeyActivationDelay: (ms) => server.setKeyActivationDelay(ms),
    get keyActivationDelayMs() {
      return server.account.keyActivationDelayMs;
    },
    seed: (spec) => server.seed(spec),
    reset: () => server.reset(),
    mfaCode: (serialNumber, atMs) => {
      const device = server.account.mfaDevices.get(serialNumber.toLowerCase());
      if (device === undefined) throw new Error(`no virtual MFA device ${serialNumber}`);
      return totp(device.seed, atMs ?? Date.now());
    },
  };
}
