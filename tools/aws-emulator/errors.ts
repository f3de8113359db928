/**
 * AWS error model: an error code, the HTTP status AWS documents for it, and
 * whether the fault is the caller's (Sender) or the service's (Receiver).
 */

export type ErrorType = 'Sender' | 'Receiver';

/** HTTP statuses from the IAM/STS API references and the common-errors page. */
const STATUS_BY_CODE: ReadonlyMap<string, number> = new Map([
  ['AccessDenied', 403],
  ['ConcurrentModification', 409],
  ['DeleteConflict', 409],
  ['DuplicateCertificate', 409],
  ['DuplicateSSHPublicKey', 400],
  ['EntityAlreadyExists', 409],
  ['EntityTemporarilyUnmodifiable', 409],
  ['ExpiredToken', 403],
  ['IncompleteSignature', 400],
  ['InternalFailure', 500],
  ['InvalidAction', 400],
  ['InvalidAuthenticationCode', 403],
  ['InvalidCertificate', 400],
  ['InvalidClientTokenId', 403],
  ['InvalidInput', 400],
  ['InvalidParameterCombination', 400],
  ['InvalidParameterValue', 400],
  ['InvalidPublicKey', 400],
  ['LimitExceeded', 409],
  ['MalformedCertificate', 400],
  ['MalformedPolicyDocument', 400],
  ['MalformedQueryString', 404],
  ['MissingAction', 400],
  ['MissingAuthenticationToken', 403],
  ['MissingParameter', 400],
  ['NoSuchEntity', 404],
  ['NotSupportedService', 404],
  ['OptInRequired', 403],
  ['PackedPolicyTooLarge', 400],
  ['PasswordPolicyViolation', 400],
  ['RegionDisabledException', 403],
  ['RequestExpired', 400],
  ['RequestLimitExceeded', 503],
  ['ServiceFailure', 500],
  ['ServiceUnavailable', 503],
  ['SignatureDoesNotMatch', 403],
  ['Throttling', 400],
  ['ThrottlingException', 400],
  ['UnmodifiableEntity', 400],
  ['UnrecognizedPublicKeyEncoding', 400],
  ['ValidationError', 400],
]);

const DEFAULT_MESSAGE_BY_CODE: ReadonlyMap<string, string> = new Map([
  ['Throttling', 'Rate exceeded'],
  ['ThrottlingException', 'Rate exceeded'],
  ['RequestLimitExceeded', 'Request limit exceeded.'],
  ['ServiceFailure', 'The request processing has failed because of an unknown error, exception or failure.'],
  ['ServiceUnavailable', 'The request has failed due to a temporary failure of the server.'],
  ['InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.'],
]);

export function defaultStatusFor(code: string): number {
  return STATUS_BY_CODE.get(code) ?? 400;
}

export function defaultMessageFor(code: string): string {
  return DEFAULT_MESSAGE_BY_CODE.get(code) ?? code;
}

export class AwsError extends Error {
  readonly code: string;
  readonly status: number;
  readonly type: ErrorType;

  constructor(code: string, message: string, status?: number, type?: ErrorType) {
    super(message);
    this.name = 'AwsError';
    this.code = code;
    this.status = status ?? defaultStatusFor(code);
    this.type = type ?? (this.status >= 500 ? 'Receiver' : 'Sender');
  }
}

export const noSuchEntity = (message: string): AwsError => new AwsError('NoSuchEntity', message);
export const alreadyExists = (message: string): AwsError => new AwsError('EntityAlreadyExists', message);
export const deleteConflict = (message: string): AwsError => new AwsError('DeleteConflict', message);
export const limitExceeded = (message: string): AwsError => new AwsError('LimitExceeded', message);
export const invalidInput = (message: string): AwsError => new AwsError('InvalidInput', message);
export const validationError = (message: string): AwsError => new AwsError('ValidationError', message);
export const accessDenied = (message: string): AwsError => new AwsError('AccessDenied', message);
export const malformedPolicy = (message: string): AwsError => new AwsError('MalformedPolicyDocument', message);
export const invalidClientTokenId = (): AwsError =>
  new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
