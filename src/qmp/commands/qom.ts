// qom-list, qom-get and qom-list-types over the object tree vifd shows: QEMU's `-M none`
// skeleton (/, /machine of type none-machine, its peripheral containers) with the devices of
// the device model under /machine/peripheral[-anon]. A device's QOM properties are QEMU's
// generic ones, its qdev properties from schema/devices/<type>.json, and its live state
// (`x-qom-state` of the same file): XenbusStates, paths, counters.
//
// The tree is rebuilt from the device model on each call: it is small, and nothing can go stale.

import { VifdError } from '../../common/errors.js';
import type { Device } from '../../devices/device.js';
import type { DeviceManager } from '../../devices/device-manager.js';
import { qomTypes } from '../../devices/qom-types.js';
import { schemas } from '../../schema/registry.js';
import type { Dispatcher } from '../dispatcher.js';
import { devicePropertyInfo } from './device-list-properties.js';

interface QomProperty {
  name: string;
  type: string;
  get(): unknown;
}

interface QomObject {
  path: string;
  type: string;
  props: QomProperty[];
}

const XEN_BRIDGE = '/machine/unattached/device[0]';
const XEN_BUS = `${XEN_BRIDGE}/xen-bus.0`;

function typeProp(type: string): QomProperty {
  return { name: 'type', type: 'string', get: () => type };
}

function child(name: string, obj: QomObject): QomProperty {
  return { name, type: `child<${obj.type}>`, get: () => obj.path };
}

function container(path: string, type: string, children: Array<[string, QomObject]>): QomObject {
  return { path, type, props: [typeProp(type), ...children.map(([n, o]) => child(n, o))] };
}

/** The properties every QEMU device has, before its type's own. */
function genericDeviceProps(dev: Device | null, hotplugged: boolean): QomProperty[] {
  return [
    typeProp(dev?.typeName ?? ''),
    { name: 'parent_bus', type: 'link<bus>', get: () => XEN_BUS },
    { name: 'realized', type: 'bool', get: () => true },
    { name: 'hotplugged', type: 'bool', get: () => hotplugged },
    { name: 'hotpluggable', type: 'bool', get: () => true },
  ];
}

function deviceObject(dev: Device, hotplugged: boolean): QomObject {
  const schema = schemas().get('device', dev.typeName)?.schema;
  const live = (): Record<string, unknown> => dev.properties();
  const props = genericDeviceProps(dev, hotplugged);
  const declared = { ...(schema?.properties ?? {}), ...(schema?.['x-qom-state'] ?? {}) };
  for (const [name, s] of Object.entries(declared)) {
    props.push({ name, type: s['x-qom-type'] ?? 'str', get: () => live()[name] });
  }
  return { path: dev.path, type: dev.typeName, props };
}

/** Every object of the tree by canonical path. */
function buildTree(devices: DeviceManager, coldPlugged: WeakSet<Device>): Map<string, QomObject> {
  const all = new Map<string, QomObject>();
  const add = (o: QomObject): QomObject => {
    all.set(o.path, o);
    return o;
  };
  const peripheral: Array<[string, QomObject]> = [];
  const anon: Array<[string, QomObject]> = [];
  for (const dev of devices.list()) {
    const o = add(deviceObject(dev, !coldPlugged.has(dev)));
    const name = dev.path.slice(dev.path.lastIndexOf('/') + 1);
    (dev.path.startsWith('/machine/peripheral-anon/') ? anon : peripheral).push([name, o]);
  }
  const bus = add(container(XEN_BUS, 'xen-bus', []));
  const bridge = add(container(XEN_BRIDGE, 'xen-bridge', [['xen-bus.0', bus]]));
  const machine = add(container('/machine', 'none-machine', [
    ['peripheral-anon', add(container('/machine/peripheral-anon', 'container', anon))],
    ['peripheral', add(container('/machine/peripheral', 'container', peripheral))],
    ['unattached', add(container('/machine/unattached', 'container', [['device[0]', bridge]]))],
  ]));
  // QEMU's order for the root's children.
  add(container('/', 'container', [
    ['backend', add(container('/backend', 'container', []))],
    ['machine', machine],
    ['objects', add(container('/objects', 'container', []))],
    ['chardevs', add(container('/chardevs', 'container', []))],
  ]));
  return all;
}

/** object_resolve_path(): absolute, or a partial path that ends exactly one object's path. */
function resolve(tree: Map<string, QomObject>, path: string): QomObject {
  if (path.startsWith('/')) {
    const canonical = path === '/' ? '/' : path.replace(/\/+$/, '');
    const o = tree.get(canonical);
    if (!o) throw new VifdError('DEVICE_NOT_FOUND', path);
    return o;
  }
  const matches = [...tree.values()].filter((o) => o.path.endsWith(`/${path}`));
  if (matches.length > 1) throw new VifdError('QOM_PATH_AMBIGUOUS', path);
  if (matches.length === 0) throw new VifdError('DEVICE_NOT_FOUND', path);
  return matches[0]!;
}

export interface QomCommands {
  /** Devices added until now were cold-plugged (-device); later ones are hotplugged. */
  coldPlugDone(): void;
}

export function registerQomCommands(d: Dispatcher, devices: DeviceManager): QomCommands {
  const coldPlugged = new WeakSet<Device>();
  let starting = true;
  devices.on('device-added', (dev) => {
    if (starting) coldPlugged.add(dev);
  });
  const tree = (): Map<string, QomObject> => buildTree(devices, coldPlugged);

  d.register('qom-list', ({ path }) => {
    const o = resolve(tree(), path);
    return o.props.map((p) => ({ name: p.name, type: p.type }));
  });

  d.register('qom-get', ({ path, property: name }) => {
    const o = resolve(tree(), path);
    const p = o.props.find((x) => x.name === name);
    if (!p) throw new VifdError('PROPERTY_NOT_FOUND', o.type, name);
    return p.get();
  });

  d.register('qom-list-properties', ({ typename }) => {
    const type = qomTypes().find((t) => t.name === typename);
    if (!type) throw new VifdError('QOM_CLASS_NOT_FOUND', typename);
    const entry = schemas().get('device', typename);
    if (!entry) return [{ name: 'type', type: 'string' }];
    return [
      ...genericDeviceProps(null, false).map((p) => ({ name: p.name, type: p.type })),
      ...Object.entries(entry.schema.properties ?? {}).map(([name, s]) => devicePropertyInfo(name, s)),
    ];
  });

  d.register('qom-list-types', (a) => {
    const types = qomTypes();
    const parentOf = new Map(types.map((t) => [t.name, t.parent]));
    const implementsType = (name: string, ancestor: string): boolean => {
      for (let t: string | undefined = name; t !== undefined; t = parentOf.get(t)) if (t === ancestor) return true;
      return false;
    };
    const wanted = a.implements;
    const withAbstract = a.abstract === true;
    return types
      .filter((t) => (withAbstract || !t.abstract) && (wanted === undefined || implementsType(t.name, wanted)))
      .map((t) => ({ name: t.name, ...(t.abstract ? { abstract: true } : {}), ...(t.parent ? { parent: t.parent } : {}) }));
  });

  return {
    coldPlugDone: () => {
      starting = false;
    },
  };
}
