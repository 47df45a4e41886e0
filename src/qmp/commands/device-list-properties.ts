// device-list-properties, generated from schema/devices/<typename>.json: each property's QOM
// type (`x-qom-type`), its QOM description and default. QOM descriptions are the schema's
// `description`; notes QEMU does not show live in `$comment`.

import { VifdError } from '../../common/errors.js';
import { ABSTRACT_DEVICE_TYPES } from '../../devices/qom-types.js';
import { schemas, type JsonSchema } from '../../schema/registry.js';
import type { CommandReturns } from '../../schema/types.js';
import type { Dispatcher } from '../dispatcher.js';

/** Types QEMU knows that are not instantiable devices: the abstract parents, and the bus types. */
const NOT_DEVICES = new Set([...ABSTRACT_DEVICE_TYPES, 'xen-bus', 'xen-backend']);

/** QEMU's ObjectPropertyInfo, as schema/commands/device-list-properties.json returns it. */
export type ObjectPropertyInfo = CommandReturns<'device-list-properties'>[number];

export function devicePropertyInfo(name: string, schema: JsonSchema): ObjectPropertyInfo {
  const info: ObjectPropertyInfo = { name, type: schema['x-qom-type'] ?? 'str' };
  if (typeof schema.description === 'string') info.description = schema.description;
  if (schema['x-qom-default'] !== undefined) info['default-value'] = schema['x-qom-default'];
  return info;
}

export function registerDeviceListProperties(d: Dispatcher): void {
  d.register('device-list-properties', ({ typename }) => {
    const entry = schemas().get('device', typename);
    if (!entry) {
      if (NOT_DEVICES.has(typename)) throw new VifdError('DEVICE_TYPE_ABSTRACT', 'typename');
      throw new VifdError('DEVICE_NOT_FOUND', typename);
    }
    return Object.entries(entry.schema.properties ?? {}).map(([name, s]) => devicePropertyInfo(name, s));
  });
}
