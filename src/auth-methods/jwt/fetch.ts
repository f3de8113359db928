// The jwt method's only way out: a GET of a configured URL (a JWKS or an OIDC
// discovery document) for JSON, bounded in time and size, trusting only the
// configured CA when one is given, and following no redirect (a redirect
// would fetch a URL nobody configured).
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export const FETCH_LIMITS = {
  timeoutMs: 10_000,
  maxBytes: 1024 * 1024,
} as const;

export class FetchError extends Error {}

/** Whether `text` is an http(s) URL with a host, no credentials and no fragment. */
export function checkFetchUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an https:// (or http://) URL";
  if (url.username !== "" || url.password !== "") return "must not carry a user name or password";
  if (url.hash !== "") return "must not have a #fragment";
  return undefined;
}

/** GETs `url` and parses its body as JSON; FetchError says what went wrong (never more than the URL and status). */
export async function fetchJson(url: string, ca: string | undefined, limits: { timeoutMs: number; maxBytes: number } = FETCH_LIMITS): Promise<unknown> {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = send(target, { method: "GET", headers: { accept: "application/json" }, signal, ...(ca ? { ca } : {}) }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        const where = res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 ? " (redirects are not followed)" : "";
        reject(new FetchError(`${url} answered HTTP ${res.statusCode ?? "?"}${where}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) {
          res.destroy();
          reject(new FetchError(`${url} sent more than ${limits.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", (err) => reject(new FetchError(`${url}: ${err.message}`)));
    });
    req.on("error", (err) => reject(new FetchError(signal.aborted ? `${url} did not answer within ${limits.timeoutMs / 1000} s` : `${url}: ${err.message}`)));
    req.end();
  });
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new FetchError(`${url} did not send JSON`);
  }
}
