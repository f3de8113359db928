// @lessor/client: the TypeScript client for Lessor.
export { LessorClient, DEFAULT_ADDRESS, defaultToken, parseAddress } from "./client.js";
export type { LessorClientOptions, SecretResult, AwsCredentials, Unary } from "./client.js";
export { LessorClientError, Code } from "./errors.js";
export type { FieldViolation } from "./errors.js";
export type { Lease, PathHelpResponse, FieldHelp } from "./gen/lessor/v1/secrets.js";
export type {
  LeaseInfo,
  ListLeasesResponse,
  RenewLeaseResponse,
  RevokeLeasePrefixResponse,
  RevokeLeaseResponse,
  TidyLeasesResponse,
} from "./gen/lessor/v1/leases.js";
export { LeaseState } from "./gen/lessor/v1/leases.js";
export type { Mount } from "./gen/lessor/v1/mounts.js";
