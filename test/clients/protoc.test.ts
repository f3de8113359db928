// Plain protoc on proto/, as a Go, Java, C# or Python user runs it: no `M`
// flags, no buf, no managed mode, only the options written in the files.
// Debian's packages do it (.ci/run installs them): protobuf-compiler,
// protoc-gen-go, protoc-gen-go-grpc, protobuf-compiler-grpc-java-plugin and
// protobuf-compiler-grpc (Python). The Go package is then compiled (go vet)
// against Debian's Go protobuf and gRPC libraries in GOPATH mode with the
// module proxy off, so nothing is fetched; the Python modules are imported.
// A missing tool fails the test (CI has them all); set
// LESSOR_TEST_ALLOW_MISSING_PROTOC=1 to skip instead on a machine without them.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, tempDir } from "../helpers/processes.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const GOPATH_DEBIAN = "/usr/share/gocode";

/** The Lessor API's files, each with what generators name after it. */
const LESSOR_FILES = readdirSync(join(REPO_ROOT, "proto", "lessor", "v1"))
  .filter((f) => f.endsWith(".proto"))
  .map((f) => {
    const text = readFileSync(join(REPO_ROOT, "proto", "lessor", "v1", f), "utf8");
    const base = f.replace(/\.proto$/, "");
    return {
      path: `lessor/v1/${f}`,
      base,
      pascal: base.split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(""),
      services: [...text.matchAll(/^service (\w+)/gm)].map((m) => m[1] as string),
      messages: [...text.matchAll(/^message (\w+)/gm)].map((m) => m[1] as string),
    };
  });
const GOOGLE_FILES = ["google/rpc/status.proto", "google/rpc/error_details.proto"];

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Each tool this file needs, and the Debian package that has it. */
const REQUIRED: { what: string; pkg: string; present: () => boolean }[] = [
  { what: "protoc", pkg: "protobuf-compiler", present: () => onPath("protoc") !== undefined },
  { what: "protoc-gen-go", pkg: "protoc-gen-go", present: () => onPath("protoc-gen-go") !== undefined },
  { what: "protoc-gen-go-grpc", pkg: "protoc-gen-go-grpc", present: () => onPath("protoc-gen-go-grpc") !== undefined },
  { what: "grpc_java_plugin", pkg: "protobuf-compiler-grpc-java-plugin", present: () => onPath("grpc_java_plugin") !== undefined },
  { what: "grpc_python_plugin", pkg: "protobuf-compiler-grpc", present: () => onPath("grpc_python_plugin") !== undefined },
  { what: "go", pkg: "golang-go", present: () => onPath("go") !== undefined },
  { what: "Go's protobuf library", pkg: "golang-google-protobuf-dev", present: () => existsSync(join(GOPATH_DEBIAN, "src/google.golang.org/protobuf")) },
  { what: "Go's gRPC library", pkg: "golang-google-grpc-dev", present: () => existsSync(join(GOPATH_DEBIAN, "src/google.golang.org/grpc")) },
  { what: PYTHON, pkg: "python3-grpcio", present: () => existsSync(PYTHON) },
];

/** Fails (or, with LESSOR_TEST_ALLOW_MISSING_PROTOC, skips) when a tool is missing; true when all are there. */
function toolsReady(t: TestContext): boolean {
  const missing = REQUIRED.filter((r) => !r.present());
  if (missing.length === 0) return true;
  const reason = `missing ${missing.map((m) => m.what).join(", ")}: apt-get install ${missing.map((m) => m.pkg).join(" ")}`;
  if (!process.env.LESSOR_TEST_ALLOW_MISSING_PROTOC) assert.fail(`${reason} (or set LESSOR_TEST_ALLOW_MISSING_PROTOC=1 to skip)`);
  t.skip(reason);
  return false;
}

/** A fresh output folder, removed after the test. */
function outDir(t: TestContext, name: string): string {
  const dir = tempDir(`protoc-${name}`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function protoc(args: string[], files: string[]): Promise<void> {
  // Any error or warning fails: protoc exits non-zero on errors, and says nothing on success.
  const { stderr } = await run("protoc", ["-Iproto", ...args, ...files], { cwd: REPO_ROOT, timeout: 60_000 });
  assert.equal(stderr, "", `protoc ${args.join(" ")} printed:\n${stderr}`);
}

function assertFiles(root: string, paths: string[]): void {
  const missing = paths.filter((p) => !existsSync(join(root, p)));
  assert.deepEqual(missing, [], `generated under ${root}`);
}

test("Go: protoc-gen-go and protoc-gen-go-grpc take the protos as they are, and the package compiles", async (t) => {
  if (!toolsReady(t)) return;
  const gopath = outDir(t, "go");
  mkdirSync(join(gopath, "src"));
  await protoc([`--go_out=${gopath}/src`, `--go-grpc_out=${gopath}/src`], LESSOR_FILES.map((f) => f.path));
  const pkg = "lessor.dev/gen/go/lessor/v1";
  assertFiles(
    join(gopath, "src", pkg),
    LESSOR_FILES.flatMap((f) => [`${f.base}.pb.go`, ...(f.services.length > 0 ? [`${f.base}_grpc.pb.go`] : [])]),
  );
  // googleapis' files name googleapis' own Go packages (their generated code is genproto).
  const google = outDir(t, "go-google");
  await protoc([`--go_out=${google}`], GOOGLE_FILES);
  assertFiles(google, ["google.golang.org/genproto/googleapis/rpc/status/status.pb.go", "google.golang.org/genproto/googleapis/rpc/errdetails/error_details.pb.go"]);

  // GOPATH mode against Debian's libraries; the module proxy off: nothing is downloaded.
  const env = { ...process.env, GO111MODULE: "off", GOPATH: `${gopath}${delimiter}${GOPATH_DEBIAN}`, GOPROXY: "off", GOFLAGS: "", GOTOOLCHAIN: "local" };
  await run("go", ["vet", pkg], { env, cwd: gopath, timeout: 300_000 });
});

test("Java: messages and gRPC stubs in dev.lessor.v1, one class per message", async (t) => {
  if (!toolsReady(t)) return;
  const out = outDir(t, "java");
  const plugin = `--plugin=protoc-gen-grpc-java=${onPath("grpc_java_plugin") ?? ""}`;
  await protoc([`--java_out=${out}`, `--grpc-java_out=${out}`, plugin], [...LESSOR_FILES.map((f) => f.path), ...GOOGLE_FILES]);
  assertFiles(
    join(out, "dev/lessor/v1"),
    LESSOR_FILES.flatMap((f) => [`${f.pascal}Proto.java`, ...f.messages.map((m) => `${m}.java`), ...f.services.map((s) => `${s}Grpc.java`)]),
  );
  assertFiles(join(out, "com/google/rpc"), ["Status.java", "StatusProto.java", "ErrorInfo.java", "BadRequest.java", "RetryInfo.java"]);
});

test("C#: one file per proto, in namespace Lessor.V1", async (t) => {
  if (!toolsReady(t)) return;
  const out = outDir(t, "csharp");
  await protoc([`--csharp_out=${out}`], [...LESSOR_FILES.map((f) => f.path), ...GOOGLE_FILES]);
  assertFiles(out, [...LESSOR_FILES.map((f) => `${f.pascal}.cs`), "Status.cs", "ErrorDetails.cs"]);
  for (const f of LESSOR_FILES) assert.match(readFileSync(join(out, `${f.pascal}.cs`), "utf8"), /^namespace Lessor\.V1 \{$/m, f.path);
  assert.match(readFileSync(join(out, "Status.cs"), "utf8"), /^namespace Google\.Rpc \{$/m);
});

test("Python: messages and gRPC stubs that Debian's python3-grpcio imports", async (t) => {
  if (!toolsReady(t)) return;
  const out = outDir(t, "python");
  const plugin = `--plugin=protoc-gen-grpc_python=${onPath("grpc_python_plugin") ?? ""}`;
  await protoc([`--python_out=${out}`, `--grpc_python_out=${out}`, plugin], [...LESSOR_FILES.map((f) => f.path), ...GOOGLE_FILES]);
  const modules = [
    ...LESSOR_FILES.flatMap((f) => [`lessor.v1.${f.base}_pb2`, `lessor.v1.${f.base}_pb2_grpc`]),
    "google.rpc.status_pb2",
    "google.rpc.error_details_pb2",
  ];
  assertFiles(out, modules.map((m) => `${m.replaceAll(".", "/")}.py`));
  const imported = await run(PYTHON, ["-c", `import importlib, sys\nsys.path.insert(0, sys.argv[1])\nfor m in sys.argv[2:]: importlib.import_module(m)\nprint(len(sys.argv) - 2)`, out, ...modules], {
    timeout: 60_000,
  });
  assert.equal(imported.stdout.trim(), String(modules.length));
});
