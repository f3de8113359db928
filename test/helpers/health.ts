// A grpc.health.v1.Health client for tests (the wire format is two fields).
import { Client, credentials, Metadata, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

export const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;
export type ServingStatus = (typeof SERVING_STATUS)[number];

const encode = (service: string): Buffer => Buffer.from(new BinaryWriter().tag(1, WireType.LengthDelimited).string(service).finish());

function decode(bytes: Buffer): ServingStatus {
  const r = new BinaryReader(bytes);
  let status = 0;
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1) status = r.int32();
    else r.skip(wt);
  }
  return SERVING_STATUS[status] ?? "UNKNOWN";
}

export class HealthClient {
  private readonly client: Client;

  constructor(address: string) {
    this.client = new Client(address, credentials.createInsecure());
  }

  /** Check, with no token. Rejects with the ServiceError (NOT_FOUND for an unknown service). */
  check(service = ""): Promise<ServingStatus> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest("/grpc.health.v1.Health/Check", encode, decode, service, new Metadata(), { deadline: Date.now() + 5_000 }, (err: ServiceError | null, res?: ServingStatus) =>
        err ? reject(err) : resolve(res ?? "UNKNOWN"),
      );
    });
  }

  /** Watch: every status the server sends, in order, and how the stream ended. */
  watch(service = ""): { statuses: ServingStatus[]; ended: Promise<ServiceError | null>; call: ClientReadableStream<ServingStatus> } {
    const statuses: ServingStatus[] = [];
    const call = this.client.makeServerStreamRequest("/grpc.health.v1.Health/Watch", encode, decode, service, new Metadata());
    call.on("data", (s: ServingStatus) => statuses.push(s));
    const ended = new Promise<ServiceError | null>((resolve) => {
      call.on("error", (e: ServiceError) => resolve(e));
      call.on("end", () => resolve(null));
    });
    return { statuses, ended, call };
  }

  close(): void {
    this.client.close();
  }
}
