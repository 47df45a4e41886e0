// Text options (`-netdev`, `-device`, HMP's `netdev_add` / `device_add`) become JSON-typed
// arguments the way QEMU's keyval visitor reads them: dotted keys nest (`addr.type=unix`), and
// a value becomes a number or a boolean only where the schema declares one and the text
// parses as such; anything else stays a string and fails validation as a QMP request would.

import type { JsonSchema } from '../schema/registry.js';

const TRUE = new Set(['on', 'yes', 'true', 'y']);
const FALSE = new Set(['off', 'no', 'false', 'n']);

function typeOf(schema: JsonSchema | undefined): string | undefined {
  const t = schema?.type;
  return Array.isArray(t) ? t[0] : t;
}

function convert(schema: JsonSchema | undefined, text: string): unknown {
  switch (typeOf(schema)) {
    case 'integer':
    case 'number':
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case 'boolean':
      return TRUE.has(text) ? true : FALSE.has(text) ? false : text;
    default:
      return text;
  }
}

/** `flat` keys may be dotted; `schema` is the object schema the result is validated against. */
export function keyvalToArgs(schema: JsonSchema | undefined, flat: ReadonlyArray<[string, string]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, text] of flat) {
    const parts = key.split('.');
    let obj = out;
    let sub = schema;
    for (const part of parts.slice(0, -1)) {
      sub = sub?.properties?.[part];
      const next = obj[part];
      if (next === undefined || typeof next !== 'object' || next === null) obj[part] = {};
      obj = obj[part] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1]!;
    obj[last] = convert(sub?.properties?.[last], text);
  }
  return out;
}
