// vifd's datapath commands for operators, after Linux netback's debugfs and QEMU's filter-dump:
// ring inspection (producer/consumer indices with deltas) and a kick, per-vif packet capture to
// a pcap file, and the event that reports a vif disabled by a fatal guest error.

import { VifdError } from '../../common/errors.js';
import type { Device } from '../../devices/device.js';
import type { DeviceManager } from '../../devices/device-manager.js';
import { XenNetDeviceModel } from '../../devices/xen-net-device.js';
import type { EventData } from '../../schema/types.js';
import type { Dispatcher } from '../dispatcher.js';
import type { EventBus } from '../events.js';
import { errorMessage } from './errors.js';

/** How an event names a device: its ID if it has one, and its QOM path. */
function deviceRef(dev: Device): Pick<EventData<'__com.vifd_VIF_DISABLED'>, 'device' | 'path'> {
  return { ...(dev.id !== null ? { device: dev.id } : {}), path: dev.path };
}

function findVif(devices: DeviceManager, id: string): XenNetDeviceModel {
  const dev = devices.find(id);
  if (!dev) throw new VifdError('DEVICE_NOT_FOUND', id);
  if (!(dev instanceof XenNetDeviceModel)) throw new VifdError('VIF_NOT_A_VIF', id);
  return dev;
}

export function registerVifDatapathCommands(d: Dispatcher, events: EventBus, devices: DeviceManager): void {
  devices.on('device-disabled', ({ dev, vif, reason }) => {
    events.emit('__com.vifd_VIF_DISABLED', { ...deviceRef(dev), vif, reason });
  });

  d.register('__com.vifd_vif-ring-info', ({ id }) => {
    const dev = findVif(devices, id);
    const b = dev.backend;
    const queues = b.ringInfo();
    const first = queues?.[0];
    return {
      vif: b.vifName,
      connected: queues !== null,
      disabled: b.disabledReason ?? '',
      // Queue 0 at the top level keeps the one-queue shape of this reply.
      ...(first ? { tx: first.tx, rx: first.rx, 'rx-queued': first.rxQueued } : {}),
      ...(queues ? {
        queues: queues.map((q) => ({
          id: q.id, 'split-event-channels': q.txPort !== q.rxPort, 'event-channel-tx': q.txPort,
          'event-channel-rx': q.rxPort, tx: q.tx, rx: q.rx, 'rx-queued': q.rxQueued, 'rx-stopped': q.rxStopped,
        })),
      } : {}),
    };
  });

  d.register('__com.vifd_vif-kick', ({ id }) => {
    const dev = findVif(devices, id);
    return { kicked: dev.backend.kick() };
  });

  d.register('__com.vifd_vif-capture-start', ({ id, file, snaplen }) => {
    const b = findVif(devices, id).backend;
    if (b.capture) throw new VifdError('VIF_CAPTURE_ACTIVE', id, b.capture.path);
    try {
      b.startCapture(file, snaplen);
    } catch (err) {
      throw new VifdError('VIF_CAPTURE_OPEN_FAILED', file, errorMessage(err));
    }
    return {};
  });

  d.register('__com.vifd_vif-capture-stop', ({ id }) => {
    const frames = findVif(devices, id).backend.stopCapture();
    if (frames === null) throw new VifdError('VIF_CAPTURE_NOT_ACTIVE', id);
    return { frames };
  });
}
