// Server reflection, grpc.reflection.v1 and v1alpha (@grpc/reflection), so
// grpcurl and other tools can list and describe the API without .proto files.
// Needs no token.
//
// The descriptors come from src/gen/descriptor_set.ts: `npm run generate`
// writes it from proto/ with `buf build` next to the stubs, and
// `npm run check-generated` (CI) fails when it is stale, so what reflection
// serves is always what the server was compiled from. They are the real
// files (lessor/v1/leases.proto, its imports, its comments, fully qualified
// type names), which strict clients such as grpcurl need; descriptors made by
// @grpc/proto-loader at run time merge files per package, drop the imports and
// leave type names relative. gRPC's health and reflection protos are copied
// into proto/grpc/ for the same reason (buf lint and code generation skip them).
import { status, type Server, type ServerDuplexStream, type ServiceDefinition, type UntypedHandleCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { ReflectionService } from "@grpc/reflection";
import { FILE_DESCRIPTOR_SET_BASE64 } from "../gen/descriptor_set.js";

export const REFLECTION_SERVICE_NAMES = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

/** The FileDescriptorProtos (encoded) in a FileDescriptorSet, byte for byte. */
export function fileDescriptorProtos(set: Uint8Array): Uint8Array[] {
  const files: Uint8Array[] = [];
  const reader = new BinaryReader(set);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType);
  }
  return files;
}

/** What a reflection service adds to a server: each definition with its handlers. */
type Registered = { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];

function registeredBy(service: ReflectionService): Registered {
  const added: Registered = [];
  service.addToServer({ addService: (definition, implementation) => void added.push({ definition, implementation }) });
  return added;
}

/**
 * Adds reflection describing `services` (full names), themselves and
 * everything they use. Decoding and indexing every descriptor takes about a
 * tenth of a second, so it is done at the first reflection call, not while
 * the server starts: the services are added at once (their definitions from
 * a reflection service that describes nothing), and their handlers hand each
 * call to the full one, made when first needed.
 */
export function addReflection(server: Pick<Server, "addService">, services: readonly string[]): void {
  const options = { services: [...services, ...REFLECTION_SERVICE_NAMES] };
  let full: Registered | undefined;
  const handlerOf = (definition: ServiceDefinition, method: string): UntypedHandleCall | undefined => {
    full ??= registeredBy(new ReflectionService(describing(), options));
    return full.find((r) => r.definition[method]?.path === definition[method]?.path)?.implementation[method];
  };
  for (const { definition } of registeredBy(new ReflectionService({}, options))) {
    const implementation: UntypedServiceImplementation = {};
    for (const method of Object.keys(definition)) {
      // Reflection is one bidirectional stream per service (ServerReflectionInfo).
      implementation[method] = (call: ServerDuplexStream<unknown, unknown>) => {
        const handler = handlerOf(definition, method);
        if (handler === undefined) call.emit("error", { code: status.UNIMPLEMENTED, details: `no reflection handler for ${method}` });
        else Reflect.apply(handler, undefined, [call]);
      };
    }
    server.addService(definition, implementation);
  }
}

/** The package definition @grpc/reflection reads: every file of the descriptor set. */
function describing(): ConstructorParameters<typeof ReflectionService>[0] {
  const files = fileDescriptorProtos(Buffer.from(FILE_DESCRIPTOR_SET_BASE64, "base64")).map((f) => Buffer.from(f));
  // @grpc/reflection takes a proto-loader PackageDefinition but reads only the
  // `fileDescriptorProtos` of its entries: one entry (of the plainest
  // definition kind, which needs no serializers) carries every file.
  return {
    "lessor.descriptor_set": { format: "Protocol Buffer 3 EnumDescriptorProto", type: {}, fileDescriptorProtos: files },
  };
}
