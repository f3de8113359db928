// Server reflection (v1 and v1alpha) and the standard health service, on the
// real server process, without a token; NOT_SERVING while draining on shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { status as Code, type ServiceError } from "@grpc/grpc-js";
import { clientFor, startServer } from "../helpers/processes.js";
import { ReflectionClient, type ReflectionVersion } from "../helpers/reflection.js";
import { HealthClient } from "../helpers/health.js";
import { waitFor } from "../helpers/wait.js";

const LESSOR_SERVICES = ["lessor.v1.LeaseService", "lessor.v1.MountService", "lessor.v1.SecretsService"];

for (const version of ["v1", "v1alpha"] as ReflectionVersion[]) {
  test(`reflection ${version} lists every service and describes each one, linked strictly`, async (t) => {
    const server = await startServer();
    const reflection = new ReflectionClient(server.address, version);
    t.after(async () => {
      reflection.close();
      await server.stop();
    });
    const services = await reflection.listServices();
    for (const name of [...LESSOR_SERVICES, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]) {
      assert.ok(services.includes(name), `${name} listed in ${services.join(", ")}`);
    }
    for (const name of services) {
      const { registry, files } = await reflection.registryFor(name);
      const service = registry.getService(name);
      assert.ok(service, `${name} described`);
      assert.ok(service.methods.length > 0, `${name} has methods`);
      for (const method of service.methods) {
        // Linked: the input and output types resolve to full message descriptors.
        assert.ok(method.input.typeName !== "", `${name}.${method.name} input`);
        assert.ok(method.output.typeName !== "", `${name}.${method.name} output`);
      }
      if (name.startsWith("lessor.")) {
        // The real files, with their paths, imports and comments (grpcurl describe prints those).
        const file = files.find((f) => f.service.some((s) => `${f.package}.${s.name}` === name));
        assert.ok(file, `the file defining ${name}`);
        assert.match(file.name, /^lessor\/v1\/[a-z_]+\.proto$/);
        assert.ok(file.sourceCodeInfo?.location.some((l) => l.leadingComments.trim() !== ""), `${file.name} carries its comments`);
      }
    }
    const { registry } = await reflection.registryFor("lessor.v1.LeaseService");
    const watch = registry.getService("lessor.v1.LeaseService")?.methods.find((m) => m.name === "WatchLeases");
    assert.equal(watch?.methodKind, "server_streaming");
    assert.equal(watch?.output.typeName, "lessor.v1.WatchLeasesResponse");
    assert.ok(registry.getMessage("google.protobuf.Timestamp"), "imports are served too");

    const [missing] = await reflection.ask([{ fileContainingSymbol: "lessor.v1.NoSuchThing" }]);
    assert.equal(missing?.error?.code, Code.NOT_FOUND);
  });
}

test("health: SERVING overall and per service, unknown services NOT_FOUND, no token needed", async (t) => {
  const server = await startServer();
  const health = new HealthClient(server.address);
  t.after(async () => {
    health.close();
    await server.stop();
  });
  assert.equal(await health.check(""), "SERVING");
  for (const name of LESSOR_SERVICES) assert.equal(await health.check(name), "SERVING", name);
  await assert.rejects(health.check("lessor.v1.NoSuchService"), (e: ServiceError) => e.code === Code.NOT_FOUND);
  // The API itself still wants a token.
  const anonymous = clientFor(server, "");
  t.after(() => anonymous.close());
  await assert.rejects(anonymous.mounts.list(), (e: { codeName: string }) => e.codeName === "UNAUTHENTICATED");
});

test("shutdown: health turns NOT_SERVING at once, calls are answered during the drain delay, then the server stops", async (t) => {
  const server = await startServer({ args: ["-shutdown-delay=3s"] });
  const health = new HealthClient(server.address);
  const client = clientFor(server);
  t.after(async () => {
    client.close();
    health.close();
    await server.kill();
  });
  const overall = health.watch("");
  const secrets = health.watch("lessor.v1.SecretsService");
  await waitFor("the first Watch answers", () => overall.statuses.length > 0 && secrets.statuses.length > 0);
  assert.deepEqual(overall.statuses, ["SERVING"]);

  server.proc.kill("SIGTERM");
  await waitFor("Watch to report NOT_SERVING", () => overall.statuses.includes("NOT_SERVING") && secrets.statuses.includes("NOT_SERVING"));
  assert.deepEqual(overall.statuses, ["SERVING", "NOT_SERVING"]);
  // Draining: still answering, Check agrees with Watch.
  assert.equal(await health.check(""), "NOT_SERVING");
  assert.equal(await health.check("lessor.v1.LeaseService"), "NOT_SERVING");
  assert.ok(Array.isArray(await client.mounts.list()), "an API call during the drain is answered");

  // Then the Watch streams end and the process exits by itself.
  const ended = await overall.ended;
  assert.equal(ended?.code, Code.UNAVAILABLE);
  await waitFor("the server process to exit", () => server.proc.exitCode !== null, 20_000);
  assert.equal(server.proc.exitCode, 0);
});
