// netdev_add / netdev_del / set_link, and the stream netdevs' connection events.

import type { NetdevRegistry } from '../../backend/net/netdevs.js';
import type { DeviceManager } from '../../devices/device-manager.js';
import { setLink } from '../../devices/link.js';
import { addNetdev } from '../../devices/netdev-config.js';
import type { Dispatcher } from '../dispatcher.js';
import type { EventBus } from '../events.js';

export function registerNetdevCommands(d: Dispatcher, events: EventBus, netdevs: NetdevRegistry,
  devices: DeviceManager): void {
  // A flat union on `type`: the netdev model validates against the type's own schema
  // (schema/netdevs), in QEMU's order, so the arguments go to it as they came.
  d.registerRaw('netdev_add', async (args) => {
    await addNetdev(netdevs, args);
    return {};
  });

  d.register('netdev_del', ({ id }) => {
    netdevs.remove(id);
    return {};
  });

  d.register('set_link', ({ name, up }) => {
    setLink(devices, netdevs, name, up);
    return {};
  });

  netdevs.on('stream-connected', (id, addr) => {
    events.emit('NETDEV_STREAM_CONNECTED', { 'netdev-id': id, addr: { ...addr } });
  });
  netdevs.on('stream-disconnected', (id) => events.emit('NETDEV_STREAM_DISCONNECTED', { 'netdev-id': id }));
}
