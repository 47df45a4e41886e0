// Device properties are validated with ajv against schema/devices/<type>.json and rejected with
// QEMU's qdev texts ("Property 'T.P' not found", "... doesn't take value 'V'"), the first
// failing property in the order the user gave them.

import { VifdError } from '../common/errors.js';
import { qapiTypeWord } from '../schema/qapi-errors.js';
import type { JsonSchema, SchemaEntry } from '../schema/registry.js';

/** The C type bounds QEMU's visitors enforce before the property's own range. */
const C_TYPE_RANGE: Record<string, [number, number, string]> = {
  uint16: [0, 0xffff, 'uint16_t'],
  int32: [-0x80000000, 0x7fffffff, 'int32_t'],
  uint32: [0, 0xffffffff, 'uint32_t'],
};

function propertyError(type: string, name: string, schema: JsonSchema, value: unknown): VifdError | null {
  const want = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const isInt = typeof value === 'number' && Number.isInteger(value);
  const typeOk = want === 'integer' ? isInt : want === 'number' ? typeof value === 'number' :
    want === 'string' ? typeof value === 'string' : want === 'boolean' ? typeof value === 'boolean' : true;
  if (!typeOk) return new VifdError('PARAM_TYPE', name, qapiTypeWord(schema));
  if (typeof value === 'number') {
    const c = C_TYPE_RANGE[schema['x-qom-type'] ?? ''];
    if (c && (value < c[0] || value > c[1])) return new VifdError('PARAM_RANGE', name, c[2]);
    if ((schema.minimum !== undefined && value < schema.minimum) || (schema.maximum !== undefined && value > schema.maximum)) {
      return new VifdError('PROPERTY_OUT_OF_RANGE', type, name, value, schema.minimum, schema.maximum);
    }
  }
  if (typeof value === 'string') {
    if ((schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) ||
        (schema.enum !== undefined && !schema.enum.includes(value)) ||
        (schema.maxLength !== undefined && value.length > schema.maxLength)) {
      return new VifdError('PROPERTY_BAD_VALUE', type, name, value);
    }
  }
  return null;
}

/** Validates `props` (the driver's own properties) for device type `entry`; throws the first error. */
export function validateDeviceProperties(entry: SchemaEntry, props: Record<string, unknown>): void {
  if (entry.validate(props)) return;
  const known = entry.schema.properties ?? {};
  for (const [name, value] of Object.entries(props)) {
    const schema = known[name];
    if (!schema) throw new VifdError('PROPERTY_NOT_FOUND', entry.name, name);
    const err = propertyError(entry.name, name, schema, value);
    if (err) throw err;
  }
  throw new VifdError('INTERNAL', `${entry.name}: invalid properties: ` +
    (entry.validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join(', '));
}

/** QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
export function isWellFormedId(id: string): boolean {
  return /^[A-Za-z][A-Za-z0-9._-]*$/.test(id);
}
