// `lessor aws credential-process -role=R`, for `credential_process` in
// ~/.aws/config: prints the JSON the AWS SDKs and CLI read (Version 1,
// AccessKeyId, SecretAccessKey, SessionToken, Expiration). SDKs run it again
// whenever their copy nears its Expiration, so it must not issue a new IAM
// user each time: it asks a running agent when one serves this Lessor
// (found through the agent file), else keeps the current lease in a sealed
// cache (credential-cache.ts), renews it when due, and issues the next one
// only when it nears its end. A replaced lease is left to run out: SDKs in
// other processes may still hold it until the Expiration they were given.
import { request as httpRequest } from "node:http";
import { Code, LeaseState, LessorClientError, type LessorClient } from "@lessor/client";
import { z } from "zod";
import type { AgentSettings, AutoAuth } from "./config.js";
import { CredentialCache } from "./credential-cache.js";
import { processAlive, readAgentFile } from "./files.js";
import { issueLease, timesFromInfo, type IssuedLease } from "./issue.js";
import { readTokenFile, oneShotClient } from "./session.js";
import { renewAt, servable, usableUntil, type LeaseTimes } from "./timing.js";

/** Asking a running agent: connecting and the whole answer. */
const AGENT_TIMEOUT_MS = 10_000;
/** Largest answer read from an agent. */
const MAX_AGENT_ANSWER_BYTES = 64 * 1024;
/** Replace a cached lease this long before its end at most (botocore refreshes 15 minutes ahead). */
const MAX_REPLACE_AHEAD_MS = 15 * 60_000;

export interface CredentialProcessSettings {
  role: string;
  mount: string;
  lessor: AgentSettings["lessor"];
  /** The address as the CLI resolves it (flag, LESSOR_ADDR, default), to match an agent's. */
  address: string;
  auth: AutoAuth;
  /** The agent file to look for a running agent in; undefined: do not. */
  agentFile: string | undefined;
  cacheDir: string;
  verifyTimeoutMs: number;
}

/** What `credential_process` prints. */
export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  Expiration: string;
}

export class CredentialProcessError extends Error {}

export async function credentialProcess(settings: CredentialProcessSettings): Promise<ProcessCredentials> {
  const fromAgent = settings.agentFile === undefined ? undefined : await askAgent(settings, settings.agentFile);
  return fromAgent ?? (await fromCache(settings));
}

const agentAnswer = z.object({ AccessKeyId: z.string(), SecretAccessKey: z.string(), Token: z.string(), Expiration: z.string() });

/** Credentials from the agent the agent file names, if it runs, serves this Lessor, mount and role, and answers. */
async function askAgent(settings: CredentialProcessSettings, agentFile: string): Promise<ProcessCredentials | undefined> {
  const agent = readAgentFile(agentFile);
  if (!agent || !processAlive(agent.pid)) return undefined;
  const same = (a: string, b: string) => a.replace(/\/+$/, "") === b.replace(/\/+$/, "");
  if (!same(agent.lessor_address, settings.address) || agent.mount !== settings.mount) return undefined;
  if (agent.roles.length > 0 && !agent.roles.includes(settings.role)) return undefined;
  let token: string;
  try {
    token = readTokenFile(agent.authorization_token_file);
  } catch {
    return undefined;
  }
  const body = await getFromAgent(agent.url, `/aws/creds/${encodeURIComponent(settings.role)}`, token);
  if (body === undefined) return undefined;
  let parsed;
  try {
    parsed = agentAnswer.safeParse(JSON.parse(body));
  } catch {
    return undefined;
  }
  if (!parsed.success) return undefined;
  const a = parsed.data;
  return { Version: 1, AccessKeyId: a.AccessKeyId, SecretAccessKey: a.SecretAccessKey, ...(a.Token ? { SessionToken: a.Token } : {}), Expiration: a.Expiration };
}

/** The body of a 200 answer from the agent (over TCP or its unix socket), else undefined. */
function getFromAgent(url: string, path: string, token: string): Promise<string | undefined> {
  const target = url.startsWith("unix:") ? { socketPath: url.slice("unix:".length), path } : (() => {
    const u = new URL(url);
    return { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port), path };
  })();
  return new Promise((resolve) => {
    // The whole exchange is bounded, whatever the agent does (resolving twice is a no-op).
    const timer = setTimeout(() => {
      req.destroy();
      resolve(undefined);
    }, AGENT_TIMEOUT_MS);
    const done = (body: string | undefined): void => {
      clearTimeout(timer);
      resolve(body);
    };
    const req = httpRequest({ ...target, method: "GET", headers: { authorization: token } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_AGENT_ANSWER_BYTES) chunks.push(chunk);
        else {
          req.destroy();
          done(undefined);
        }
      });
      res.on("end", () => done(res.statusCode === 200 ? Buffer.concat(chunks).toString("utf8") : undefined));
      res.on("error", () => done(undefined));
    });
    req.on("error", () => done(undefined));
    req.end();
  });
}

/**
 * Whether a cached lease is near its end for good (its max TTL if it can be
 * renewed, else its current end): within a third of its life, at most 15
 * minutes. The next run then issues the next lease.
 */
function nearItsEnd(times: LeaseTimes, now: number): boolean {
  const end = times.renewable ? times.maxExpireAt : Math.min(times.expireAt, times.maxExpireAt);
  return end - now < Math.min(MAX_REPLACE_AHEAD_MS, (end - times.issuedAt) / 3);
}

async function fromCache(settings: CredentialProcessSettings): Promise<ProcessCredentials> {
  const key = { address: settings.address, mount: settings.mount, role: settings.role };
  const client = oneShotClient(settings.auth, settings.lessor);
  try {
    const lease = await CredentialCache.withLock(settings.cacheDir, async (cache) => {
      let current = cache.read(key);
      if (current) current = await refresh(client, current);
      if (current && nearItsEnd(current.times, Date.now())) current = undefined;
      if (!current) {
        current = await issueLease(client, settings.role, settings.mount, settings.verifyTimeoutMs);
        if (current.verification?.outcome === "refused") {
          await client.leases.revoke(current.id).catch(() => undefined);
          throw new CredentialProcessError(`AWS did not accept the new key for ${settings.mount}/creds/${settings.role} (${current.verification.error})`);
        }
      }
      cache.write(key, current);
      return current;
    });
    return {
      Version: 1,
      AccessKeyId: lease.key.accessKeyId,
      SecretAccessKey: lease.key.secretAccessKey,
      ...(lease.key.sessionToken ? { SessionToken: lease.key.sessionToken } : {}),
      Expiration: new Date(usableUntil(lease.times)).toISOString(),
    };
  } finally {
    client.close();
  }
}

/**
 * A cached lease as Lessor sees it now: gone (revoked, expired) is
 * undefined; due for renewal is renewed. When Lessor cannot be reached the
 * cached times stand, and the lease is used while they say it may be.
 */
async function refresh(client: LessorClient, cached: IssuedLease): Promise<IssuedLease | undefined> {
  const now = Date.now();
  let lease: IssuedLease = cached;
  try {
    const info = await client.leases.lookup(cached.id);
    if (info.state !== LeaseState.LEASE_STATE_ACTIVE) return undefined;
    const times = timesFromInfo(info, now, cached.times.issuedAt);
    if (!Number.isFinite(cached.times.maxExpireAt) && info.maxExpireTime === undefined) times.maxExpireAt = Number.POSITIVE_INFINITY;
    lease = { ...cached, times };
  } catch (err) {
    if (err instanceof LessorClientError && err.code === Code.NOT_FOUND) return undefined;
  }
  const due = renewAt(lease.times);
  if (due !== undefined && now >= due) {
    try {
      const res = await client.leases.renew(lease.id);
      if (res.lease) lease = { ...lease, times: timesFromInfo({ ...res.lease, ttlSeconds: res.durationSeconds }, Date.now(), lease.times.issuedAt) };
    } catch {
      // Kept as it is: replaced below if it is too close to its end.
    }
  }
  return servable(lease.times, Date.now()) ? lease : undefined;
}
