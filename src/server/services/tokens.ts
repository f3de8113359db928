// lessor.v1.TokenService: create, look up, renew and revoke tokens. ACL paths
// are Vault's: auth/token/create, auth/token/lookup(-accessor|-self), ...
import type { TokenInfo, TokenServiceServer } from "@lessor/client/gen/lessor/v1/tokens.js";
import type { Acl } from "../../auth/acl.js";
import type { AuthenticatedToken, LeaseRevoker, TokenAuthority } from "../../auth/tokens.js";
import { LessorError } from "../../errors.js";
import type { TokenRecord } from "../../store/types.js";
import { unary, type CallDeps } from "../call.js";
import { tokenPaths } from "../request-paths.js";

export function tokenInfo(record: TokenRecord, now: number): TokenInfo {
  return {
    accessor: record.accessor,
    policies: record.policies,
    displayName: record.displayName,
    creationTime: new Date(record.createdAt),
    expireTime: record.expireTime === null ? undefined : new Date(record.expireTime),
    ttlSeconds: record.expireTime === null ? 0 : Math.max(0, Math.floor((record.expireTime - now) / 1000)),
    renewable: record.renewable,
    numUses: record.numUses > 0 ? record.usesLeft : 0,
    parentAccessor: record.parentAccessor ?? "",
    meta: record.meta,
    maxExpireTime: record.maxExpireTime === null ? undefined : new Date(record.maxExpireTime),
  };
}

/** Which token a request names: by value, by accessor, or the caller's own. */
async function target(
  tokens: TokenAuthority,
  acl: Acl,
  caller: AuthenticatedToken,
  req: { token: string; accessor: string },
  paths: { plain: string; accessor: string; self: string },
  now: number,
): Promise<TokenRecord> {
  if (req.token !== "" && req.accessor !== "") throw LessorError.invalidField("accessor", "give a token or an accessor, not both");
  if (req.token !== "") {
    acl.check(caller.policies, paths.plain, "update");
    return tokens.lookupByToken(req.token, now);
  }
  if (req.accessor !== "") {
    if (req.accessor.length > 128) throw LessorError.invalidField("accessor", "is longer than 128 characters");
    acl.check(caller.policies, paths.accessor, "update");
    return tokens.lookupByAccessor(req.accessor, now);
  }
  acl.check(caller.policies, paths.self, "update");
  return tokens.lookupSelf(caller);
}

export function tokenService(deps: CallDeps, tokens: TokenAuthority, acl: Acl, leases: LeaseRevoker): TokenServiceServer {
  return {
    createToken: unary(deps, "TokenService/CreateToken", async (req, ctx) => {
      if (req.orphan) acl.checkSudo(ctx.caller.policies, tokenPaths.create, "update");
      else acl.check(ctx.caller.policies, tokenPaths.create, "update");
      const now = Date.now();
      const { token, record } = await tokens.create(
        ctx.caller,
        {
          policies: req.policies,
          ttlSeconds: req.ttlSeconds,
          explicitMaxTtlSeconds: req.explicitMaxTtlSeconds,
          renewable: req.renewable,
          numUses: req.numUses,
          displayName: req.displayName,
          orphan: req.orphan,
          meta: req.meta,
        },
        now,
      );
      return { token, info: tokenInfo(record, now) };
    }),
    lookupToken: unary(deps, "TokenService/LookupToken", async (req, ctx) => {
      const now = Date.now();
      const paths = { plain: tokenPaths.lookup, accessor: tokenPaths.lookupAccessor, self: tokenPaths.lookupSelf };
      if (req.token === "" && req.accessor === "") {
        acl.check(ctx.caller.policies, tokenPaths.lookupSelf, "read");
        return { info: tokenInfo(await tokens.lookupSelf(ctx.caller), now) };
      }
      return { info: tokenInfo(await target(tokens, acl, ctx.caller, req, paths, now), now) };
    }),
    lookupSelfToken: unary(deps, "TokenService/LookupSelfToken", async (_req, ctx) => {
      acl.check(ctx.caller.policies, tokenPaths.lookupSelf, "read");
      const now = Date.now();
      return { info: tokenInfo(await tokens.lookupSelf(ctx.caller), now) };
    }),
    renewToken: unary(deps, "TokenService/RenewToken", async (req, ctx) => {
      const now = Date.now();
      const paths = { plain: tokenPaths.renew, accessor: tokenPaths.renewAccessor, self: tokenPaths.renewSelf };
      const record = await target(tokens, acl, ctx.caller, req, paths, now);
      const renewed = await tokens.renew(record, req.incrementSeconds, now);
      return { info: tokenInfo(renewed.record, now) };
    }),
    revokeToken: unary(deps, "TokenService/RevokeToken", async (req, ctx) => {
      const now = Date.now();
      const paths = { plain: tokenPaths.revoke, accessor: tokenPaths.revokeAccessor, self: tokenPaths.revokeSelf };
      if (req.orphan) acl.checkSudo(ctx.caller.policies, tokenPaths.revokeOrphan, "update");
      let record: TokenRecord;
      try {
        record = await target(tokens, acl, ctx.caller, req, paths, now);
      } catch (err) {
        // Revoking what is already gone succeeds quietly, as in Vault.
        if (err instanceof LessorError && err.reason === "TOKEN_NOT_FOUND") return { revokedTokens: 0, revokedLeases: 0 };
        throw err;
      }
      const outcome = await tokens.revoke(record.accessor, leases, req.orphan);
      return { revokedTokens: outcome.tokens, revokedLeases: outcome.leases };
    }),
  };
}
