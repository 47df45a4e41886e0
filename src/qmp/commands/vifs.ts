// vifd's views for dashboards: every vif as the host sees it (one row per xen-net-device) and
// every simulated guest with its vifs as the guest sees them.

import type { DeviceManager } from '../../devices/device-manager.js';
import { XenNetDeviceModel } from '../../devices/xen-net-device.js';
import type { GuestSummary } from '../../guest/guest.js';
import type { CommandReturns } from '../../schema/types.js';
import type { Dispatcher } from '../dispatcher.js';

export interface GuestSource {
  summary(): GuestSummary;
}

type VifInfo = CommandReturns<'__com.vifd_query-vifs'>[number];
type GuestInfo = CommandReturns<'__com.vifd_query-guests'>[number];

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function num(v: unknown): number {
  return isNumber(v) ? v : 0;
}

/**
 * A property of a device's properties() (a record the device model fills): what the row needs,
 * or an internal error naming it if the model ever gives something else.
 */
function prop<T>(p: Record<string, unknown>, name: string, is: (v: unknown) => v is T): T {
  const v = p[name];
  if (!is(v)) throw new Error(`vif property ${name} is ${JSON.stringify(v)}, not what __com.vifd_query-vifs returns`);
  return v;
}

export function vifRow(dev: { id: string | null; path: string; unplugPending: boolean; properties(): Record<string, unknown> }): VifInfo {
  const p = dev.properties();
  const counters = isRecord(p['stats']) ? p['stats'] : {};
  return {
    ...(dev.id !== null ? { id: dev.id } : {}),
    path: dev.path,
    vif: prop(p, 'vif', isString),
    'frontend-id': prop(p, 'frontend-id', isNumber),
    devid: prop(p, 'idx', isNumber),
    mac: prop(p, 'mac', isString),
    netdev: prop(p, 'netdev', isString),
    peer: prop(p, 'peer', isString),
    'backend-path': prop(p, 'backend-path', isString),
    'frontend-path': prop(p, 'frontend-path', isString),
    'backend-state': prop(p, 'backend-state', isNumber),
    'backend-state-name': prop(p, 'backend-state-name', isString),
    'frontend-state': prop(p, 'frontend-state', isNumber),
    'frontend-state-name': prop(p, 'frontend-state-name', isString),
    // Until a device type has set_link, its link is up.
    link: p['link'] === 'down' ? 'down' : 'up',
    'unplug-pending': dev.unplugPending,
    // The backend's counters (NetStats) under QMP's names.
    stats: {
      'rx-packets': num(counters['rxPackets']), 'rx-bytes': num(counters['rxBytes']),
      'rx-errors': num(counters['rxErrors']), 'rx-dropped': num(counters['rxDropped']),
      'tx-packets': num(counters['txPackets']), 'tx-bytes': num(counters['txBytes']),
      'tx-errors': num(counters['txErrors']), 'tx-dropped': num(counters['txDropped']),
    },
  };
}

function guestRow(g: GuestSummary): GuestInfo {
  return {
    domid: g.domid,
    name: g.name,
    running: g.running,
    vifs: g.vifs.map((v) => {
      return {
        devid: v.devid,
        ...(v.mac !== null ? { mac: v.mac } : {}),
        ...(v.address !== null ? { address: v.address } : {}),
        state: v.state,
        'backend-state': v.backendState,
        ...(v.backend !== null ? { backend: v.backend } : {}),
        // As Linux's netif_carrier_ok(): connected, and the backend's link (set_link) up.
        carrier: v.carrier && v.state === 'Connected',
        ...(v.broken !== null ? { broken: v.broken } : {}),
        ...(v.error !== null ? { error: v.error } : {}),
        ...(v.queues > 0 ? { queues: v.queues } : {}),
      };
    }),
  };
}

/** A vif's row, with the pcap capture it is writing, if any. */
function vifRowWithCapture(dev: XenNetDeviceModel): VifInfo {
  const capture = dev.backend.capture;
  return { ...vifRow(dev), ...(capture ? { capture: { file: capture.path, frames: capture.frames } } : {}) };
}

export function registerVifCommands(d: Dispatcher, devices: DeviceManager, guests: () => Iterable<GuestSource>): void {
  d.register('__com.vifd_query-vifs', () =>
    devices.list().filter((dev): dev is XenNetDeviceModel => dev instanceof XenNetDeviceModel).map(vifRowWithCapture));
  d.register('__com.vifd_query-guests', () =>
    [...guests()].map((g) => guestRow(g.summary())).sort((a, b) => a.domid - b.domid));
}
