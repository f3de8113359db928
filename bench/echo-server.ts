// The baseline: a trivial grpc-js unary echo server (no auth, no work), run
// as `node dist/bench/echo-server.js` in its own process. It prints its port.
// Like any gRPC service it decodes its request message and encodes its
// response with generated code (here the same message both ways).
import { Server, ServerCredentials, type ServiceDefinition, type handleUnaryCall } from "@grpc/grpc-js";
import { ReadRequest } from "@lessor/client/gen/lessor/v1/secrets.js";

const encode = (m: ReadRequest): Buffer => Buffer.from(ReadRequest.encode(m).finish());
const decode = (b: Buffer): ReadRequest => ReadRequest.decode(b);
const definition: ServiceDefinition = {
  echo: {
    path: "/bench.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: encode,
    requestDeserialize: decode,
    responseSerialize: encode,
    responseDeserialize: decode,
  },
};
const echo: handleUnaryCall<ReadRequest, ReadRequest> = (call, callback) => callback(null, call.request);

const server = new Server();
server.addService(definition, { echo });
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`echo listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
