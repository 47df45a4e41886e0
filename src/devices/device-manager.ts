// The device model: the object tree under /machine, device_add / device_del semantics and the
// "device is gone" notification. It knows nothing of QMP; commands call it, and it reports
// deletions through its own event.

import { EventEmitter } from 'node:events';
import { VifdError } from '../common/errors.js';
import { schemas } from '../schema/registry.js';
import { ABSTRACT_DEVICE_TYPES } from './qom-types.js';
import type { Device, XenBackedDevice } from './device.js';
import { isWellFormedId, validateDeviceProperties } from './properties.js';
import type { StateSide } from '../backend/xen-bus.js';
import type { XenDevice } from '../backend/xen-device.js';
import { createXenNetDevice, XEN_NET_DEVICE, type XenNetContext } from './xen-net-device.js';
import { createToolstackXenNetDevice, QNIC_TYPE } from './toolstack.js';

export const PERIPHERAL = '/machine/peripheral';
export const PERIPHERAL_ANON = '/machine/peripheral-anon';
const XEN_BUS_ID = 'xen-bus.0';
/** Paths that exist in the tree but are not devices. */
const CONTAINERS = new Set(['/machine', PERIPHERAL, PERIPHERAL_ANON, '/machine/unattached']);

export interface DeviceDeleted {
  device: string | null;
  path: string;
}

export interface DeviceStateChange {
  dev: Device;
  vif: string;
  side: StateSide;
  state: number;
}

export interface DeviceDisabled {
  dev: Device;
  vif: string;
  reason: string;
}

export interface DeviceManagerEvents {
  'device-added': [dev: Device];
  'device-deleted': [info: DeviceDeleted];
  /** A backend or frontend XenbusState of a device changed. */
  'state-changed': [change: DeviceStateChange];
  /** A vif stopped servicing its guest after a fatal guest error. */
  'device-disabled': [info: DeviceDisabled];
}

function isXenBacked(dev: Device): dev is Device & { xen: XenBackedDevice } {
  return dev.xen !== undefined;
}

export class DeviceManager extends EventEmitter<DeviceManagerEvents> {
  private readonly byPath = new Map<string, Device>();
  private readonly byBackend = new Map<XenDevice, Device & { xen: XenBackedDevice }>();

  constructor(private readonly xen: XenNetContext) {
    super();
    xen.bus.on('state-changed', (xdev, side) => {
      const dev = this.byBackend.get(xdev);
      if (dev) this.emitState(dev, dev.xen, side);
    });
    xen.bus.on('device-disabled', (xdev, reason) => {
      const dev = this.byBackend.get(xdev);
      if (dev) this.emit('device-disabled', { dev, vif: dev.xen.label, reason });
    });
    // Backends a toolstack writes into xenstore become anonymous devices; a failure is thrown
    // back to the bus, which logs it.
    xen.bus.on('backend-discovered', (entry) => {
      if (entry.type === QNIC_TYPE) this.adopt((path) => createToolstackXenNetDevice(this.xen, path, entry));
    });
    xen.bus.enumerate(QNIC_TYPE);
  }

  /** device_add: `driver`, optional `bus` and `id`, the rest are the driver's properties. */
  add(args: Record<string, unknown>): Device {
    const { driver, bus, id, ...props } = args;
    if (typeof driver !== 'string') throw new VifdError('PARAM_MISSING', 'driver');
    const entry = schemas().get('device', driver);
    if (!entry) {
      throw ABSTRACT_DEVICE_TYPES.has(driver) ? new VifdError('DEVICE_TYPE_ABSTRACT', 'driver') : new VifdError('DEVICE_MODEL_INVALID', driver);
    }
    if (bus !== undefined && bus !== XEN_BUS_ID) throw new VifdError('BUS_NOT_FOUND', bus);
    if (id !== undefined) {
      if (typeof id !== 'string' || !isWellFormedId(id)) throw new VifdError('PARAM_NOT_IDENTIFIER', 'id');
      if (this.byPath.has(`${PERIPHERAL}/${id}`)) throw new VifdError('DEVICE_DUPLICATE_ID', id);
    }
    validateDeviceProperties(entry, props);

    const path = id !== undefined ? `${PERIPHERAL}/${id}` : this.anonPath();
    return this.track(path, this.create(driver, (id as string | undefined) ?? null, path, props));
  }

  /** device_del: by id or QOM path; completion is reported by 'device-deleted'. */
  del(idOrPath: string): void {
    const dev = this.find(idOrPath);
    if (!dev) {
      if (CONTAINERS.has(idOrPath)) throw new VifdError('DEVICE_NOT_A_DEVICE', idOrPath);
      throw new VifdError('DEVICE_NOT_FOUND', idOrPath);
    }
    if (dev.unplugPending) throw new VifdError('DEVICE_UNPLUG_PENDING', dev.id ?? dev.path);
    dev.requestUnplug();
  }

  find(idOrPath: string): Device | undefined {
    return idOrPath.startsWith('/') ? this.byPath.get(idOrPath) : this.byPath.get(`${PERIPHERAL}/${idOrPath}`);
  }

  list(): Device[] {
    return [...this.byPath.values()];
  }

  /** Adopts a device created from below (a toolstack writing xenstore keys). */
  adopt(make: (path: string) => Device): Device {
    const path = this.anonPath();
    return this.track(path, make(path));
  }

  private track(path: string, dev: Device): Device {
    this.byPath.set(path, dev);
    if (isXenBacked(dev)) this.byBackend.set(dev.xen.backend, dev);
    dev.onGone(() => {
      this.byPath.delete(path);
      if (dev.xen) this.byBackend.delete(dev.xen.backend);
      this.emit('device-deleted', { device: dev.id, path });
    });
    this.emit('device-added', dev);
    // The states it reached while realizing happened before anyone could know the device.
    if (dev.xen) this.emitState(dev, dev.xen, 'backend');
    return dev;
  }

  private emitState(dev: Device, xen: XenBackedDevice, side: StateSide): void {
    const b = xen.backend;
    this.emit('state-changed', { dev, vif: xen.label, side, state: side === 'backend' ? b.backendState : b.frontendState });
  }

  private create(driver: string, id: string | null, path: string, props: Record<string, unknown>): Device {
    switch (driver) {
      case XEN_NET_DEVICE:
        return createXenNetDevice(this.xen, id, path, props);
      default:
        throw new VifdError('DEVICE_MODEL_INVALID', driver);
    }
  }

  /** QEMU names anonymous children device[N] with the lowest free N. */
  private anonPath(): string {
    for (let n = 0; ; n++) {
      const path = `${PERIPHERAL_ANON}/device[${n}]`;
      if (!this.byPath.has(path)) return path;
    }
  }
}
