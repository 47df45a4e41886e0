// Turns ajv's findings into the one error QEMU's QAPI input visitor would report first.
//
// QEMU visits an object's declared members in declaration order (missing, wrong type or bad
// value of the first failing member), and only then reports the first member nobody declared.
// We reproduce that order rather than ajv's.

import type { ErrorObject } from 'ajv';
import { VifdError } from '../common/errors.js';
import type { JsonSchema } from './registry.js';

/** The `expected:` word QEMU uses for a JSON type. */
export function qapiTypeWord(schema: JsonSchema): string {
  const t = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (t) {
    case 'string': return 'string';
    case 'integer': return 'integer';
    case 'number': return 'number';
    case 'boolean': return 'boolean';
    case 'array': return 'array';
    case 'object': return 'object';
    default: return 'value';
  }
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(schema: JsonSchema, v: unknown): boolean {
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return true;
  const actual = jsonType(v);
  return types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

/** QEMU names list elements 'null' (its visitor has no name for them); kept for byte-compatibility. */
const LIST_ELEMENT_NAME = 'null';

/** The order QEMU's visitor meets an object's members in (its QDict's); identity by default. */
export type KeyOrder = (keys: readonly string[]) => readonly string[];

/**
 * Checks `value` against `schema` the way QEMU's visitor walks it and returns the first error,
 * or null. Called only after ajv rejected the value, so a null here means ajv found something
 * this walk does not model (reported generically).
 */
function firstError(schema: JsonSchema, value: unknown, name: string, order: KeyOrder): VifdError | null {
  // QEMU's unsigned and size visitors word a non-number as a bad value, not a bad type.
  const qapiType = schema['x-qapi-type'] ?? '';
  if ((/^uint\d+$/.test(qapiType) || qapiType === 'size') && typeof value !== 'number') {
    return new VifdError('PARAM_RANGE', name, qapiType === 'size' ? 'size' : 'uint64');
  }
  if (!typeMatches(schema, value)) return new VifdError('PARAM_TYPE', name, qapiTypeWord(schema));
  if (schema.enum && !schema.enum.includes(value)) return new VifdError('PARAM_ENUM', name, String(value));
  if (typeof value === 'number' && ((schema.minimum !== undefined && value < schema.minimum) ||
      (schema.maximum !== undefined && value > schema.maximum))) {
    return new VifdError('PARAM_RANGE', name, rangeWord(schema));
  }
  if (typeof value === 'string' && ((schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) ||
      (schema.maxLength !== undefined && value.length > schema.maxLength))) {
    return new VifdError('PARAM_ENUM', name, value);
  }
  if (Array.isArray(value) && schema.items) {
    for (const item of value) {
      const e = firstError(schema.items, item, LIST_ELEMENT_NAME, order);
      if (e) return e;
    }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = schema.properties ?? {};
    const prefix = name === '' ? '' : `${name}.`;
    for (const [key, sub] of Object.entries(props)) {
      if (!Object.hasOwn(obj, key)) {
        if (schema.required?.includes(key)) return new VifdError('PARAM_MISSING', prefix + key);
        continue;
      }
      const e = firstError(sub, obj[key], prefix + key, order);
      if (e) return e;
    }
    if (schema.additionalProperties === false) {
      // qobject_input_check_struct() walks the QDict: the first unknown key in its order.
      for (const key of order(Object.keys(obj))) {
        if (!Object.hasOwn(props, key)) return new VifdError('PARAM_UNEXPECTED', prefix + key);
      }
    }
  }
  return null;
}

function rangeWord(schema: JsonSchema): string {
  // visit_type_{u,}intN(): "Parameter 'port' expects uint32_t".
  const t = schema['x-qapi-type'] ?? schema['x-qom-type'] ?? '';
  if (/^u?int(8|16|32)$/.test(t)) return `${t}_t`;
  return (schema.minimum ?? 0) >= 0 ? 'uint64' : 'int64';
}

/** The QEMU-style error for arguments ajv rejected. */
export function argumentError(schema: JsonSchema, args: unknown, ajvErrors: ErrorObject[] | null | undefined,
  order: KeyOrder = (keys) => keys): VifdError {
  return firstError(schema, args, '', order) ??
    new VifdError('INTERNAL', `Invalid arguments: ${(ajvErrors ?? []).map((e) => `${e.instancePath} ${e.message}`).join(', ')}`);
}

/**
 * The first integer-typed member (declaration order) holding a float token, as QEMU's visitor
 * reports it: "expected: integer" for signed types, "expects uint64" for unsigned ones.
 * `isFloat` tells the parser's float values apart (ajv only sees numbers).
 */
export function floatForIntegerError(schema: JsonSchema, value: unknown, isFloat: (v: unknown) => boolean,
  name = ''): VifdError | null {
  if (isFloat(value)) {
    if (schema.type !== 'integer') return null;
    const unsigned = /^uint/.test(schema['x-qapi-type'] ?? schema['x-qom-type'] ?? '');
    return unsigned ? new VifdError('PARAM_RANGE', name, 'uint64')
      : new VifdError('PARAM_TYPE', name, 'integer');
  }
  if (Array.isArray(value) && schema.items) {
    for (const item of value) {
      const e = floatForIntegerError(schema.items, item, isFloat, LIST_ELEMENT_NAME);
      if (e) return e;
    }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    const obj = value as Record<string, unknown>;
    const prefix = name === '' ? '' : `${name}.`;
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (!Object.hasOwn(obj, key)) continue;
      const e = floatForIntegerError(sub, obj[key], isFloat, prefix + key);
      if (e) return e;
    }
  }
  return null;
}
