/*
 * Seeded random JSON for the codec's property tests: values that use every
 * corner QEMU's parser and writer care about (all three number kinds, escapes,
 * astral and control characters, integer-like and "__proto__" keys), and a
 * serialiser that spells them in many ways QEMU accepts (single quotes, \u
 * escapes, odd whitespace).
 */

import { JsonFloat, setMember, type JsonObject, type JsonValue } from '../../src/qmp/json-value.js';
import { formatDouble, formatJson } from '../../src/qmp/json-writer.js';

import { mulberry32, type Rand } from './prng.js';

export { mulberry32, type Rand };

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const CHARS = ['a', 'b', 'z', 'Q', '0', ' ', '"', "'", '\\', '/', '\n', '\t', '\u0001', '\u001f', '\u007f', '\u0000',
  'é', 'ß', '\u2028', '\uFFFD', '€', '😀', '𝄞', '{', '}', '[', ']', ':', ',', '%'];

function randomString(rand: Rand): string {
  let s = '';
  for (let n = Math.floor(rand() * 8); n > 0; n--) s += pick(rand, CHARS);
  return s;
}

const KEYS = ['execute', 'arguments', 'id', 'a', 'b', '0', '1', '10', '__proto__', 'é', 'micro', 'minor', 'major', ''];

/** A random value nested at most `depth` deep; a container unless `scalars` allows otherwise. */
export function randomValue(rand: Rand, depth: number, scalars: boolean): JsonValue {
  let kind = scalars ? Math.floor(rand() * (depth > 0 ? 10 : 8)) : 8 + Math.floor(rand() * 2);
  if (kind >= 8 && depth <= 0) kind = 0;
  const inner = depth - 1;
  switch (kind) {
    case 0:
      return pick(rand, [null, true, false]);
    case 1:
      return Math.floor((rand() - 0.5) * 2000);
    case 2:
      return pick(rand, [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 123456789012345]);
    case 3:
      return pick(rand, [2n ** 53n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 64n - 1n, 12345678901234567890n]);
    case 4:
      return new JsonFloat(pick(rand, [0.1, -1.5, 1, -0, 1e20, 1e-7, 1234567890.00390625, 2 ** 70, (rand() - 0.5) * 1e6]));
    case 5:
    case 6:
    case 7:
      return randomString(rand);
    case 8: {
      const list: JsonValue[] = [];
      for (let n = Math.floor(rand() * 4); n > 0; n--) list.push(randomValue(rand, inner, true));
      return list;
    }
    default: {
      const obj: JsonObject = {};
      for (let n = Math.floor(rand() * 4); n > 0; n--) {
        const key = rand() < 0.7 ? pick(rand, KEYS) : randomString(rand);
        if (!Object.hasOwn(obj, key)) setMember(obj, key, randomValue(rand, inner, true));
      }
      return obj;
    }
  }
}

function u4(c: number): string {
  return '\\u' + c.toString(16).padStart(4, '0');
}

function serialiseString(s: string, rand: Rand): string {
  const quote = rand() < 0.25 ? "'" : '"';
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (cp < 0x20 || cp === 0) out += ch === '\n' ? '\\n' : ch === '\t' ? '\\t' : u4(cp);
    else if (cp > 0xffff && rand() < 0.5) out += u4(0xd800 + ((cp - 0x10000) >> 10)) + u4(0xdc00 + ((cp - 0x10000) & 0x3ff));
    else if (rand() < 0.1) out += cp > 0xffff ? ch : u4(cp);
    else if (ch === '/' && rand() < 0.5) out += '\\/';
    else if (ch === "'" && rand() < 0.5) out += "\\'";
    else out += ch;
  }
  return out + quote;
}

const SPACE = ['', '', '', ' ', '\n', '\r\n', '\t'];

/** A textual form QEMU's parser reads back as exactly `v` (floats keep a '.' or an exponent). */
export function serialise(v: JsonValue, rand: Rand): string {
  const ws = (): string => pick(rand, SPACE);
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof JsonFloat) {
    const s = Object.is(v.value, -0) ? '-0.0' : String(v.value);
    return /[.e]/.test(s) ? s : v.value.toExponential();
  }
  if (typeof v === 'string') return serialiseString(v, rand);
  if (Array.isArray(v)) return '[' + ws() + v.map((x) => serialise(x, rand)).join(ws() + ',' + ws()) + ws() + ']';
  const members = Object.keys(v).map((k) => serialiseString(k, rand) + ws() + ':' + ws() + serialise(v[k], rand));
  return '{' + ws() + members.join(',' + ws()) + ws() + '}';
}

/**
 * Several messages as one stream.  A number or keyword must be followed by
 * something that ends it, so scalars get whitespace after them.
 */
export function joinMessages(vals: JsonValue[], rand: Rand): string {
  return vals
    .map((v) => {
      const text = serialise(v, rand);
      const selfDelimiting = typeof v === 'string' || (typeof v === 'object' && v !== null && !(v instanceof JsonFloat));
      return text + (selfDelimiting ? pick(rand, SPACE) : pick(rand, [' ', '\n', '\r\n']));
    })
    .join('');
}

/**
 * An order-insensitive rendering, to compare values.  Number kinds count unless
 * `asPrinted`, which compares numbers by how the writer prints them.
 */
export function canonical(v: JsonValue, asPrinted = false): string {
  if (v === null || typeof v === 'boolean') return String(v);
  if (asPrinted && (typeof v === 'number' || typeof v === 'bigint' || v instanceof JsonFloat)) {
    return `n:${formatJson(v).replace(/^-0$/, '0')}`; // -0 prints as itself but reads back as the integer 0
  }
  if (typeof v === 'number') return `i:${Object.is(v, -0) ? '-0' : v}`;
  if (typeof v === 'bigint') return `b:${v}`;
  if (v instanceof JsonFloat) return `f:${formatDouble(v.value)}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map((x) => canonical(x, asPrinted)).join(',') + ']';
  return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical(v[k], asPrinted)).join(',') + '}';
}
