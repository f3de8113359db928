// The protos are language-neutral: Python stubs generated with Debian's protoc
// (protobuf-compiler) and gRPC's Python plugin (protobuf-compiler-grpc) into a
// temp dir, then Python (python3-grpcio) reads AWS credentials and revokes
// their lease, and decodes the rich error details. Debian 12's
// python3-grpc-tools is not used: it bundles protoc 3.5, which cannot read
// googleapis' google/rpc protos (proto3 `optional`). Debian's interpreter is
// used by path: a python3 earlier on PATH (pyenv) would not see Debian's
// packages. .ci/run installs the packages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, tempDir } from "../helpers/processes.js";
import { EC2_POLICY, whoAmI } from "../helpers/aws.js";
import { awsSetup } from "../clients/setup.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";

const CLIENT_PY = `
import json, os, sys
sys.path.insert(0, sys.argv[1])
import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from lessor.v1 import leases_pb2, leases_pb2_grpc, secrets_pb2, secrets_pb2_grpc

channel = grpc.insecure_channel(os.environ["LESSOR_ADDR"])
metadata = [("authorization", "Bearer " + os.environ["LESSOR_TOKEN"])]
secrets = secrets_pb2_grpc.SecretsServiceStub(channel)
leases = leases_pb2_grpc.LeaseServiceStub(channel)

if sys.argv[2] == "read":
    res = secrets.Read(secrets_pb2.ReadRequest(path="aws/creds/deploy"), metadata=metadata, timeout=30)
    data = json_format.MessageToDict(res.data)
    print(json.dumps({"lease_id": res.lease.id, "duration": res.lease.duration_seconds, "renewable": res.lease.renewable,
                      "access_key": data["access_key"], "secret_key": data["secret_key"]}))
elif sys.argv[2] == "revoke":
    res = leases.RevokeLease(leases_pb2.RevokeLeaseRequest(lease_id=sys.argv[3]), metadata=metadata, timeout=30)
    print(json.dumps({"lease_id": res.lease_id, "revoked_now": res.revoked_now}))
elif sys.argv[2] == "error":
    try:
        leases.LookupLease(leases_pb2.LookupLeaseRequest(lease_id=sys.argv[3]), metadata=metadata, timeout=30)
        print(json.dumps({"code": "OK"}))
    except grpc.RpcError as err:
        out = {"code": err.code().name, "message": err.details()}
        for key, value in err.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                for detail in status_pb2.Status.FromString(value).details:
                    if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                        info = error_details_pb2.ErrorInfo()
                        detail.Unpack(info)
                        out["reason"] = info.reason
                        out["metadata"] = dict(info.metadata)
        print(json.dumps(out))
`;

/** Debian's gRPC plugin for Python, which protoc runs as --grpc_python_out. */
const GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin";

async function pythonReady(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  if (!existsSync(GRPC_PYTHON_PLUGIN)) return `${GRPC_PYTHON_PLUGIN} is missing: apt-get install protobuf-compiler protobuf-compiler-grpc (.ci/run installs it)`;
  try {
    await run(PYTHON, ["-c", "import grpc, google.protobuf"]);
    return undefined;
  } catch {
    return "Debian's python3-grpcio is not installed (.ci/run installs it)";
  }
}

test("Python stubs from the protos: read creds, revoke, decode error details", async (t) => {
  const missing = await pythonReady();
  if (missing) {
    // CI installs the packages, so there a missing one is a failure; elsewhere, say what to install.
    if (process.env.CI) assert.fail(missing);
    t.skip(missing);
    return;
  }
  const out = tempDir("python");
  const protos = readdirSync(join(REPO_ROOT, "proto", "lessor", "v1")).map((f) => `lessor/v1/${f}`);
  await run(
    "protoc",
    ["-Iproto", `--python_out=${out}`, `--grpc_python_out=${out}`, `--plugin=protoc-gen-grpc_python=${GRPC_PYTHON_PLUGIN}`, ...protos, "google/rpc/status.proto", "google/rpc/error_details.proto"],
    { cwd: REPO_ROOT },
  );
  assert.ok(existsSync(join(out, "lessor", "v1", "secrets_pb2_grpc.py")), "stubs generated");
  writeFileSync(join(out, "client.py"), CLIENT_PY);

  const { emulator, server, client } = await awsSetup(t);
  const env = { ...process.env, LESSOR_ADDR: server.address, LESSOR_TOKEN: server.rootToken };
  const py = async (...args: string[]): Promise<Record<string, unknown>> =>
    JSON.parse((await run(PYTHON, [join(out, "client.py"), out, ...args], { env, timeout: 60_000 })).stdout) as Record<string, unknown>;

  const creds = await py("read");
  assert.match(String(creds.lease_id), /^aws\/creds\/deploy\//);
  assert.equal(creds.renewable, true);
  assert.ok("arn" in (await whoAmI(emulator, String(creds.access_key), String(creds.secret_key))), "the keys Python got work");

  assert.deepEqual(await py("revoke", String(creds.lease_id)), { lease_id: creds.lease_id, revoked_now: true });
  assert.deepEqual(await whoAmI(emulator, String(creds.access_key), String(creds.secret_key)), { error: "InvalidClientTokenId" });

  // The same failure as the TypeScript client sees it.
  const truncated = String(creds.lease_id).slice(0, -4);
  const failure = await py("error", truncated);
  const tsError = await client.leases.lookup(truncated).then(
    () => undefined,
    (e: { codeName: string; reason: string; metadata: Record<string, string> }) => e,
  );
  assert.equal(failure.code, "NOT_FOUND");
  assert.equal(failure.reason, "LEASE_NOT_FOUND");
  assert.deepEqual(failure.metadata, tsError?.metadata);
  assert.equal(tsError?.reason, failure.reason);
});

test("the README's Python commands work as written", async (t) => {
  const missing = await pythonReady();
  if (missing) {
    if (process.env.CI) assert.fail(missing);
    t.skip(missing);
    return;
  }
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Python"), readme.indexOf("### How the server behaves"));
  const generate = /^\$ (mkdir -p gen && protoc .*)$/m.exec(section)?.[1];
  const program = /```python\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(generate && program, "the README shows the protoc command and a program");

  const out = tempDir("python-readme");
  // The reader's own folder; the command itself as written, globs and all.
  await run("bash", ["-c", generate.replaceAll("=gen", `=${out}/gen`).replace("mkdir -p gen", `mkdir -p ${out}/gen`)], {
    cwd: REPO_ROOT,
  });
  const { emulator, server, client } = await awsSetup(t);
  await client.write("aws/roles/my-role", { policy_document: EC2_POLICY });
  writeFileSync(join(out, "readme.py"), program.replace('"127.0.0.1:8200"', JSON.stringify(server.address)));
  const printed = await run(PYTHON, ["readme.py"], { cwd: out, env: { ...process.env, LESSOR_TOKEN: server.rootToken } });
  const [leaseId, accessKey] = printed.stdout.trim().split(" ");
  assert.match(leaseId ?? "", /^aws\/creds\/my-role\//);
  assert.match(accessKey ?? "", /^AKIA/);
  // It revoked what it read.
  assert.deepEqual(emulator.listUsers(), []);
});
