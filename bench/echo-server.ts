// The baseline: a trivial grpc-js unary echo server (no auth, no work), run
// as `node dist/bench/echo-server.js` in its own process. It prints its port.
import { Server, ServerCredentials, type ServiceDefinition, type handleUnaryCall } from "@grpc/grpc-js";

const identity = (b: Buffer): Buffer => b;
const definition: ServiceDefinition = {
  echo: {
    path: "/bench.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const echo: handleUnaryCall<Buffer, Buffer> = (call, callback) => callback(null, call.request);

const server = new Server();
server.addService(definition, { echo });
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`echo listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
