// Replays a checked GetCallerIdentity request to the configured STS endpoint
// and reads who signed it from STS's XML answer. node:http(s) rather than
// fetch: the signed headers (Content-Length among them) go out exactly as
// signed, nothing is decompressed or followed, and the call is bounded in
// time and in the size of the answer.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { XMLParser } from "fast-xml-parser";
import { z } from "zod";
import { LessorError } from "../../errors.js";
import { loginRefused } from "../common.js";
import type { ReplayableRequest } from "./signed-request.js";

/** How long STS gets to answer, and the most of its answer that is read. */
export const STS_TIMEOUT_MS = 10_000;
export const MAX_STS_RESPONSE_BYTES = 64 * 1024;

export interface CallerIdentity {
  arn: string;
  /** The unique ID (AIDA... for a user; AROA...:session for a role's session). */
  userId: string;
  account: string;
}

// Values stay strings: an account ID is twelve digits, leading zeros included.
/** The XML parser, made at the first login (fast-xml-parser is not loaded when the server starts). */
let parser: XMLParser | undefined;
async function xmlParser(): Promise<XMLParser> {
  const { XMLParser } = await import("fast-xml-parser");
  return (parser ??= new XMLParser({ ignoreAttributes: true, parseTagValue: false, processEntities: false, removeNSPrefix: true }));
}

const identitySchema = z.object({
  GetCallerIdentityResponse: z.object({
    GetCallerIdentityResult: z.object({ Arn: z.string().min(1), UserId: z.string(), Account: z.string().regex(/^\d{12}$/) }),
  }),
});
const errorSchema = z.object({ ErrorResponse: z.object({ Error: z.object({ Code: z.string() }) }) });

function send(req: ReplayableRequest, signal: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const make = req.url.protocol === "https:" ? httpsRequest : httpRequest;
    const call = make(req.url, { method: "POST", headers: req.headers, signal, timeout: STS_TIMEOUT_MS }, (res: IncomingMessage) => {
      const encoding = res.headers["content-encoding"];
      if (encoding !== undefined && encoding !== "identity") {
        res.destroy();
        reject(new Error(`STS answered with Content-Encoding ${encoding}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_STS_RESPONSE_BYTES) {
          res.destroy();
          reject(new Error(`STS's answer is larger than ${MAX_STS_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    call.on("timeout", () => call.destroy(new Error(`STS did not answer within ${STS_TIMEOUT_MS / 1000} s`)));
    call.on("error", reject);
    call.end(req.body);
  });
}

async function parseXml(text: string): Promise<unknown> {
  const xml = await xmlParser();
  try {
    return xml.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Who STS says signed the request. STS refusing it (a bad or stale
 * signature, an unknown key) refuses the login; STS unreachable is
 * UNAVAILABLE, so the caller knows to try again.
 */
export async function callerIdentity(req: ReplayableRequest, callerGone: AbortSignal): Promise<CallerIdentity> {
  let answer: { status: number; body: string };
  try {
    answer = await send(req, AbortSignal.any([callerGone, AbortSignal.timeout(STS_TIMEOUT_MS)]));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (/larger than|Content-Encoding/.test(why)) throw loginRefused(why);
    throw LessorError.unavailable(`the STS endpoint could not be reached: ${why}`, "STS_UNAVAILABLE");
  }
  const xml = await parseXml(answer.body);
  if (answer.status !== 200) {
    const error = errorSchema.safeParse(xml);
    throw loginRefused(`STS refused the signed request: HTTP ${answer.status} ${error.success ? error.data.ErrorResponse.Error.Code : ""}`.trim());
  }
  const parsed = identitySchema.safeParse(xml);
  if (!parsed.success) throw loginRefused("STS's answer is not a GetCallerIdentity response");
  const result = parsed.data.GetCallerIdentityResponse.GetCallerIdentityResult;
  return { arn: result.Arn, userId: result.UserId, account: result.Account };
}
