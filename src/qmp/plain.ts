// Command handlers and ajv see plain JS values: the parser's exact number kinds (bigint for
// integers beyond 2^53, JsonFloat for float tokens) become numbers once the envelope is checked.
// A float token with an integral value (1.0) would then pass as an integer, which QEMU refuses
// ("expected: integer"): toPlainArgs() says whether any float token was there, so the
// dispatcher can check integer members against the parser's values first.

import { JsonFloat, setMember, type JsonObject, type JsonValue } from './json-value.js';

export type PlainValue = null | boolean | number | string | PlainValue[] | { [k: string]: PlainValue };

let sawFloat = false;

export function toPlain(v: JsonValue): PlainValue {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof JsonFloat) {
    sawFloat = true;
    return v.value;
  }
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') {
    // setMember: a client's "__proto__" key must become a member, not the prototype.
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) setMember(out, k, toPlain(x) as JsonValue);
    return out as { [k: string]: PlainValue };
  }
  return v;
}

/** Plain arguments, and whether the parser's value held a float token anywhere. */
export function toPlainArgs(v: JsonValue): { args: PlainValue; floats: boolean } {
  sawFloat = false;
  const args = toPlain(v);
  return { args, floats: sawFloat };
}

export function isJsonFloat(v: unknown): boolean {
  return v instanceof JsonFloat;
}
