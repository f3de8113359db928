// The gRPC server Lessor runs: grpc-js's Server, remembering which services
// were added, so health and reflection report exactly the services served
// (whoever adds one later need not list it anywhere else).
import { Server, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";

export class LessorGrpcServer extends Server {
  /** Full names of the services added, e.g. "lessor.v1.SecretsService", in order. */
  readonly serviceNames: string[] = [];

  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    super.addService(service, implementation);
    const name = serviceNameOf(service);
    if (name !== undefined && !this.serviceNames.includes(name)) this.serviceNames.push(name);
  }
}

/** "lessor.v1.SecretsService" from a definition whose paths are "/lessor.v1.SecretsService/Read". */
export function serviceNameOf(service: ServiceDefinition): string | undefined {
  for (const method of Object.values(service)) {
    const m = /^\/([^/]+)\//.exec(method.path);
    if (m) return m[1];
  }
  return undefined;
}
