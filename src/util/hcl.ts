// A bounded parser for the part of HCL (version 1, the dialect Vault's policies
// and configuration files are written in) that a policy and the server's
// configuration file (`lessor server -config`) use: blocks with string labels, attributes,
// strings, numbers, booleans, lists, objects, heredocs and the three comment
// styles. Written here because the packaged HCL parsers failed on hostile
// input: one (GopherJS) is left broken for every later call after a deeply
// nested document, one returns no error text, one (Go WASM) can abort the
// process. This one never recurses past MAX_DEPTH, stops at MAX_ITEMS, and
// every error names the line and column.

export const HCL_LIMITS = { depth: 16, items: 10_000, stringLength: 4096 } as const;

export type HclValue = string | number | boolean | HclValue[] | HclBody;

/** An object or a block body: items in order (a key may repeat, as blocks do). */
export interface HclBody {
  kind: "body";
  items: HclItem[];
}

export interface HclItem {
  key: string;
  /** Block labels: `path "aws/creds/*" { }` has key "path", label "aws/creds/*". */
  labels: string[];
  value: HclValue;
  line: number;
  column: number;
}

export class HclError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
  }
}

interface Token {
  type: "ident" | "string" | "number" | "punct" | "eof";
  text: string;
  line: number;
  column: number;
}

const PUNCT = new Set(["{", "}", "[", "]", "=", ",", ":"]);

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const at = (): { line: number; column: number } => ({ line, column: i - lineStart + 1 });
  const fail = (message: string): never => {
    const p = at();
    throw new HclError(message, p.line, p.column);
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#" || (c === "/" && src[i + 1] === "/")) {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end === -1) fail("comment is not closed (missing */)");
      for (let j = i; j < end; j++) {
        if (src[j] === "\n") {
          line++;
          lineStart = j + 1;
        }
      }
      i = end + 2;
      continue;
    }
    const start = at();
    if (tokens.length >= HCL_LIMITS.items * 4) fail(`the text has more than ${HCL_LIMITS.items * 4} tokens`);
    if (PUNCT.has(c)) {
      tokens.push({ type: "punct", text: c, ...start });
      i++;
      continue;
    }
    if (c === '"') {
      let out = "";
      i++;
      for (;;) {
        if (i >= src.length || src[i] === "\n") fail("string is not closed (missing \")");
        const ch = src[i] as string;
        if (ch === '"') {
          i++;
          break;
        }
        if (ch === "\\") {
          const e = src[i + 1];
          const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
          if (e !== undefined && simple[e] !== undefined) {
            out += simple[e];
            i += 2;
          } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(src.slice(i + 2, i + 6))) {
            out += String.fromCharCode(parseInt(src.slice(i + 2, i + 6), 16));
            i += 6;
          } else fail(`unknown escape sequence \\${(e ?? "").replace(/[^\x20-\x7e]/g, "?")}`);
        } else {
          out += ch;
          i++;
        }
        if (out.length > HCL_LIMITS.stringLength) fail(`string is longer than ${HCL_LIMITS.stringLength} characters`);
      }
      tokens.push({ type: "string", text: out, ...start });
      continue;
    }
    if (c === "<" && src[i + 1] === "<") {
      const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_]*)\r?\n/.exec(src.slice(i, i + 80));
      if (!m) fail("heredoc must start with <<NAME and a line break");
      const marker = (m as RegExpExecArray)[2] as string;
      i += (m as RegExpExecArray)[0].length;
      line++;
      lineStart = i;
      const lines: string[] = [];
      for (;;) {
        if (i >= src.length) fail(`heredoc is not closed (missing ${marker})`);
        const nl = src.indexOf("\n", i);
        const text = src.slice(i, nl === -1 ? src.length : nl).replace(/\r$/, "");
        i = nl === -1 ? src.length : nl + 1;
        line++;
        lineStart = i;
        if (text.trim() === marker) break;
        lines.push(text);
        if (lines.join("\n").length > HCL_LIMITS.stringLength) fail(`heredoc is longer than ${HCL_LIMITS.stringLength} characters`);
      }
      tokens.push({ type: "string", text: lines.join("\n"), ...start });
      continue;
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i, i + 40));
    if (num && (c === "-" || /\d/.test(c))) {
      tokens.push({ type: "number", text: num[0], ...start });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(src.slice(i, i + HCL_LIMITS.stringLength + 1));
    if (ident) {
      if (ident[0].length > HCL_LIMITS.stringLength) fail("name is too long");
      tokens.push({ type: "ident", text: ident[0], ...start });
      i += ident[0].length;
      continue;
    }
    fail(`unexpected character ${describeChar(c)}`);
  }
  tokens.push({ type: "eof", text: "", ...at() });
  return tokens;
}

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code >= 0x20 && code < 0x7f ? `"${c}"` : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Parses HCL text into a body; throws HclError naming the line and column. */
export function parseHcl(src: string): HclBody {
  const tokens = tokenize(src);
  let pos = 0;
  let items = 0;
  const peek = (): Token => tokens[pos] as Token;
  const next = (): Token => tokens[pos++] as Token;
  const describe = (t: Token): string => (t.type === "eof" ? "the end of the text" : t.type === "string" ? `"${t.text.slice(0, 40)}"` : `"${t.text}"`);
  const fail = (t: Token, message: string): never => {
    throw new HclError(message, t.line, t.column);
  };
  const expect = (text: string): Token => {
    const t = next();
    if (t.type !== "punct" || t.text !== text) fail(t, `expected "${text}", found ${describe(t)}`);
    return t;
  };

  function value(depth: number): HclValue {
    if (depth > HCL_LIMITS.depth) fail(peek(), `nested deeper than ${HCL_LIMITS.depth} levels`);
    const t = next();
    if (t.type === "string") return t.text;
    if (t.type === "number") return Number(t.text);
    if (t.type === "ident" && (t.text === "true" || t.text === "false")) return t.text === "true";
    if (t.type === "punct" && t.text === "[") {
      const list: HclValue[] = [];
      while (!(peek().type === "punct" && peek().text === "]")) {
        if (++items > HCL_LIMITS.items) fail(peek(), `more than ${HCL_LIMITS.items} values`);
        list.push(value(depth + 1));
        if (peek().type === "punct" && peek().text === ",") next();
        else if (!(peek().type === "punct" && peek().text === "]")) fail(peek(), `expected "," or "]" in a list, found ${describe(peek())}`);
      }
      next();
      return list;
    }
    if (t.type === "punct" && t.text === "{") {
      const b = body(depth + 1, true);
      expect("}");
      return b;
    }
    return fail(t, `expected a value (a string, number, true/false, list or object), found ${describe(t)}`);
  }

  function body(depth: number, nested: boolean): HclBody {
    const out: HclBody = { kind: "body", items: [] };
    for (;;) {
      const t = peek();
      if (t.type === "eof") {
        if (nested) fail(t, 'block is not closed (missing "}")');
        return out;
      }
      if (t.type === "punct" && t.text === "}") {
        if (!nested) fail(t, 'unexpected "}"');
        return out;
      }
      if (t.type === "punct" && t.text === ",") {
        next();
        continue;
      }
      if (t.type !== "ident" && t.type !== "string") fail(t, `expected a name, found ${describe(t)}`);
      if (++items > HCL_LIMITS.items) fail(t, `more than ${HCL_LIMITS.items} items`);
      next();
      const labels: string[] = [];
      while (peek().type === "string") labels.push(next().text);
      const after = peek();
      let v: HclValue;
      if (after.type === "punct" && (after.text === "=" || after.text === ":") && labels.length === 0) {
        next();
        v = value(depth);
      } else if (after.type === "punct" && after.text === "{") {
        v = value(depth);
      } else {
        v = fail(after, `expected "=" or "{" after ${describe(t)}, found ${describe(after)}`);
      }
      out.items.push({ key: t.text, labels, value: v, line: t.line, column: t.column });
    }
  }

  return body(0, false);
}
