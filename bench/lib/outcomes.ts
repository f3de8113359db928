// Every call's outcome, counted by the server under test: its
// grpc_server_handled_total counter (GET /metrics) read before and after a
// run. h2load sees HTTP statuses only, and a gRPC error is an HTTP 200 whose
// status travels in the trailers; the server's own count says which calls
// failed, so a run with any error fails instead of being averaged away.
import type { H2loadRun } from "./h2load.js";

/** Calls one method completed, by gRPC status code. */
export type Outcomes = Map<string, number>;

const SAMPLE = /^grpc_server_handled_total\{([^}]*)\} (\d+(?:\.\d+)?(?:e\+?\d+)?)$/gm;

export async function handledByCode(metricsUrl: string, method: string): Promise<Outcomes> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`${metricsUrl}: HTTP ${res.status}`);
  const text = await res.text();
  const [service, name] = method.split("/");
  const out: Outcomes = new Map();
  for (const m of text.matchAll(SAMPLE)) {
    const labels = Object.fromEntries([...(m[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.grpc_service === service && labels.grpc_method === name && labels.grpc_code) out.set(labels.grpc_code, Number(m[2]));
  }
  return out;
}

/** What a run added to the counts; throws on any status but OK, or fewer OKs than h2load counted. */
export function checkOutcomes(what: string, before: Outcomes, after: Outcomes, run: H2loadRun): { ok: number } {
  const delta = new Map([...after].map(([code, n]) => [code, n - (before.get(code) ?? 0)]));
  const bad = [...delta].filter(([code, n]) => code !== "OK" && n > 0);
  const ok = delta.get("OK") ?? 0;
  if (bad.length > 0 || ok < run.succeeded) {
    throw new Error(`${what}: the server answered ${ok} OK (h2load counted ${run.succeeded}) and ${bad.map(([c, n]) => `${n} ${c}`).join(", ") || "no errors"}`);
  }
  return { ok };
}
