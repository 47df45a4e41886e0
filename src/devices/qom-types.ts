// The QOM type hierarchy vifd has, the one place that knows it: QEMU's `-M none` skeleton types,
// the Xen bus and bridge, and a device type for each schema/devices entry under xen-device.
// qom-list-types shows it; device_add and device-list-properties refuse its abstract devices.

import { schemas } from '../schema/registry.js';

export interface QomType {
  name: string;
  parent?: string;
  abstract?: boolean;
}

const STATIC_TYPES: readonly QomType[] = [
  { name: 'object', abstract: true },
  { name: 'container', parent: 'object' },
  { name: 'machine', parent: 'object', abstract: true },
  { name: 'none-machine', parent: 'machine' },
  { name: 'device', parent: 'object', abstract: true },
  { name: 'sys-bus-device', parent: 'device', abstract: true },
  { name: 'xen-bridge', parent: 'sys-bus-device' },
  { name: 'bus', parent: 'object', abstract: true },
  { name: 'xen-bus', parent: 'bus' },
  { name: 'xen-device', parent: 'device', abstract: true },
];

export function qomTypes(): QomType[] {
  const devices = schemas().list('device').map((e): QomType => ({ name: e.name, parent: 'xen-device' }));
  return [...STATIC_TYPES, ...devices];
}

function isDeviceType(name: string): boolean {
  for (let t = STATIC_TYPES.find((s) => s.name === name); t; t = STATIC_TYPES.find((s) => s.name === t!.parent)) {
    if (t.name === 'device') return true;
  }
  return false;
}

/** Device types that exist but cannot be instantiated (QEMU's abstract parents). */
export const ABSTRACT_DEVICE_TYPES: ReadonlySet<string> = new Set(
  STATIC_TYPES.filter((t) => t.abstract && isDeviceType(t.name)).map((t) => t.name),
);
