/*
 * QMP output: a JSON value as QEMU 10's qobject/qjson.c + json-writer.c print it.
 *
 * - Separators ", " and ": "; ASCII only: every code point from U+007F up is
 *   written \uXXXX with upper-case hex (astral ones as a surrogate pair), control
 *   characters as \b \f \n \r \t or \u00XX, and '/' is left alone.
 * - Strings are validated as QEMU's modified UTF-8 reader does: a lone surrogate
 *   or a noncharacter (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) comes out as \uFFFD.
 * - Integers print in decimal; doubles print with "%.17g" (so 1.0 -> 1, 0.1 ->
 *   0.10000000000000001, 1e20 -> 1e+20, infinity -> inf: not JSON, but QEMU's).
 * - Object members come in QDict iteration order, so every object the server
 *   builds is ordered like QEMU's without any caller caring:  QDict hashes keys
 *   with tdb_hash() into 512 buckets, walks buckets 0..511, and each bucket is a
 *   list with the most recently inserted key first (QLIST_INSERT_HEAD).  Hence
 *   {"return": X, "id": I}, {"id": I, "error": E}, and {"micro", "minor", "major"}
 *   (micro and minor share bucket 225; major was inserted first).
 * - Pretty mode (-qmp pretty=on) is json-writer.c's: a newline and 4 spaces per
 *   level before each member and before the closing bracket, also for empty
 *   containers ("{\n}").  The monitor turns every "\n" into "\r\n" on the wire.
 * - A member whose value is `undefined` is absent, as an unset optional QAPI
 *   member is.
 */

import { JsonFloat, KEY_ORDER, type JsonValue } from './json-value.js';

/* --------------------------------------------------------- member order -- */

/** tdb_hash() over the key's modified-UTF-8 bytes, as unsigned 32-bit arithmetic. */
export function tdbHash(key: string): number {
  let len = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0 || (c >= 0x80 && c < 0x800)) len += 2;
    else if (c < 0x80) len += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < key.length && (key.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 4;
      i++;
    } else len += 3;
  }
  let value = Math.imul(0x238f13af, len) >>> 0;
  let n = 0;
  const add = (byte: number): void => {
    value = (value + (byte << ((n * 5) % 24))) >>> 0;
    n++;
  };
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c > 0 && c < 0x80) {
      add(c);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < key.length && (key.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (key.charCodeAt(++i) - 0xdc00);
      add(0xf0 | (c >> 18));
      add(0x80 | ((c >> 12) & 0x3f));
      add(0x80 | ((c >> 6) & 0x3f));
      add(0x80 | (c & 0x3f));
    } else if (c < 0x800) {
      add(0xc0 | (c >> 6)); // U+0000 is "\xC0\x80" in modified UTF-8
      add(0x80 | (c & 0x3f));
    } else {
      add(0xe0 | (c >> 12));
      add(0x80 | ((c >> 6) & 0x3f));
      add(0x80 | (c & 0x3f));
    }
  }
  return (Math.imul(1103515243, value) + 12345) >>> 0;
}

export const QDICT_BUCKET_MAX = 512;

const bucketCache = new Map<string, number>();

export function qdictBucket(key: string): number {
  let b = bucketCache.get(key);
  if (b === undefined) {
    b = tdbHash(key) % QDICT_BUCKET_MAX;
    if (bucketCache.size >= 8192) bucketCache.clear(); // keys chosen by clients must not pile up
    bucketCache.set(key, b);
  }
  return b;
}

function computeOrder(keys: readonly string[]): string[] {
  const n = keys.length;
  const buckets = new Array<number>(n);
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    buckets[i] = qdictBucket(keys[i]);
    // Insertion sort on (bucket ascending, insertion index descending).
    let j = i;
    while (j > 0 && buckets[order[j - 1]] >= buckets[i]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = keys[order[i]];
  return out;
}

/**
 * Orders already computed, in a trie over the insertion-ordered key list: the
 * server prints the same few shapes over and over.  Bounded, because clients
 * choose the keys of the ids we echo.
 */
interface OrderNode {
  next: Map<string, OrderNode>;
  order?: string[];
}
const orderRoot: OrderNode = { next: new Map() };
let orderNodes = 0;
const ORDER_NODES_MAX = 16384;

/**
 * Keys given in insertion order, returned in QDict iteration order: bucket by
 * bucket, and within a bucket the last inserted first.  Do not modify the result.
 */
export function qdictKeyOrder(keys: readonly string[]): readonly string[] {
  if (keys.length < 2) return keys;
  let node = orderRoot;
  for (const k of keys) {
    let next = node.next.get(k);
    if (next === undefined) {
      if (orderNodes >= ORDER_NODES_MAX) return computeOrder(keys);
      next = { next: new Map() };
      node.next.set(k, next);
      orderNodes++;
    }
    node = next;
  }
  return (node.order ??= computeOrder(keys));
}

/**
 * An object's members in the order QEMU iterates (and prints) them, using the
 * insertion order the parser recorded when JS reordered integer-like keys.
 * QEMU's dispatcher checks request members in this order, so this also decides
 * which of several bad members it complains about first.
 */
export function qdictOrderOf(obj: Readonly<Record<string, unknown>>): readonly string[] {
  let keys = Object.keys(obj);
  const recorded = (obj as { [KEY_ORDER]?: string[] })[KEY_ORDER];
  if (recorded !== undefined && recorded.length === keys.length && recorded.every((k) => Object.hasOwn(obj, k))) {
    keys = recorded;
  }
  for (let i = 0; i < keys.length; i++) {
    if (obj[keys[i]] === undefined) {
      keys = keys.filter((k) => obj[k] !== undefined);
      break;
    }
  }
  return qdictKeyOrder(keys);
}

/* ------------------------------------------------------------- numbers -- */

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** Whether |x| (positive, finite) equals the 18-significant-digit decimal `s18` exactly. */
function isExactDecimal(x: number, s18: string): boolean {
  f64[0] = x;
  const bits = u64[0];
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const m = exp === 0 ? frac : frac | (1n << 52n);
  const e2 = exp === 0 ? -1074 : exp - 1075;
  const ePos = s18.indexOf('e');
  const digits = BigInt(s18.slice(0, 1) + s18.slice(2, ePos));
  const k = Number(s18.slice(ePos + 1)) - 17; // digits * 10^k is the decimal
  // m * 2^e2 == digits * 2^k * 5^k, cleared of negative powers.
  let lhs = m;
  let rhs = digits;
  if (e2 - k >= 0) lhs <<= BigInt(e2 - k);
  else rhs <<= BigInt(k - e2);
  if (k >= 0) rhs *= 5n ** BigInt(k);
  else lhs *= 5n ** BigInt(-k);
  return lhs === rhs;
}

/** printf("%.17g", x) as glibc prints it (round-half-even on the exact binary value). */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const neg = x < 0;
  const a = neg ? -x : x;
  let s = a.toExponential(16);
  // toExponential rounds exact ties away from zero; glibc rounds them to even.
  const s18 = a.toExponential(17);
  if (s18.charCodeAt(18) === 0x35 && ((s18.charCodeAt(17) - 0x30) & 1) === 0 && isExactDecimal(a, s18)) {
    s = s18.slice(0, 18) + s18.slice(19);
  }
  const ePos = s.indexOf('e');
  let digits = s.slice(0, 1) + s.slice(2, ePos);
  const exp = Number(s.slice(ePos + 1));
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  digits = digits.slice(0, end);
  let out: string;
  if (exp < -4 || exp >= 17) {
    const e = Math.abs(exp);
    out = digits[0] + (digits.length > 1 ? '.' + digits.slice(1) : '') + (exp < 0 ? 'e-' : 'e+') + (e < 10 ? '0' : '') + e;
  } else if (exp >= 0) {
    out = digits.length <= exp + 1
      ? digits + '0'.repeat(exp + 1 - digits.length)
      : digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  } else {
    out = '0.' + '0'.repeat(-exp - 1) + digits;
  }
  return neg ? '-' + out : out;
}

/** A JS number: an integer in the safe range is a QNUM_I64; anything else a double. */
function formatNumber(v: number): string {
  if (Number.isSafeInteger(v)) return v === 0 ? '0' : String(v);
  return formatDouble(v);
}

/* ------------------------------------------------------------- strings -- */

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u007f-\uffff]/;

const NAMED: Record<number, string> = {
  0x22: '\\"',
  0x5c: '\\\\',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
};

const hex4: string[] = [];

function u4(c: number): string {
  return (hex4[c] ??= '\\u' + (0x10000 + c).toString(16).toUpperCase().slice(1));
}

function isNoncharacter(cp: number): boolean {
  return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/** quoted_str(). */
export function quoteString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) continue;
    if (i > run) out += s.slice(run, i);
    const named = NAMED[c];
    if (named !== undefined) {
      out += named;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const lo = s.charCodeAt(++i);
      const cp = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
      out += isNoncharacter(cp) ? '\\uFFFD' : u4(c) + u4(lo);
    } else if ((c >= 0xd800 && c <= 0xdfff) || isNoncharacter(c)) {
      out += '\\uFFFD';
    } else {
      out += u4(c);
    }
    run = i + 1;
  }
  if (run < s.length) out += s.slice(run);
  return out + '"';
}

/* --------------------------------------------------------------- values -- */

const indents: string[] = [''];

function indent(depth: number): string {
  while (indents.length <= depth) indents.push(' '.repeat(indents.length * 4));
  return indents[depth];
}

/**
 * Compact text of deeply frozen values, printed once: constant replies (query-version, the
 * schema) are frozen by whoever builds them. Weak, so nothing is kept alive by the cache.
 */
const frozenText = new WeakMap<object, string>();

function write(v: unknown, nl: string | null, depth: number): string {
  if (nl === null && typeof v === 'object' && v !== null && Object.isFrozen(v)) {
    let text = frozenText.get(v);
    if (text === undefined) {
      text = writeValue(v, nl, depth);
      frozenText.set(v, text);
    }
    return text;
  }
  return writeValue(v, nl, depth);
}

function writeValue(v: unknown, nl: string | null, depth: number): string {
  switch (typeof v) {
    case 'string':
      return quoteString(v);
    case 'number':
      return formatNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'object':
      break;
    default:
      return 'null';
  }
  if (v === null) return 'null';
  if (v instanceof JsonFloat) return formatDouble(v.value);
  const inner = depth + 1;
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      if (nl === null) out += (i === 0 ? '' : ', ') + write(v[i], nl, inner);
      else out += (i === 0 ? '' : ',') + nl + indent(inner) + write(v[i], nl, inner);
    }
    return out + (nl === null ? ']' : nl + indent(depth) + ']');
  }
  const obj = v as Record<string, unknown>;
  const keys = qdictOrderOf(obj);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const member = quoteString(k) + ': ' + write(obj[k], nl, inner);
    if (nl === null) out += (i === 0 ? '' : ', ') + member;
    else out += (i === 0 ? '' : ',') + nl + indent(inner) + member;
  }
  return out + (nl === null ? '}' : nl + indent(depth) + '}');
}

/** qobject_to_json_pretty(value, pretty). */
export function formatJson(value: JsonValue, pretty = false): string {
  return write(value, pretty ? '\n' : null, 0);
}

/** One server message as it goes on the wire: the JSON, then CRLF (pretty newlines become CRLF too). */
export function formatQmpLine(value: JsonValue, pretty = false): string {
  return write(value, pretty ? '\r\n' : null, 0) + '\r\n';
}
