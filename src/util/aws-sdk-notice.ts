// The AWS SDK for JavaScript prints, on Node 20, a notice that its releases
// from January 2027 will need Node 22. The versions Lessor locks run on 20,
// so the notice says nothing an operator can act on; AWS documents this
// variable to turn it off. A value already set (e.g. "false") is kept.
export const AWS_SDK_NODE_NOTICE_ENV = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";

export function silenceAwsSdkNodeNotice(env: NodeJS.ProcessEnv = process.env): void {
  env[AWS_SDK_NODE_NOTICE_ENV] ??= "true";
}
