// A server-reflection client for tests (grpc.reflection.v1 and v1alpha share
// their wire format), and a small grpcurl stand-in built on it. Debian has no
// grpcurl, so the README's grpcurl lines are run through this instead: it
// parses them with grpcurl's rules (flags before the address, only flags
// grpcurl has), learns the API only through reflection as grpcurl does, links
// the descriptors strictly (every import and type must resolve, or
// createFileRegistry throws, as grpcurl fails), and converts JSON with the
// protobuf JSON mapping.
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { fromBinary, fromJson, toBinary, toJson, createFileRegistry, type DescFile, type DescMessage, type FileRegistry, type JsonValue } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";

export type ReflectionVersion = "v1" | "v1alpha";

export type ReflectionRequest =
  | { listServices: string }
  | { fileContainingSymbol: string }
  | { fileByFilename: string };

export interface ReflectionResponse {
  services?: string[];
  files?: Uint8Array[];
  error?: { code: number; message: string };
}

function encodeRequest(request: ReflectionRequest): Uint8Array {
  const w = new BinaryWriter();
  if ("fileByFilename" in request) w.tag(3, WireType.LengthDelimited).string(request.fileByFilename);
  else if ("fileContainingSymbol" in request) w.tag(4, WireType.LengthDelimited).string(request.fileContainingSymbol);
  else w.tag(7, WireType.LengthDelimited).string(request.listServices);
  return w.finish();
}

function decodeResponse(bytes: Uint8Array): ReflectionResponse {
  const out: ReflectionResponse = {};
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 4 || field === 6 || field === 7) {
      const inner = new BinaryReader(r.bytes());
      while (inner.pos < inner.len) {
        const [f, t] = inner.tag();
        if (field === 4 && f === 1) (out.files ??= []).push(inner.bytes());
        else if (field === 6 && f === 1) {
          const service = new BinaryReader(inner.bytes());
          while (service.pos < service.len) {
            const [sf, st] = service.tag();
            if (sf === 1) (out.services ??= []).push(service.string());
            else service.skip(st);
          }
        } else if (field === 7 && f === 1) (out.error ??= { code: 0, message: "" }).code = inner.int32();
        else if (field === 7 && f === 2) (out.error ??= { code: 0, message: "" }).message = inner.string();
        else inner.skip(t);
      }
    } else r.skip(wt);
  }
  return out;
}

/** One reflection stream: ask, get the answer. */
export class ReflectionClient {
  private readonly client: Client;

  constructor(
    address: string,
    private readonly version: ReflectionVersion = "v1",
  ) {
    this.client = new Client(address, credentials.createInsecure());
  }

  /** Sends requests on one stream (as grpcurl does) and returns the answers in order. */
  ask(requests: ReflectionRequest[], metadata = new Metadata()): Promise<ReflectionResponse[]> {
    const path = `/grpc.reflection.${this.version}.ServerReflection/ServerReflectionInfo`;
    const call = this.client.makeBidiStreamRequest(
      path,
      (r: ReflectionRequest) => Buffer.from(encodeRequest(r)),
      (b: Buffer) => decodeResponse(b),
      metadata,
      { deadline: Date.now() + 10_000 },
    );
    return new Promise((resolve, reject) => {
      const answers: ReflectionResponse[] = [];
      call.on("data", (a: ReflectionResponse) => {
        answers.push(a);
        if (answers.length === requests.length) call.end();
      });
      call.on("error", (e: ServiceError) => reject(e));
      call.on("end", () => resolve(answers));
      for (const r of requests) call.write(r);
      if (requests.length === 0) call.end();
    });
  }

  async listServices(): Promise<string[]> {
    const [answer] = await this.ask([{ listServices: "*" }]);
    if (!answer || answer.error) throw new Error(`list failed: ${JSON.stringify(answer?.error)}`);
    return (answer.services ?? []).sort();
  }

  /**
   * The files defining `symbol` and everything they import, fetching imports by
   * name when the first answer lacks them, linked strictly into a registry.
   */
  async registryFor(symbol: string): Promise<{ registry: FileRegistry; files: FileDescriptorProto[] }> {
    const [answer] = await this.ask([{ fileContainingSymbol: symbol }]);
    if (!answer || answer.error) throw new Error(`symbol ${symbol}: ${answer?.error?.message ?? "no answer"}`);
    const files = new Map<string, FileDescriptorProto>();
    const add = (bytes: Uint8Array[]): void => {
      for (const b of bytes) {
        const f = fromBinary(FileDescriptorProtoSchema, b);
        files.set(f.name, f);
      }
    };
    add(answer.files ?? []);
    for (let missing = this.missingImports(files); missing.length > 0; missing = this.missingImports(files)) {
      const answers = await this.ask(missing.map((name) => ({ fileByFilename: name })));
      for (const [i, a] of answers.entries()) {
        if (a.error || !a.files) throw new Error(`import ${missing[i]} of ${symbol} is not served: ${a.error?.message ?? "no files"}`);
        add(a.files);
      }
    }
    const root = files.get(fromBinary(FileDescriptorProtoSchema, answer.files?.[0] ?? new Uint8Array()).name);
    if (!root) throw new Error(`no file for ${symbol}`);
    // Imports are resolved by name, whatever order the server sent the files in.
    const registry = createFileRegistry(root, (name) => files.get(name));
    return { registry, files: [...files.values()] };
  }

  private missingImports(files: Map<string, FileDescriptorProto>): string[] {
    return [...new Set([...files.values()].flatMap((f) => f.dependency))].filter((d) => !files.has(d));
  }

  close(): void {
    this.client.close();
  }
}

export interface GrpcurlResult {
  stdout: string;
  code: number;
  stderr: string;
}

/** grpcurl's flags that the README may use (value-taking ones map to true). */
const GRPCURL_FLAGS: Record<string, boolean> = { plaintext: false, H: true, d: true, "emit-defaults": false, "max-time": true };

/** Splits a command line as a POSIX shell would: words, '...' and "..." quoting, backslash escapes. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word = (word ?? "") + c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < line.length) word = (word ?? "") + (line[++i] as string);
      else word = (word ?? "") + c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word ??= "";
      if (c === "'" || c === '"') quote = c;
      else if (c === "\\" && i + 1 < line.length) word += line[++i] as string;
      else word += c;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in: ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * What `grpcurl describe` prints for a service or message: proto source with
 * the doc (leading) comments, methods sorted by name, names fully qualified
 * (grpcurl's printer: Compact, OmitComments: CommentsNonDoc, SortElements,
 * ForceFullyQualifiedNames). Options are left out.
 */
function describeSymbol(registry: FileRegistry, symbol: string): string | undefined {
  const service = registry.getService(symbol);
  if (service) {
    const index = service.file.proto.service.indexOf(service.proto);
    const methods = [...service.methods].sort((a, b) => a.name.localeCompare(b.name));
    const lines = methods.flatMap((m) => [
      ...docComment(service.file, [6, index, 2, service.proto.method.indexOf(m.proto)], "  "),
      `  rpc ${m.name} ( .${m.input.typeName} ) returns ( ${m.methodKind === "server_streaming" ? "stream " : ""}.${m.output.typeName} );`,
    ]);
    const head = docComment(service.file, [6, index], "");
    return `${symbol} is a service:\n${[...head, `service ${service.name} {`, ...lines, "}"].join("\n")}\n`;
  }
  const message = registry.getMessage(symbol);
  if (message) {
    const path = messagePath(message);
    const lines = message.fields.flatMap((f) => [
      ...docComment(message.file, [...path, 2, message.proto.field.indexOf(f.proto)], "  "),
      `  ${f.fieldKind} ${f.name} = ${f.number};`,
    ]);
    const head = docComment(message.file, path, "");
    return `${symbol} is a message:\n${[...head, `message ${message.name} {`, ...lines, "}"].join("\n")}\n`;
  }
  return undefined;
}

/** The source path of a message (descriptor.proto: message_type = 4, nested_type = 3). */
function messagePath(message: DescMessage): number[] {
  const parent = message.parent;
  if (parent) return [...messagePath(parent), 3, parent.proto.nestedType.indexOf(message.proto)];
  return [4, message.file.proto.messageType.indexOf(message.proto)];
}

/** The leading comment at a source path, as `//` lines (empty without source info or comment). */
function docComment(file: DescFile, path: number[], indent: string): string[] {
  const location = file.proto.sourceCodeInfo?.location.find((l) => l.path.length === path.length && l.path.every((v, i) => v === path[i]));
  const text = location?.leadingComments ?? "";
  if (text === "") return [];
  return text.replace(/\n$/, "").split("\n").map((line) => `${indent}//${line}`.trimEnd());
}

/** Runs a grpcurl command line (its words after "grpcurl") against the server, through reflection. */
export async function grpcurl(args: string[]): Promise<GrpcurlResult> {
  const headers: string[] = [];
  let data: string | undefined;
  let i = 0;
  // Go's flag package: flags first, "-x" or "--x", "-x value" or "-x=value"; the first non-flag ends them.
  for (; i < args.length && (args[i] as string).startsWith("-"); i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(args[i] as string);
    const name = m?.[1] ?? "";
    if (!(name in GRPCURL_FLAGS)) return { code: 2, stdout: "", stderr: `flag provided but not defined: -${name}` };
    if (!GRPCURL_FLAGS[name]) continue;
    const value = m?.[2] ?? args[++i];
    if (value === undefined) return { code: 2, stdout: "", stderr: `flag needs an argument: -${name}` };
    if (name === "H") headers.push(value);
    if (name === "d") data = value;
  }
  if (!args.slice(0, i).includes("-plaintext")) return { code: 1, stdout: "", stderr: "this server speaks plaintext: -plaintext is required" };
  const [address, verb, symbol, ...extra] = args.slice(i);
  if (!address || extra.length > 0) return { code: 2, stdout: "", stderr: `usage: grpcurl [flags] address [list|describe] [symbol]; got ${args.join(" ")}` };
  const metadata = new Metadata();
  for (const h of headers) {
    const m = /^([^:]+):\s*(.*)$/.exec(h);
    if (!m) return { code: 2, stdout: "", stderr: `bad header: ${h}` };
    metadata.set((m[1] as string).toLowerCase(), m[2] as string);
  }
  const reflection = new ReflectionClient(address, "v1");
  try {
    if (verb === "list" || verb === undefined) {
      if (symbol) {
        const { registry } = await reflection.registryFor(symbol);
        const service = registry.getService(symbol);
        if (!service) return { code: 1, stdout: "", stderr: `${symbol} is not a service` };
        return { code: 0, stdout: service.methods.map((m) => `${service.typeName}.${m.name}\n`).join(""), stderr: "" };
      }
      return { code: 0, stdout: (await reflection.listServices()).map((s) => `${s}\n`).join(""), stderr: "" };
    }
    if (verb === "describe") {
      if (!symbol) return { code: 2, stdout: "", stderr: "describe needs a symbol in this stand-in" };
      const { registry } = await reflection.registryFor(symbol);
      const described = describeSymbol(registry, symbol);
      if (described === undefined) return { code: 1, stdout: "", stderr: `Symbol not found: ${symbol}` };
      return { code: 0, stdout: described, stderr: "" };
    }
    // An invocation: address Service/Method (or Service.Method).
    const [, serviceName, methodName] = /^(.+)[/.]([^/.]+)$/.exec(verb) ?? [];
    if (serviceName === undefined || methodName === undefined || symbol) return { code: 2, stdout: "", stderr: `not a method: ${verb}` };
    const { registry } = await reflection.registryFor(serviceName);
    const method = registry.getService(serviceName)?.methods.find((x) => x.name === methodName);
    if (!method) return { code: 1, stdout: "", stderr: `service "${serviceName}" does not include a method named "${methodName}"` };
    const request = fromJson(method.input, JSON.parse(data ?? "{}") as JsonValue, { registry });
    const client = new Client(address, credentials.createInsecure());
    try {
      const path = `/${serviceName}/${methodName}`;
      const serialize = (r: Uint8Array): Buffer => Buffer.from(r);
      const deserialize = (b: Buffer): Uint8Array => new Uint8Array(b);
      const outputs: string[] = [];
      const toText = (b: Uint8Array): string => `${JSON.stringify(toJson(method.output, fromBinary(method.output, b), { registry }), null, 2)}\n`;
      await new Promise<void>((resolve, reject) => {
        if (method.methodKind === "server_streaming") {
          const call = client.makeServerStreamRequest(path, serialize, deserialize, toBinary(method.input, request), metadata, { deadline: Date.now() + 10_000 });
          call.on("data", (b: Uint8Array) => outputs.push(toText(b)));
          call.on("error", reject);
          call.on("end", resolve);
        } else {
          client.makeUnaryRequest(path, serialize, deserialize, toBinary(method.input, request), metadata, { deadline: Date.now() + 10_000 }, (err, res) => {
            if (err) reject(err);
            else {
              if (res) outputs.push(toText(res));
              resolve();
            }
          });
        }
      });
      return { code: 0, stdout: outputs.join(""), stderr: "" };
    } catch (err) {
      const e = err as ServiceError;
      return { code: 1, stdout: "", stderr: `ERROR:\n  Code: ${e.code}\n  Message: ${e.details}\n` };
    } finally {
      client.close();
    }
  } finally {
    reflection.close();
  }
}
