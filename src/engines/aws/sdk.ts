// The AWS SDK, loaded on first use rather than when the server starts: it is
// the largest part of start-up time, and a server with no aws mount in use
// never needs it. Types come from static `import type`, which costs nothing.
export type IamSdk = typeof import("@aws-sdk/client-iam");
export type StsSdk = typeof import("@aws-sdk/client-sts");
export type RetrySdk = typeof import("@smithy/core/retry");
export type HttpSdk = typeof import("@smithy/node-http-handler");

let iam: Promise<IamSdk> | undefined;
let sts: Promise<StsSdk> | undefined;
let retry: Promise<RetrySdk> | undefined;
let http: Promise<HttpSdk> | undefined;

export const iamSdk = (): Promise<IamSdk> => (iam ??= import("@aws-sdk/client-iam"));
export const stsSdk = (): Promise<StsSdk> => (sts ??= import("@aws-sdk/client-sts"));
export const retrySdk = (): Promise<RetrySdk> => (retry ??= import("@smithy/core/retry"));
export const httpSdk = (): Promise<HttpSdk> => (http ??= import("@smithy/node-http-handler"));
