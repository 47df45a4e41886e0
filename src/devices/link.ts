// set_link as QEMU's qmp_set_link: `name` is a netdev id or a NIC (device) id. A netdev's link
// carries over to the device using it (a NIC peer follows its netdev); a device's link is its
// own. For a vif the guest sees the result (backend link-state, its carrier) and the host sees
// the tap's carrier.

import { VifdError } from '../common/errors.js';
import type { NetdevRegistry } from '../backend/net/netdevs.js';
import type { DeviceManager } from './device-manager.js';
import { PERIPHERAL } from './device-manager.js';

export function setLink(devices: DeviceManager, netdevs: NetdevRegistry, name: string, up: boolean): void {
  let found = false;
  if (netdevs.get(name)) {
    found = true;
    netdevs.setLink(name, up);
    const owner = netdevs.ownerOf(name);
    const dev = owner !== null ? devices.find(owner) : undefined;
    dev?.setLink?.(up);
  }
  // NIC names are device ids; QOM paths are not net client names.
  const dev = name.startsWith('/') ? undefined : devices.find(`${PERIPHERAL}/${name}`);
  if (dev?.setLink) {
    found = true;
    dev.setLink(up);
  }
  if (!found) throw new VifdError('DEVICE_NOT_FOUND', name);
}
