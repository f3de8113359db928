// Username templates in the syntax Vault uses (Go's text/template): text with
// {{ actions }}, pipelines (`a | f x` calls f(x, a)), parenthesised
// sub-expressions, fields of the data (.DisplayName, .PolicyName, .Type),
// string and number literals, `if` / `else if` / `else` / `end`, trim markers
// ({{- and -}}) and comments. Functions: Vault's username-template functions
// (random, truncate, truncate_sha256, uppercase, lowercase, replace, sha256,
// base64, unix_time, unix_time_millis, timestamp, uuid) and the Go built-ins a
// name template needs (printf, print, eq, ne, lt, le, gt, ge, and, or, not, len).
// Anything else is refused when the template is parsed, so a bad template is
// reported when it is written, not when credentials are asked for.
import { createHash, randomBytes, randomUUID } from "node:crypto";

export class TemplateError extends Error {}

type Value = string | number | boolean;

type Operand =
  | { kind: "field"; name: string }
  | { kind: "dot" }
  | { kind: "literal"; value: Value }
  | { kind: "func"; name: string }
  | { kind: "pipeline"; pipeline: Pipeline };

type Command = Operand[];
type Pipeline = Command[];

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipeline: Pipeline }
  | { kind: "if"; condition: Pipeline; then: Node[]; otherwise: Node[] };

interface FuncSpec {
  /** Argument count (not counting a piped value, which comes last). */
  min: number;
  max: number;
  run(args: Value[], now: number): Value;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function base62(length: number): string {
  let out = "";
  // Rejection sampling keeps every character equally likely.
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return out;
}

function int(v: Value, fn: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new TemplateError(`${fn}: expected a whole number, got ${JSON.stringify(v)}`);
  return n;
}

function str(v: Value): string {
  return typeof v === "string" ? v : String(v);
}

function truthy(v: Value): boolean {
  return v !== "" && v !== 0 && v !== false;
}

function compare(a: Value, b: Value, fn: string): number {
  if (typeof a !== typeof b) throw new TemplateError(`${fn}: cannot compare ${typeof a} with ${typeof b}`);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Go's fmt verbs a name template uses: %s %d %v %q %x %%. */
function printf(format: string, args: Value[]): string {
  let i = 0;
  const out = format.replace(/%([-+# 0]*\d*)([sdvqxX%])/g, (_m, _flags: string, verb: string) => {
    if (verb === "%") return "%";
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const arg = args[i++] as Value;
    switch (verb) {
      case "d":
        return typeof arg === "number" ? String(Math.trunc(arg)) : `%!d(${typeof arg}=${str(arg)})`;
      case "q":
        return JSON.stringify(str(arg));
      case "x":
        return typeof arg === "number" ? arg.toString(16) : Buffer.from(str(arg)).toString("hex");
      case "X":
        return typeof arg === "number" ? arg.toString(16).toUpperCase() : Buffer.from(str(arg)).toString("hex").toUpperCase();
      default:
        return str(arg);
    }
  });
  return i < args.length ? `${out}%!(EXTRA ${args.slice(i).map(str).join(", ")})` : out;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const pad = (n: number, width: number, fill = "0") => String(n).padStart(width, fill);

/** Go's reference-time layouts ("2006-01-02T15:04:05Z07:00"), in UTC. */
function goTimeFormat(layout: string, now: number): string {
  const d = new Date(now);
  const h = d.getUTCHours();
  const chunks: Array<[string, () => string]> = [
    ["January", () => MONTHS[d.getUTCMonth()] as string],
    ["Jan", () => (MONTHS[d.getUTCMonth()] as string).slice(0, 3)],
    ["Monday", () => DAYS[d.getUTCDay()] as string],
    ["Mon", () => (DAYS[d.getUTCDay()] as string).slice(0, 3)],
    ["MST", () => "UTC"],
    ["2006", () => pad(d.getUTCFullYear(), 4)],
    ["Z07:00", () => "Z"],
    ["Z0700", () => "Z"],
    ["Z07", () => "Z"],
    ["-07:00", () => "+00:00"],
    ["-0700", () => "+0000"],
    ["-07", () => "+00"],
    [".000000000", () => `.${pad(d.getUTCMilliseconds(), 3)}000000`],
    [".000000", () => `.${pad(d.getUTCMilliseconds(), 3)}000`],
    [".000", () => `.${pad(d.getUTCMilliseconds(), 3)}`],
    ["01", () => pad(d.getUTCMonth() + 1, 2)],
    ["02", () => pad(d.getUTCDate(), 2)],
    ["_2", () => pad(d.getUTCDate(), 2, " ")],
    ["03", () => pad(h % 12 === 0 ? 12 : h % 12, 2)],
    ["04", () => pad(d.getUTCMinutes(), 2)],
    ["05", () => pad(d.getUTCSeconds(), 2)],
    ["06", () => pad(d.getUTCFullYear() % 100, 2)],
    ["15", () => pad(h, 2)],
    ["PM", () => (h >= 12 ? "PM" : "AM")],
    ["pm", () => (h >= 12 ? "pm" : "am")],
    ["1", () => String(d.getUTCMonth() + 1)],
    ["2", () => String(d.getUTCDate())],
    ["3", () => String(h % 12 === 0 ? 12 : h % 12)],
    ["4", () => String(d.getUTCMinutes())],
    ["5", () => String(d.getUTCSeconds())],
  ];
  let out = "";
  let i = 0;
  outer: while (i < layout.length) {
    for (const [token, render] of chunks) {
      if (layout.startsWith(token, i)) {
        out += render();
        i += token.length;
        continue outer;
      }
    }
    out += layout[i];
    i++;
  }
  return out;
}

const FUNCS: Record<string, FuncSpec> = {
  // Vault's username-template functions.
  random: { min: 1, max: 1, run: ([n]) => base62(Math.max(0, int(n as Value, "random"))) },
  truncate: {
    min: 2,
    max: 2,
    run: ([n, s]) => {
      const max = int(n as Value, "truncate");
      if (max <= 0) throw new TemplateError(`truncate: max length must be > 0 but was ${max}`);
      return str(s as Value).slice(0, max);
    },
  },
  truncate_sha256: {
    min: 2,
    max: 2,
    run: ([n, s]) => {
      const max = int(n as Value, "truncate_sha256");
      if (max <= 8) throw new TemplateError(`truncate_sha256: max length must be > 8 but was ${max}`);
      const text = str(s as Value);
      if (text.length <= max) return text;
      const cut = max - 8;
      return text.slice(0, cut) + createHash("sha256").update(text.slice(cut)).digest("hex").slice(0, 8);
    },
  },
  uppercase: { min: 1, max: 1, run: ([s]) => str(s as Value).toUpperCase() },
  lowercase: { min: 1, max: 1, run: ([s]) => str(s as Value).toLowerCase() },
  replace: { min: 3, max: 3, run: ([find, repl, s]) => str(s as Value).split(str(find as Value)).join(str(repl as Value)) },
  sha256: { min: 1, max: 1, run: ([s]) => createHash("sha256").update(str(s as Value)).digest("hex") },
  base64: { min: 1, max: 1, run: ([s]) => Buffer.from(str(s as Value)).toString("base64") },
  unix_time: { min: 0, max: 0, run: (_a, now) => String(Math.floor(now / 1000)) },
  unix_time_millis: { min: 0, max: 0, run: (_a, now) => String(now) },
  timestamp: { min: 1, max: 1, run: ([layout], now) => goTimeFormat(str(layout as Value), now) },
  uuid: { min: 0, max: 0, run: () => randomUUID() },
  // Go's built-ins.
  printf: { min: 1, max: Infinity, run: ([format, ...args]) => printf(str(format as Value), args) },
  print: {
    min: 0,
    max: Infinity,
    // fmt.Sprint: a space between two operands when neither is a string.
    run: (args) =>
      args.reduce<string>((acc, a, i) => acc + (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string" ? " " : "") + str(a), ""),
  },
  eq: { min: 2, max: Infinity, run: ([a, ...rest]) => rest.some((b) => compare(a as Value, b, "eq") === 0) },
  ne: { min: 2, max: 2, run: ([a, b]) => compare(a as Value, b as Value, "ne") !== 0 },
  lt: { min: 2, max: 2, run: ([a, b]) => compare(a as Value, b as Value, "lt") < 0 },
  le: { min: 2, max: 2, run: ([a, b]) => compare(a as Value, b as Value, "le") <= 0 },
  gt: { min: 2, max: 2, run: ([a, b]) => compare(a as Value, b as Value, "gt") > 0 },
  ge: { min: 2, max: 2, run: ([a, b]) => compare(a as Value, b as Value, "ge") >= 0 },
  and: { min: 1, max: Infinity, run: (args) => args.find((a) => !truthy(a)) ?? (args[args.length - 1] as Value) },
  or: { min: 1, max: Infinity, run: (args) => args.find((a) => truthy(a)) ?? (args[args.length - 1] as Value) },
  not: { min: 1, max: 1, run: ([a]) => !truthy(a as Value) },
  len: { min: 1, max: 1, run: ([s]) => str(s as Value).length },
};

// ---- Lexing and parsing ----------------------------------------------------

type Token =
  | { t: "field"; name: string }
  | { t: "dot" }
  | { t: "ident"; name: string }
  | { t: "string"; value: string }
  | { t: "number"; value: number }
  | { t: "("; }
  | { t: ")"; }
  | { t: "|"; };

function lexAction(src: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === "|") {
      tokens.push({ t: c });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
      if (j >= src.length) throw new TemplateError(`unterminated string ${where}`);
      try {
        tokens.push({ t: "string", value: JSON.parse(src.slice(i, j + 1)) as string });
      } catch {
        throw new TemplateError(`bad string literal ${src.slice(i, j + 1)} ${where}`);
      }
      i = j + 1;
      continue;
    }
    if (c === "`") {
      const j = src.indexOf("`", i + 1);
      if (j < 0) throw new TemplateError(`unterminated raw string ${where}`);
      tokens.push({ t: "string", value: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    const number = /^-?\d+/.exec(src.slice(i));
    if (number) {
      tokens.push({ t: "number", value: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    if (c === ".") {
      const field = /^\.([A-Za-z_]\w*)/.exec(src.slice(i));
      if (field) {
        tokens.push({ t: "field", name: field[1] as string });
        i += field[0].length;
      } else {
        tokens.push({ t: "dot" });
        i++;
      }
      continue;
    }
    const ident = /^[A-Za-z_]\w*/.exec(src.slice(i));
    if (ident) {
      tokens.push({ t: "ident", name: ident[0] });
      i += ident[0].length;
      continue;
    }
    if (c === "$") throw new TemplateError(`variables ($...) are not supported ${where}`);
    throw new TemplateError(`unexpected "${c}" ${where}`);
  }
  return tokens;
}

class ActionParser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly where: string,
  ) {}

  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }

  pipeline(): Pipeline {
    const commands: Pipeline = [this.command()];
    while (this.tokens[this.pos]?.t === "|") {
      this.pos++;
      commands.push(this.command());
    }
    return commands;
  }

  private command(): Command {
    const operands: Command = [];
    for (;;) {
      const tok = this.tokens[this.pos];
      if (!tok || tok.t === "|" || tok.t === ")") break;
      this.pos++;
      switch (tok.t) {
        case "field":
          operands.push({ kind: "field", name: tok.name });
          break;
        case "dot":
          operands.push({ kind: "dot" });
          break;
        case "string":
        case "number":
          operands.push({ kind: "literal", value: tok.value });
          break;
        case "ident":
          if (tok.name === "true" || tok.name === "false") operands.push({ kind: "literal", value: tok.name === "true" });
          else if (FUNCS[tok.name]) operands.push({ kind: "func", name: tok.name });
          else throw new TemplateError(`function "${tok.name}" not defined ${this.where}`);
          break;
        case "(": {
          const inner = this.pipeline();
          if (this.tokens[this.pos]?.t !== ")") throw new TemplateError(`unclosed "(" ${this.where}`);
          this.pos++;
          operands.push({ kind: "pipeline", pipeline: inner });
          break;
        }
      }
    }
    if (operands.length === 0) throw new TemplateError(`missing value ${this.where}`);
    const [first, ...rest] = operands as [Operand, ...Operand[]];
    if (first.kind !== "func" && rest.length > 0) throw new TemplateError(`can't give arguments to a non-function ${this.where}`);
    for (const op of rest) {
      if (op.kind === "func" && FUNCS[op.name]?.min !== 0) {
        throw new TemplateError(`function "${op.name}" needs arguments: wrap it in parentheses ${this.where}`);
      }
    }
    return operands;
  }

  finish(): void {
    const tok = this.tokens[this.pos];
    if (tok) throw new TemplateError(`unexpected "${tok.t === ")" ? ")" : tok.t}" ${this.where}`);
  }
}

interface RawAction {
  text: string;
  /** The text before it, trims applied. */
  before: string;
  where: string;
}

/** Splits the source into text and action bodies, applying {{- and -}}. */
function splitActions(source: string): { actions: RawAction[]; tail: string } {
  const actions: RawAction[] = [];
  let pending = "";
  let i = 0;
  let trimNext = false;
  for (;;) {
    const open = source.indexOf("{{", i);
    let text = source.slice(i, open < 0 ? undefined : open);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (open < 0) return { actions, tail: pending + text };
    const close = source.indexOf("}}", open + 2);
    const where = `at character ${open + 1}`;
    if (close < 0) throw new TemplateError(`unclosed action ${where}`);
    let body = source.slice(open + 2, close);
    if (/^-\s/.test(body)) {
      text = text.replace(/\s+$/, "");
      body = body.slice(1);
    }
    trimNext = /\s-$/.test(body);
    if (trimNext) body = body.slice(0, -1);
    actions.push({ text: body.trim(), before: pending + text, where });
    pending = "";
    i = close + 2;
  }
}

function parse(source: string): Node[] {
  const { actions, tail } = splitActions(source);
  const root: Node[] = [];
  // Open `if` blocks, innermost last; `elseChain` marks an `else if` that closes with its parent.
  const stack: Array<{ node: Extract<Node, { kind: "if" }>; inElse: boolean; elseChain: boolean }> = [];
  const current = (): Node[] => {
    const top = stack[stack.length - 1];
    if (!top) return root;
    return top.inElse ? top.node.otherwise : top.node.then;
  };
  for (const a of actions) {
    if (a.before !== "") current().push({ kind: "text", text: a.before });
    if (a.text.startsWith("/*")) {
      if (!a.text.endsWith("*/")) throw new TemplateError(`unclosed comment ${a.where}`);
      continue;
    }
    const tokens = lexAction(a.text, a.where);
    const head = tokens[0];
    const keyword = head?.t === "ident" ? head.name : undefined;
    if (keyword === "if") {
      const p = new ActionParser(tokens.slice(1), a.where);
      const condition = p.pipeline();
      p.finish();
      const node: Extract<Node, { kind: "if" }> = { kind: "if", condition, then: [], otherwise: [] };
      current().push(node);
      stack.push({ node, inElse: false, elseChain: false });
    } else if (keyword === "else") {
      const top = stack[stack.length - 1];
      if (!top || top.inElse) throw new TemplateError(`unexpected {{else}} ${a.where}`);
      top.inElse = true;
      const next = tokens[1];
      if (next?.t === "ident" && next.name === "if") {
        const p = new ActionParser(tokens.slice(2), a.where);
        const condition = p.pipeline();
        p.finish();
        const node: Extract<Node, { kind: "if" }> = { kind: "if", condition, then: [], otherwise: [] };
        top.node.otherwise.push(node);
        stack.push({ node, inElse: false, elseChain: true });
      } else if (tokens.length > 1) {
        throw new TemplateError(`unexpected words after {{else}} ${a.where}`);
      }
    } else if (keyword === "end") {
      if (tokens.length > 1) throw new TemplateError(`unexpected words after {{end}} ${a.where}`);
      let top = stack.pop();
      if (!top) throw new TemplateError(`unexpected {{end}} ${a.where}`);
      while (top?.elseChain) top = stack.pop();
    } else if (keyword === "range" || keyword === "with" || keyword === "define" || keyword === "template" || keyword === "block") {
      throw new TemplateError(`{{${keyword}}} is not supported in username templates ${a.where}`);
    } else {
      if (tokens.length === 0) throw new TemplateError(`empty action ${a.where}`);
      const p = new ActionParser(tokens, a.where);
      const pipeline = p.pipeline();
      p.finish();
      current().push({ kind: "action", pipeline });
    }
  }
  if (stack.length > 0) throw new TemplateError("unexpected end of template: an {{if}} has no {{end}}");
  if (tail !== "") root.push({ kind: "text", text: tail });
  return root;
}

// ---- Evaluation --------------------------------------------------------------

export type TemplateData = Readonly<Record<string, string>>;

function evalPipeline(p: Pipeline, data: TemplateData, now: number): Value {
  let piped: Value | undefined;
  for (const command of p) piped = evalCommand(command, data, now, piped);
  return piped as Value;
}

function evalOperand(op: Operand, data: TemplateData, now: number): Value {
  switch (op.kind) {
    case "literal":
      return op.value;
    case "dot":
      throw new TemplateError("{{.}} is the whole data; use a field such as .DisplayName");
    case "field": {
      const v = data[op.name];
      if (v === undefined) {
        throw new TemplateError(`can't evaluate field ${op.name}; fields are ${Object.keys(data).map((k) => `.${k}`).join(", ")}`);
      }
      return v;
    }
    case "pipeline":
      return evalPipeline(op.pipeline, data, now);
    case "func":
      return callFunc(op.name, [], now);
  }
}

function callFunc(name: string, args: Value[], now: number): Value {
  const spec = FUNCS[name] as FuncSpec;
  if (args.length < spec.min || args.length > spec.max) {
    const want = spec.min === spec.max ? String(spec.min) : spec.max === Infinity ? `at least ${spec.min}` : `${spec.min} to ${spec.max}`;
    throw new TemplateError(`wrong number of args for ${name}: want ${want}, got ${args.length}`);
  }
  return spec.run(args, now);
}

function evalCommand(command: Command, data: TemplateData, now: number, piped: Value | undefined): Value {
  const [first, ...rest] = command as [Operand, ...Operand[]];
  if (first.kind === "func") {
    const args = rest.map((op) => evalOperand(op, data, now));
    if (piped !== undefined) args.push(piped);
    return callFunc(first.name, args, now);
  }
  if (piped !== undefined) throw new TemplateError("can't pipe a value into a non-function");
  return evalOperand(first, data, now);
}

function render(nodes: Node[], data: TemplateData, now: number): string {
  let out = "";
  for (const n of nodes) {
    if (n.kind === "text") out += n.text;
    else if (n.kind === "action") out += str(evalPipeline(n.pipeline, data, now));
    else out += render(truthy(evalPipeline(n.condition, data, now)) ? n.then : n.otherwise, data, now);
  }
  return out;
}

/** A parsed template; `render` can still fail (a wrong argument), with a TemplateError. */
export class UsernameTemplate {
  private constructor(
    readonly source: string,
    private readonly nodes: Node[],
  ) {}

  /** Parses `source`, or throws a TemplateError saying what is wrong and where. */
  static parse(source: string): UsernameTemplate {
    if (source.trim() === "") throw new TemplateError("is empty");
    return new UsernameTemplate(source, parse(source));
  }

  render(data: TemplateData, now: number = Date.now()): string {
    return render(this.nodes, data, now);
  }
}
