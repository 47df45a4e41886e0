// netdev_add / netdev_del / set_link, and the stream netdevs' connection events.

import type { NetdevRegistry } from '../../backend/net/netdevs.js';
import type { DeviceManager } from '../../devices/device-manager.js';
import { setLink } from '../../devices/link.js';
import { addNetdev } from '../../devices/netdev-config.js';
import type { Args, Dispatcher } from '../dispatcher.js';
import type { EventBus } from '../events.js';

export function registerNetdevCommands(d: Dispatcher, events: EventBus, netdevs: NetdevRegistry,
  devices: DeviceManager): void {
  // A flat union on `type`: the handler validates against the type's own schema, in QEMU's order.
  d.register('netdev_add', async (args: Args) => {
    await addNetdev(netdevs, args);
    return {};
  }, { validate: false });

  d.register('netdev_del', (args: Args) => {
    netdevs.remove(args['id'] as string);
    return {};
  });

  d.register('set_link', (args: Args) => {
    setLink(devices, netdevs, args['name'] as string, args['up'] as boolean);
    return {};
  });

  netdevs.on('stream-connected', (id, addr) => {
    events.emit('NETDEV_STREAM_CONNECTED', { 'netdev-id': id, addr: { ...addr } });
  });
  netdevs.on('stream-disconnected', (id) => events.emit('NETDEV_STREAM_DISCONNECTED', { 'netdev-id': id }));
}
