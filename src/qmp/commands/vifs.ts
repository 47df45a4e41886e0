// vifd's views for dashboards: every vif as the host sees it (one row per xen-net-device) and
// every simulated guest with its vifs as the guest sees them.

import type { DeviceManager } from '../../devices/device-manager.js';
import { XenNetDeviceModel } from '../../devices/xen-net-device.js';
import type { GuestSummary } from '../../guest/guest.js';
import type { Dispatcher } from '../dispatcher.js';

export interface GuestSource {
  summary(): GuestSummary;
}

const STATS: Array<[string, string]> = [
  ['rxPackets', 'rx-packets'], ['rxBytes', 'rx-bytes'], ['rxErrors', 'rx-errors'], ['rxDropped', 'rx-dropped'],
  ['txPackets', 'tx-packets'], ['txBytes', 'tx-bytes'], ['txErrors', 'tx-errors'], ['txDropped', 'tx-dropped'],
];

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

export function vifRow(dev: { id: string | null; path: string; unplugPending: boolean; properties(): Record<string, unknown> }): Record<string, unknown> {
  const p = dev.properties();
  const counters = (p['stats'] ?? {}) as Record<string, unknown>;
  const stats: Record<string, number> = {};
  for (const [from, to] of STATS) stats[to] = num(counters[from]);
  return {
    ...(dev.id !== null ? { id: dev.id } : {}),
    path: dev.path,
    vif: p['vif'],
    'frontend-id': p['frontend-id'],
    devid: p['idx'],
    mac: p['mac'],
    netdev: p['netdev'],
    peer: p['peer'],
    'backend-path': p['backend-path'],
    'frontend-path': p['frontend-path'],
    'backend-state': p['backend-state'],
    'backend-state-name': p['backend-state-name'],
    'frontend-state': p['frontend-state'],
    'frontend-state-name': p['frontend-state-name'],
    // Until a device type has set_link, its link is up.
    link: p['link'] === 'down' ? 'down' : 'up',
    'unplug-pending': dev.unplugPending,
    stats,
  };
}

function guestRow(g: GuestSummary): Record<string, unknown> {
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
function vifRowWithCapture(dev: XenNetDeviceModel): Record<string, unknown> {
  const capture = dev.backend.capture;
  return { ...vifRow(dev), ...(capture ? { capture: { file: capture.path, frames: capture.frames } } : {}) };
}

export function registerVifCommands(d: Dispatcher, devices: DeviceManager, guests: () => Iterable<GuestSource>): void {
  d.register('__com.vifd_query-vifs', () =>
    devices.list().filter((dev): dev is XenNetDeviceModel => dev instanceof XenNetDeviceModel).map(vifRowWithCapture));
  d.register('__com.vifd_query-guests', () =>
    [...guests()].map((g) => guestRow(g.summary())).sort((a, b) => (a['domid'] as number) - (b['domid'] as number)));
}
