// The limits a mount sets for its backend (Vault's SystemView): lease TTLs,
// and the clock. The one place the lease timing rules live: the lease manager
// clamps every lease with `leaseTtls`, and a backend that reports TTLs (aws
// config/lease) asks its system view instead of recomputing them.
import type { SystemView } from "../engines/framework/types.js";

/** Lease duration when neither the backend nor the mount sets one (32 days). */
export const DEFAULT_LEASE_TTL_SECONDS = 768 * 3600;
/** Upper bound on any lease when the mount sets none. */
export const SYSTEM_MAX_LEASE_TTL_SECONDS = 768 * 3600;

/** A mount's own TTL settings; 0 means "the system's". */
export interface MountTtls {
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

export function systemView(mount: MountTtls, now: () => number = Date.now): SystemView {
  const max = mount.maxTtlSeconds > 0 ? mount.maxTtlSeconds : SYSTEM_MAX_LEASE_TTL_SECONDS;
  const defaultTtl = Math.min(mount.defaultTtlSeconds > 0 ? mount.defaultTtlSeconds : DEFAULT_LEASE_TTL_SECONDS, max);
  return {
    defaultLeaseTtlSeconds: () => defaultTtl,
    maxLeaseTtlSeconds: () => max,
    now,
  };
}

/** TTL and max TTL for a new lease: what the backend asked, within what the mount allows. */
export function leaseTtls(
  system: SystemView,
  requestedTtl: number | undefined,
  requestedMax: number | undefined,
): { ttlSeconds: number; maxTtlSeconds: number } {
  const mountMax = system.maxLeaseTtlSeconds();
  const maxTtlSeconds = Math.min(requestedMax !== undefined && requestedMax > 0 ? requestedMax : mountMax, mountMax);
  const wanted = requestedTtl !== undefined && requestedTtl > 0 ? requestedTtl : system.defaultLeaseTtlSeconds();
  return { ttlSeconds: Math.min(wanted, maxTtlSeconds), maxTtlSeconds };
}
