// The Xen bus of the backend domain (QEMU's xen-bus): one privileged xenstore connection shared
// by its devices, watch dispatch by token, the registry of backend instances keyed by
// (type, frontend, devid), deferred cleanup of devices that went offline or whose frontend's
// domain is gone, and the enumeration of backends a toolstack creates through xenstore alone
// (QEMU's xen_bus_enumerate, hw/xen/xen-bus.c). The bus does not create those devices itself:
// it reports them ('backend-discovered') to the device model above. It reaches the platform
// only through the seam (xen/backend-ops.ts).

import { EventEmitter } from 'node:events';
import { errorCode, errorMessage } from '../common/errors.js';
import { Logger } from '../common/log.js';
import type { BackendPlatform } from '../xen/backend-ops.js';
import type { XsHandle } from '../xen/xenstore/index.js';
import { findBackendCandidates, type DiscoveredBackend } from './backend-enumeration.js';
import type { DatapathThread } from './netback/datapath-thread.js';
import type { XenDevice } from './xen-device.js';
import { backendAreaPath, deviceName, type DeviceAddress } from './xen-paths.js';

export type { DiscoveredBackend } from './backend-enumeration.js';

export type StateSide = 'backend' | 'frontend';

export interface XenBusEvents {
  /** A device's backend or frontend state changed. */
  'state-changed': [dev: XenDevice, side: StateSide];
  /** A device was destroyed (after unplug, or by a toolstack setting online=0). */
  'device-destroyed': [dev: XenDevice];
  /**
   * A toolstack asked for a backend (state 1, online 1, no instance yet). A listener creates
   * and plugs the device, or throws why it cannot; the bus logs that and does not ask again
   * until the entry changes.
   */
  'backend-discovered': [entry: DiscoveredBackend];
  /** A device stopped servicing its frontend after a fatal guest error (netback's `disabled`). */
  'device-disabled': [dev: XenDevice, reason: string];
}

export class XenBus extends EventEmitter<XenBusEvents> {
  private readonly devices = new Map<string, XenDevice>();
  private readonly watches = new Map<string, { path: string; handler: () => void }>();
  private nextToken = 1;
  private cleanupScheduled = false;
  /** Entries whose creation failed, with what they held then: retried only once they change. */
  private readonly refused = new Map<string, string>();
  /** Extra environment for hotplug scripts (XENSTORED_PATH when vifd serves a socket). */
  hotplugEnv: Readonly<Record<string, string>> = {};
  /**
   * multi-queue-max-queues for vifs realized from now on (netback's max_queues module
   * parameter); undefined: netback's default, one per CPU up to 8.
   */
  maxQueues: number | undefined = undefined;
  /** Where vifs realized from now on run their rings and tap I/O; null: on the main thread. */
  datapathThread: DatapathThread | null = null;
  private readonly log = new Logger('xen-bus');

  readonly backendDomid: number;
  private readonly stopWatchingDomains: () => void;

  constructor(readonly xs: XsHandle, readonly platform: BackendPlatform) {
    super();
    this.backendDomid = platform.backendDomid;
    xs.onWatchEvent = (_path, token) => this.dispatchWatch(token);
    this.stopWatchingDomains = platform.domains.onGone((domid) => this.domainGone(domid));
  }

  /**
   * A frontend's domain went (destroyed, crashed, shut down): its devices go with it, as
   * netback's do once the toolstack tears the domain down, whatever their state.
   */
  private domainGone(domid: number): void {
    for (const dev of this.devices.values()) {
      if (dev.address.frontendId !== domid) continue;
      this.log.info(`${deviceName(dev.address)}: domain ${domid} is gone`);
      dev.frontendGone();
      this.goneAreas.add(`${backendAreaPath(this.backendDomid, dev.address.type)}/${domid}`);
    }
    if (this.goneAreas.size > 0) this.scheduleCleanup();
  }

  /**
   * Backend areas of gone domains (backend/<type>/<domid>), removed once their devices are:
   * nothing will ever serve that domain again, as libxl removes them when it destroys one.
   */
  private readonly goneAreas = new Set<string>();

  private removeGoneAreas(): void {
    for (const area of this.goneAreas) {
      this.goneAreas.delete(area);
      try {
        if (this.xs.directory(area).length === 0) this.xs.rm(area);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') this.log.warn(`could not remove ${area}: ${errorMessage(err)}`);
      }
    }
  }

  exists(a: Pick<DeviceAddress, 'type' | 'frontendId' | 'devid'>): boolean {
    return this.devices.has(`${a.type}/${a.frontendId}/${a.devid}`);
  }

  /** Registers and realizes; an instance for the same (type, frontend, devid) is refused. */
  plug(dev: XenDevice, opts: { toolstackCreated?: boolean } = {}): void {
    const key = deviceName(dev.address);
    if (this.devices.has(key)) throw new Error(`backend ${key} already exists`);
    this.devices.set(key, dev);
    try {
      dev.realize(opts);
    } catch (err) {
      this.devices.delete(key);
      throw err;
    }
  }

  list(): XenDevice[] {
    return [...this.devices.values()];
  }

  watch(path: string, handler: () => void): string {
    const token = `vifd-${this.nextToken++}`;
    this.watches.set(token, { path, handler });
    this.xs.watch(path, token);
    return token;
  }

  unwatch(token: string): void {
    const w = this.watches.get(token);
    if (!w) return;
    this.watches.delete(token);
    try {
      this.xs.unwatch(w.path, token);
    } catch (err) {
      this.log.warn(`unwatch ${w.path} failed: ${(err as Error).message}`);
    }
  }

  /**
   * Watches `backend/<type>` of the backend domain and reports every entry a toolstack writes
   * there (the initial watch event covers entries that exist already). Returns the watch token.
   */
  enumerate(type: string): string {
    const area = backendAreaPath(this.backendDomid, type);
    return this.watch(area, () => {
      this.discover(type, area);
      this.scheduleCleanup();
    });
  }

  private discover(type: string, area: string): void {
    const seen = new Set<string>();
    for (const entry of findBackendCandidates(this.xs, area, type)) {
      const key = `${type}/${entry.frontendId}/${entry.devid}`;
      seen.add(key);
      if (this.exists(entry)) continue;
      const signature = JSON.stringify(entry.options);
      if (this.refused.get(key) === signature) continue;
      this.log.info(`${key}: a toolstack asks for this backend`);
      try {
        this.emit('backend-discovered', entry);
        this.refused.delete(key);
      } catch (err) {
        this.refused.set(key, signature);
        this.log.error(`failed to create '${type}' device '${entry.frontendId}/${entry.devid}': ${(err as Error).message}`);
      }
    }
    for (const key of this.refused.keys()) if (key.startsWith(`${type}/`) && !seen.has(key)) this.refused.delete(key);
  }

  stateChanged(dev: XenDevice, side: StateSide): void {
    this.emit('state-changed', dev, side);
  }

  /** Reports a device disabled by a fatal guest error. */
  deviceDisabled(dev: XenDevice, reason: string): void {
    this.emit('device-disabled', dev, reason);
  }

  /** Destruction is deferred to a later turn: nothing frees itself inside its own watch callback. */
  scheduleCleanup(): void {
    if (this.cleanupScheduled) return;
    this.cleanupScheduled = true;
    setImmediate(() => {
      this.cleanupScheduled = false;
      for (const [key, dev] of this.devices) {
        if (!dev.inactive) continue;
        this.devices.delete(key);
        dev.destroy();
        this.emit('device-destroyed', dev);
      }
      this.removeGoneAreas();
    });
  }

  /** Destroys every device at once (server exit): directories removed, taps closed. */
  destroyAll(): void {
    this.stopWatchingDomains();
    for (const [key, dev] of this.devices) {
      this.devices.delete(key);
      dev.destroy();
      this.emit('device-destroyed', dev);
    }
  }

  private dispatchWatch(token: string): void {
    const w = this.watches.get(token);
    if (!w) return;
    try {
      w.handler();
    } catch (err) {
      this.log.error(`watch ${token} handler failed: ${(err as Error).stack ?? String(err)}`);
    }
  }
}
