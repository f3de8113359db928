// The README's grpcurl calls, exactly as written, against a live server.
// Debian has no grpcurl, so they run through test/helpers/reflection.ts's
// stand-in, which holds them to grpcurl's command-line rules and learns the
// API only through reflection, as grpcurl does. Outputs are compared with the
// README: `list` exactly, JSON by shape (same fields, same JSON types).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, startServer } from "../helpers/processes.js";
import { EC2_POLICY } from "../helpers/aws.js";
import { grpcurl, shellWords } from "../helpers/reflection.js";
import { awsSetup } from "../clients/setup.js";
import { assertSameShape, type Json } from "../helpers/json-shape.js";

interface Example {
  command: string;
  output: string;
}

/** `$ grpcurl ...` lines of the README's grpcurl section, each with the output printed under it. */
function readmeExamples(): Example[] {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### grpcurl"), readme.indexOf("### Python"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const examples: Example[] = [];
  for (const chunk of block.split(/^\$ /m).slice(1)) {
    const [command, ...output] = chunk.split("\n");
    if (command?.startsWith("grpcurl ")) examples.push({ command, output: output.join("\n").trim() });
  }
  return examples;
}

test("the README's grpcurl calls work as written", async (t) => {
  const examples = readmeExamples();
  const verbs = examples.map((e) => (/ list$/.test(e.command) ? "list" : / describe /.test(e.command) ? "describe" : e.command.split(" ").at(-1)));
  assert.deepEqual(verbs, ["list", "describe", "lessor.v1.SecretsService/Read", "lessor.v1.LeaseService/RevokeLease", "grpc.health.v1.Health/Check"]);

  const { client, server, emulator } = await awsSetup(t);
  await client.write("aws/roles/my-role", { policy_document: EC2_POLICY });
  const readmeLeaseId = "aws/creds/my-role/0bce0782-32aa-25ec-f61d-c026ff22106e";
  let leaseId = readmeLeaseId;

  for (const example of examples) {
    // What a reader's shell and server would differ in: the address, $LESSOR_TOKEN, the lease id they got.
    const line = example.command
      .replaceAll("127.0.0.1:8200", server.address)
      .replaceAll("$LESSOR_TOKEN", server.rootToken as string)
      .replaceAll(readmeLeaseId, leaseId);
    const result = await grpcurl(shellWords(line).slice(1));
    assert.equal(result.code, 0, `${example.command}\n${result.stderr}`);
    if (/ list$/.test(example.command)) {
      assert.equal(result.stdout.trim(), example.output);
    } else if (/ describe /.test(example.command)) {
      assert.equal(result.stdout.split("\n")[0], example.output.split("\n")[0]);
    } else {
      const actual = JSON.parse(result.stdout) as Json;
      assertSameShape(actual, JSON.parse(example.output) as Json, example.command.split(" ").at(-1) as string);
      if (example.command.endsWith("/Read")) leaseId = ((actual as { lease: { id: string } }).lease.id);
      if (example.command.endsWith("/RevokeLease")) assert.deepEqual(actual, { leaseId, revokedNow: true });
      if (example.command.endsWith("/Check")) assert.deepEqual(actual, { status: "SERVING" });
    }
  }
  assert.notEqual(leaseId, readmeLeaseId, "the read issued a lease");
  assert.deepEqual(emulator.listUsers(), [], "the revoke call deleted the IAM user");
});

test("the grpcurl stand-in refuses what grpcurl refuses", async () => {
  // Flags after the address are not flags to grpcurl (Go's flag parsing stops there).
  const misplaced = await grpcurl(shellWords(`-plaintext 127.0.0.1:1 lessor.v1.SecretsService/Read -d '{}'`));
  assert.notEqual(misplaced.code, 0);
  const unknown = await grpcurl(shellWords(`-plaintext -header 'a: b' 127.0.0.1:1 list`));
  assert.match(unknown.stderr, /flag provided but not defined: -header/);
});

/** Lines of `grpcurl describe` output that declare something (service, rpc, message, field) with no doc comment above. */
function undocumented(described: string): string[] {
  const lines = described.split("\n");
  return lines.filter((line, i) => /^\s*(service |rpc |message |\w+ \w+ = \d+;)/.test(line) && !(lines[i - 1] ?? "").trim().startsWith("//"));
}

test("grpcurl describe shows every Lessor service, RPC, request and response documented", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const run = async (...args: string[]): Promise<string> => {
    const result = await grpcurl(["-plaintext", server.address, ...args]);
    assert.equal(result.code, 0, `grpcurl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  const services = (await run("list")).split("\n").filter((s) => s.startsWith("lessor."));
  assert.ok(services.includes("lessor.v1.MountService") && services.includes("lessor.v1.PolicyService") && services.includes("lessor.v1.SysService"));
  const messages = new Set<string>();
  for (const service of services) {
    const described = await run("describe", service);
    assert.deepEqual(undocumented(described), [], described);
    for (const m of described.matchAll(/\( (?:stream )?\.([\w.]+) \)/g)) messages.add(m[1] as string);
  }
  assert.ok(messages.size >= 2 * 30, `the RPCs' messages: ${[...messages].join(", ")}`);
  for (const message of messages) {
    const described = await run("describe", message);
    assert.deepEqual(undocumented(described), [], described);
  }
});
