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
export type { LeaseEvent } from "./gen/lessor/v1/leases.js";
export { LeaseState, LeaseEventType } from "./gen/lessor/v1/leases.js";
export type { Mount } from "./gen/lessor/v1/mounts.js";
export type { TokenInfo, CreateTokenRequest, RevokeTokenResponse } from "./gen/lessor/v1/tokens.js";
export type { AuditDevice, RateLimitQuota, EncryptionKey, GetEncryptionKeyStatusResponse } from "./gen/lessor/v1/sys.js";
export { LeaseRenewer } from "./renewer.js";
export type { LeaseRenewerOptions, LeaseRenewerEvents, RenewableLease, RenewedEvent, RetryingEvent, RenewerDone, RenewerStopReason } from "./renewer.js";
export { lessorAwsCredentials } from "./aws-credentials.js";
export type { LessorAwsCredentialsOptions, LessorAwsCredentialProvider } from "./aws-credentials.js";
export { watchLeases, AFTER_SEQUENCE_HEADER } from "./watch.js";
export type { WatchLeasesOptions } from "./watch.js";
export { IDEMPOTENT_METHODS, isIdempotentRead, CHANNEL_OPTIONS } from "./policy.js";
export type { RetryOptions, LessorCallOptions } from "./policy.js";
export { awsIamLoginData, DEFAULT_STS_ENDPOINT, SERVER_ID_HEADER } from "./aws-login.js";
export type { AwsIamLoginOptions } from "./aws-login.js";
