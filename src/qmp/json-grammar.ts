/*
 * JSON grammar: a port of QEMU 10's qobject/json-parser.c.
 *
 * The streamer hands over one message's tokens; this turns them into a value or
 * into QEMU's error text.  Two QEMU habits shape the code:
 *
 * - The first error wins (parse_error() ignores later ones), and errors are found
 *   in parse order: a bad escape in the first key beats a missing colon after it.
 * - Scalars are decoded when the parser reaches them.  Here they are decoded as
 *   soon as the token is complete (so the lexer can drop the bytes), and a failed
 *   decode is kept as a TokenFault that the parser raises when it gets there.
 *   Decoding has no other side effect, so the reported error is the same.
 */

import { Tok } from './json-lexer.js';
import {
  JsonFloat,
  KEY_ORDER,
  asciiString,
  decodeModUtf8,
  isValidCodepoint,
  lossyCString,
  setMember,
  type JsonObject,
  type JsonValue,
} from './json-value.js';

/**
 * parse_error() formats into `char message[1024]`, so QEMU cuts its messages
 * after 1023 bytes: a long bad keyword loses its closing quote.  (Every message
 * that can get long is ASCII, so bytes and UTF-16 units agree here.)
 */
const PARSE_ERROR_MAX = 1023;

function clip(msg: string): string {
  return msg.length > PARSE_ERROR_MAX ? msg.slice(0, PARSE_ERROR_MAX) : msg;
}

/** A scalar token that cannot become a value; `msg` follows "JSON parse error, ". */
export class TokenFault {
  readonly msg: string;

  constructor(msg: string) {
    this.msg = clip(msg);
  }
}

export type TokenValue = JsonValue | TokenFault;

/** The tokens of one message, in order.  Structural tokens carry no value. */
export class TokenQueue {
  types: Tok[] = [];
  vals: TokenValue[] = [];

  get length(): number {
    return this.types.length;
  }

  push(type: Tok, val: TokenValue): void {
    this.types.push(type);
    this.vals.push(val);
  }

  clear(): void {
    if (this.types.length > 4096) {
      this.types = [];
      this.vals = [];
    } else {
      this.types.length = 0;
      this.vals.length = 0;
    }
  }
}

/* ---------------------------------------------------------------- scalars -- */

function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  return -1;
}

/** cvt4hex(): four hex digits at tok[i..], reading past the token as NUL. */
function hex4(tok: Uint8Array, i: number, len: number): number {
  let cp = 0;
  for (let k = 0; k < 4; k++) {
    const d = i + k < len ? hexDigit(tok[i + k]) : -1;
    if (d < 0) return -1;
    cp = (cp << 4) | d;
  }
  return cp;
}

const SIMPLE_ESCAPES: Record<number, string> = {
  0x22: '"',
  0x27: "'",
  0x5c: '\\',
  0x2f: '/',
  0x62: '\b',
  0x66: '\f',
  0x6e: '\n',
  0x72: '\r',
  0x74: '\t',
};

/**
 * Valid UTF-8 that QEMU's modified UTF-8 still rejects: the noncharacters
 * U+FDD0..U+FDEF and U+xFFFE / U+xFFFF of every plane.
 */
const NONCHARACTER = /[\uFDD0-\uFDEF\uFFFE\uFFFF]|[\uD83F\uD87F\uD8BF\uD8FF\uD93F\uD97F\uD9BF\uD9FF\uDA3F\uDA7F\uDABF\uDAFF\uDB3F\uDB7F\uDBBF\uDBFF][\uDFFE\uDFFF]/;

let strictUtf8: { decode(input: Uint8Array): string } | null | undefined;

/** Unescaped string bytes tok[a..b) with some byte >= 0x80, or the fault QEMU reports. */
function decodeNonAscii(tok: Uint8Array, a: number, b: number): string | TokenFault {
  // Strict UTF-8 agrees with QEMU except on "\xC0\x80" and noncharacters: try it first.
  if (strictUtf8 === undefined) {
    try {
      strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // QEMU keeps a BOM
    } catch {
      strictUtf8 = null;
    }
  }
  if (strictUtf8 !== null) {
    try {
      const s = strictUtf8.decode(tok.subarray(a, b));
      if (!NONCHARACTER.test(s)) return s;
    } catch {
      // fall through to QEMU's own rules, which find the fault
    }
  }
  return decodeModUtf8(tok, a, b, true) ?? new TokenFault('invalid UTF-8 sequence in string');
}

/** parse_string(): a complete quoted token (either quote kind) to its value. */
export function decodeString(tok: Uint8Array, len: number): string | TokenFault {
  const quote = tok[0];
  let s = '';
  let run = 1; // start of the pending run of unescaped bytes
  let high = false; // whether that run has bytes >= 0x80
  let i = 1;
  for (;;) {
    const b = tok[i];
    if (b !== quote && b !== 0x5c) {
      if (b >= 0x80) high = true;
      i++;
      continue;
    }
    if (i > run) {
      const part = high ? decodeNonAscii(tok, run, i) : asciiString(tok, run, i);
      if (typeof part !== 'string') return part;
      s += part;
    }
    if (b === quote) return s;
    const beg = i;
    const e = tok[i + 1];
    i += 2;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      s += simple;
    } else if (e === 0x75) {
      let cp = hex4(tok, i, len);
      i += 4;
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < len && tok[i] === 0x5c && tok[i + 1] === 0x75) {
        cp = 0x10000 + ((cp & 0x3ff) << 10);
        const trailing = hex4(tok, i + 2, len);
        if (trailing >= 0xdc00 && trailing <= 0xdfff) {
          cp |= trailing & 0x3ff;
          i += 6;
        } else {
          cp = -1;
        }
      }
      if (!isValidCodepoint(cp)) {
        return new TokenFault(`${lossyCString(tok, beg, Math.min(i, len))} is not a valid Unicode character`);
      }
      s += String.fromCodePoint(cp);
    } else {
      return new TokenFault('invalid escape sequence in string');
    }
    run = i;
    high = false;
  }
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * parse_literal() for JSON_INTEGER: int64 if it fits, else uint64 if it fits
 * (non-negative only), else a double.  "-0" is the int64 zero, not a negative zero.
 */
export function integerValue(text: string): JsonValue {
  const digits = text.charCodeAt(0) === 0x2d ? text.length - 1 : text.length;
  if (digits <= 15) {
    const v = Number(text);
    return v === 0 ? 0 : v;
  }
  const big = BigInt(text);
  if (big >= INT64_MIN && big <= INT64_MAX) {
    return big >= SAFE_MIN && big <= SAFE_MAX ? Number(big) : big;
  }
  if (big > 0n && big <= UINT64_MAX) return big;
  return new JsonFloat(Number(text));
}

/** The value (or fault) of a complete scalar token in tok[0..len). */
export function scalarValue(type: Tok, tok: Uint8Array, len: number): TokenValue {
  switch (type) {
    case Tok.String:
      return decodeString(tok, len);
    case Tok.Integer:
      return integerValue(asciiString(tok, 0, len));
    case Tok.Float:
      // JS number parsing and glibc strtod are both correctly rounded.
      return new JsonFloat(Number(asciiString(tok, 0, len)));
    case Tok.Keyword: {
      // Only the start of a long word can reach the (clipped) message.
      const word = asciiString(tok, 0, Math.min(len, PARSE_ERROR_MAX));
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
      return new TokenFault(`invalid keyword '${word}'`);
    }
    default:
      return null;
  }
}

/* ---------------------------------------------------------------- grammar -- */

const FAIL: unique symbol = Symbol('fail');
type Parsed = JsonValue | typeof FAIL;

const enum End {
  None = -1,
}

function startsWithDigit(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 0x30 && c <= 0x39;
}

class Grammar {
  private pos = 0;
  err: string | null = null;

  constructor(
    private readonly types: Tok[],
    private readonly vals: TokenValue[],
  ) {}

  private fail(msg: string): typeof FAIL {
    if (this.err === null) this.err = clip(msg);
    return FAIL;
  }

  private peek(): Tok | End {
    return this.pos < this.types.length ? this.types[this.pos] : End.None;
  }

  private pop(): Tok | End {
    return this.pos < this.types.length ? this.types[this.pos++] : End.None;
  }

  value(): Parsed {
    switch (this.peek()) {
      case End.None:
        return this.fail('premature EOI');
      case Tok.LCurly:
        return this.object();
      case Tok.LSquare:
        return this.array();
      case Tok.Integer:
      case Tok.Float:
      case Tok.String:
      case Tok.Keyword: {
        const v = this.vals[this.pos++];
        return v instanceof TokenFault ? this.fail(v.msg) : v;
      }
      default:
        return this.fail('expecting value');
    }
  }

  private object(): Parsed {
    this.pos++; // '{'
    const obj: JsonObject = {};
    const order: { keys: string[] | null } = { keys: null };
    const first = this.peek();
    if (first === End.None) return this.fail('premature EOI');
    if (first === Tok.RCurly) {
      this.pos++;
      return obj;
    }
    if (!this.pair(obj, order)) return FAIL;
    let t = this.pop();
    while (t !== Tok.RCurly) {
      if (t === End.None) return this.fail('premature EOI');
      if (t !== Tok.Comma) return this.fail('expected separator in dict');
      if (!this.pair(obj, order)) return FAIL;
      t = this.pop();
    }
    if (order.keys !== null) Object.defineProperty(obj, KEY_ORDER, { value: order.keys });
    return obj;
  }

  private pair(obj: JsonObject, order: { keys: string[] | null }): boolean {
    if (this.peek() === End.None) return this.bad('premature EOI');
    const key = this.value();
    if (typeof key !== 'string') return this.bad('key is not a string in object');
    const colon = this.pop();
    if (colon === End.None) return this.bad('premature EOI');
    if (colon !== Tok.Colon) return this.bad('missing : in object pair');
    const value = this.value();
    if (value === FAIL) return this.bad('Missing value in dict');
    if (Object.hasOwn(obj, key)) return this.bad('duplicate key');
    // JS would list integer-like keys first; remember the order QEMU inserted them in.
    if (order.keys === null && startsWithDigit(key)) order.keys = Object.keys(obj);
    if (order.keys !== null) order.keys.push(key);
    setMember(obj, key, value);
    return true;
  }

  private bad(msg: string): false {
    this.fail(msg);
    return false;
  }

  private array(): Parsed {
    this.pos++; // '['
    const list: JsonValue[] = [];
    const first = this.peek();
    if (first === End.None) return this.fail('premature EOI');
    if (first === Tok.RSquare) {
      this.pos++;
      return list;
    }
    let v = this.value();
    if (v === FAIL) return this.fail('expecting value');
    list.push(v);
    let t = this.pop();
    while (t !== Tok.RSquare) {
      if (t === End.None) return this.fail('premature EOI');
      if (t !== Tok.Comma) return this.fail('expected separator in list');
      v = this.value();
      if (v === FAIL) return this.fail('expecting value');
      list.push(v);
      t = this.pop();
    }
    return list;
  }
}

/** json_parser_parse(): one message's tokens to a value, or QEMU's error text. */
export function parseTokens(q: TokenQueue): { value: JsonValue } | { desc: string } {
  const g = new Grammar(q.types, q.vals);
  const v = g.value();
  if (v === FAIL) return { desc: `JSON parse error, ${g.err ?? 'expecting value'}` };
  return { value: v };
}
