// What proto/README.md promises about the protos: every Lessor file carries the
// per-language options (with pinned values: changing one moves generated code
// in that language), googleapis' files are byte-identical to the upstream
// release named there, and gRPC's are the ones their packages serve. The
// options are read from the descriptor set the server serves (src/gen, kept
// fresh by `npm run check-generated`).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileOptions } from "@bufbuild/protobuf/wkt";
import { FILE_DESCRIPTOR_SET_BASE64 } from "../../src/gen/descriptor_set.js";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const PROTO = join(REPO_ROOT, "proto");

type LanguageOptionName =
  | "goPackage"
  | "javaPackage"
  | "javaMultipleFiles"
  | "javaOuterClassname"
  | "csharpNamespace"
  | "phpNamespace"
  | "rubyPackage"
  | "objcClassPrefix";
/** A file without options has none of them (undefined). */
type LanguageOptions = { [K in LanguageOptionName]: FileOptions[K] | undefined };

const pascal = (words: string[]): string => words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");

/** The options a file of the Lessor API must set, from its package and name (proto/README.md's table). */
function expectedOptions(pkg: string, fileName: string): LanguageOptions {
  const parts = pkg.split(".");
  const base = fileName.replace(/^.*\//, "").replace(/\.proto$/, "");
  return {
    goPackage: `lessor.dev/gen/go/${parts.join("/")};${parts.join("")}`,
    javaPackage: `dev.${pkg}`,
    javaMultipleFiles: true,
    javaOuterClassname: `${pascal(base.split("_"))}Proto`,
    csharpNamespace: parts.map((p) => pascal([p])).join("."),
    phpNamespace: parts.map((p) => pascal([p])).join("\\"),
    rubyPackage: parts.map((p) => pascal([p])).join("::"),
    objcClassPrefix: "LSR",
  };
}

test("every Lessor proto file sets each language's options, with the pinned values", () => {
  const set = fromBinary(FileDescriptorSetSchema, Buffer.from(FILE_DESCRIPTOR_SET_BASE64, "base64"));
  const lessorFiles = set.file.filter((f) => f.package.startsWith("lessor."));
  const onDisk = readdirSync(join(PROTO, "lessor", "v1")).filter((f) => f.endsWith(".proto")).map((f) => `lessor/v1/${f}`);
  assert.deepEqual(lessorFiles.map((f) => f.name).sort(), onDisk.sort(), "the descriptor set holds every file of proto/lessor/v1");
  for (const file of lessorFiles) {
    const o = file.options;
    const actual: LanguageOptions = {
      goPackage: o?.goPackage,
      javaPackage: o?.javaPackage,
      javaMultipleFiles: o?.javaMultipleFiles,
      javaOuterClassname: o?.javaOuterClassname,
      csharpNamespace: o?.csharpNamespace,
      phpNamespace: o?.phpNamespace,
      rubyPackage: o?.rubyPackage,
      objcClassPrefix: o?.objcClassPrefix,
    };
    assert.deepEqual(actual, expectedOptions(file.package, file.name), file.name);
  }
  // The values as proto/README.md shows them, for the v1 files.
  assert.deepEqual(expectedOptions("lessor.v1", "lessor/v1/lease_events.proto"), {
    goPackage: "lessor.dev/gen/go/lessor/v1;lessorv1",
    javaPackage: "dev.lessor.v1",
    javaMultipleFiles: true,
    javaOuterClassname: "LeaseEventsProto",
    csharpNamespace: "Lessor.V1",
    phpNamespace: "Lessor\\V1",
    rubyPackage: "Lessor::V1",
    objcClassPrefix: "LSR",
  });
});

test("proto/google/rpc is googleapis' release as proto/README.md names it, byte for byte", () => {
  const readme = readFileSync(join(PROTO, "README.md"), "utf8");
  const listed = new Map([...readme.matchAll(/^\| `(google\/rpc\/[a-z_]+\.proto)` \| `([0-9a-f]{64})` \|$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const onDisk = readdirSync(join(PROTO, "google", "rpc")).map((f) => `google/rpc/${f}`);
  assert.deepEqual([...listed.keys()].sort(), onDisk.sort(), "proto/README.md lists every file of proto/google/rpc");
  for (const [file, sha256] of listed) {
    assert.equal(createHash("sha256").update(readFileSync(join(PROTO, file))).digest("hex"), sha256, `${file} differs from upstream`);
  }
});

test("proto/grpc holds the very files gRPC's health and reflection packages serve", () => {
  const require = createRequire(import.meta.url);
  const health = dirname(require.resolve("grpc-health-check/package.json"));
  const reflection = dirname(require.resolve("@grpc/reflection/package.json"));
  const copies: Record<string, string> = {
    "grpc/health/v1/health.proto": join(health, "proto/health/v1/health.proto"),
    "grpc/reflection/v1/reflection.proto": join(reflection, "build/proto/grpc/reflection/v1/reflection.proto"),
    "grpc/reflection/v1alpha/reflection.proto": join(reflection, "build/proto/grpc/reflection/v1alpha/reflection.proto"),
  };
  for (const [file, upstream] of Object.entries(copies)) {
    assert.ok(readFileSync(join(PROTO, file)).equals(readFileSync(upstream)), `${file} differs from ${upstream}`);
  }
});
