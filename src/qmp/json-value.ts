/*
 * The JSON value model shared by the QMP parser and writer, and the
 * modified-UTF-8 rules both borrow from QEMU's util/unicode.c.
 *
 * Numbers follow QEMU's QNum, which has three kinds (qobject/qnum.h):
 *
 *   QEMU kind     JSON input that produces it            JS representation
 *   ----------    -------------------------------------  ---------------------------
 *   QNUM_I64      integer token that fits int64           number (|v| <= 2^53-1)
 *                                                         bigint (otherwise)
 *   QNUM_U64      integer token > INT64_MAX, <= 2^64-1   bigint
 *   QNUM_DOUBLE   float token (has . or e/E), or an      JsonFloat
 *                 integer token beyond uint64 / int64
 *
 * The split matters on both sides of the wire: QEMU echoes 12345678901234567890
 * verbatim (a u64), prints 1.0 as "1" and 1e400 as "inf" (a double printed with
 * %.17g), and rejects 1.0 where its schema wants an integer while accepting 1.
 * A plain JS number would blur all three.  So a parsed `number` is always an
 * integer; a parsed float is always a JsonFloat.  Server code may still hand the
 * writer a non-integral number: it is printed as a double, as QEMU would.
 */

export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | JsonFloat
  | string
  | JsonValue[]
  | JsonObject;

/**
 * A JSON object.  Member order on the wire does not come from here: the writer
 * uses QEMU's QDict hash order.  Within one hash bucket QEMU puts the most
 * recently inserted key first, so insertion order still matters; JS moves
 * integer-like keys ("0", "17") to the front of an object, so the parser records
 * the real insertion order under KEY_ORDER whenever such a key is present.
 */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Non-enumerable property holding an object's insertion order, when JS would lose it. */
export const KEY_ORDER: unique symbol = Symbol('vifd.json.keyOrder');

/** A QNUM_DOUBLE: the result of a JSON float token, or of an integer too large for 64 bits. */
export class JsonFloat {
  constructor(readonly value: number) {}

  valueOf(): number {
    return this.value;
  }

  toString(): string {
    return String(this.value);
  }

  /** So JSON.stringify (logs, tests) shows the number.  Note that it throws on bigint. */
  toJSON(): number {
    return this.value;
  }
}

/** Any of the three numeric kinds. */
export type JsonNumber = number | bigint | JsonFloat;

export function isJsonNumber(v: unknown): v is JsonNumber {
  return typeof v === 'number' || typeof v === 'bigint' || v instanceof JsonFloat;
}

/** QEMU's qnum_get_try_int/uint succeed: an integer token, never a float token. */
export function isJsonInteger(v: unknown): v is number | bigint {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
}

/** QEMU's qnum_get_double: every numeric kind converts (big integers lose precision). */
export function jsonNumberToDouble(v: JsonNumber): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return v.value;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonFloat);
}

/**
 * Sets a member the way qdict_put_obj does for a fresh key.  A plain assignment
 * of "__proto__" would replace the prototype instead of creating a member.
 */
export function setMember(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/* ----------------------------------------------------------------------------
 * Modified UTF-8 (util/unicode.c).  Exactly like UTF-8, except U+0000 may be
 * written "\xC0\x80"; surrogates, noncharacters and overlong forms are invalid.
 */

/** util/unicode.c is_valid_codepoint(); negative values are invalid as in C's unsigned compare. */
export function isValidCodepoint(cp: number): boolean {
  if (cp < 0 || cp > 0x10ffff) return false;
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return false;
  return !(cp >= 0xd800 && cp <= 0xdfff);
}

const MIN_CP = [0x80, 0x800, 0x10000, 0x200000, 0x4000000];

/**
 * Port of mod_utf8_codepoint(s, 6, &end) over bytes[i..limit), where everything
 * at or after `limit` reads as the C string's terminating NUL.  Returns the code
 * point or -1; the index just past the consumed bytes is left in `utf8End`.
 */
export let utf8End = 0;

export function modUtf8Codepoint(bytes: Uint8Array, i: number, limit: number): number {
  if (i >= limit || bytes[i] === 0) {
    utf8End = i;
    return -1;
  }
  const lead = bytes[i++];
  let cp: number;
  if (lead < 0x80) {
    cp = lead;
  } else if (lead >= 0xfe || (lead & 0x40) === 0) {
    cp = -1; // impossible byte, or a continuation byte with no lead
  } else {
    let len = 0;
    let mask = 0x80;
    while (lead & mask) {
      len++;
      mask >>= 1;
    }
    cp = lead & (mask - 1);
    for (let k = 1; k < len; k++) {
      const b = i < limit ? bytes[i] : 0;
      if ((b & 0xc0) !== 0x80) {
        utf8End = i;
        return -1; // continuation byte missing: the bytes read so far are consumed
      }
      i++;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (!isValidCodepoint(cp)) {
      cp = -1;
    } else if (cp < MIN_CP[len - 2] && !(cp === 0 && len === 2)) {
      cp = -1; // overlong, except the "\xC0\x80" spelling of U+0000
    }
  }
  utf8End = i;
  return cp;
}

const asciiDecoder = new TextDecoder('utf-8');

/** Bytes known to be ASCII, as a string; one native call for long runs. */
export function asciiString(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > 64) return asciiDecoder.decode(bytes.subarray(start, end));
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/**
 * Raw bytes as QEMU would show them inside an error message: the message is a C
 * string (it ends at the first NUL byte) and the JSON writer turns every invalid
 * sequence into U+FFFD, consuming bytes exactly as mod_utf8_codepoint does.
 */
export function lossyCString(bytes: Uint8Array, start: number, end: number): string {
  const nul = bytes.subarray(start, end).indexOf(0);
  return decodeModUtf8(bytes, start, nul >= 0 ? start + nul : end, false)!;
}

/**
 * QEMU's modified UTF-8 between `start` and `end`, ASCII runs in one call each. An invalid
 * sequence becomes U+FFFD, or with `strict` makes the whole result null.
 */
export function decodeModUtf8(bytes: Uint8Array, start: number, end: number, strict: boolean): string | null {
  let s = '';
  let run = start;
  let i = start;
  while (i < end) {
    if (bytes[i] < 0x80) {
      i++;
      continue;
    }
    if (i > run) s += asciiString(bytes, run, i);
    const cp = modUtf8Codepoint(bytes, i, end);
    if (cp < 0 && strict) return null;
    s += String.fromCodePoint(cp < 0 ? 0xfffd : cp);
    i = utf8End;
    run = i;
  }
  if (i > run) s += asciiString(bytes, run, i);
  return s;
}
