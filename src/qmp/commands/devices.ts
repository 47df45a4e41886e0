// device_add / device_del over the device model, and DEVICE_DELETED when a device is gone.

import { VifdError } from '../../common/errors.js';
import { xenbusStateName } from '../../protocol/xenbus.js';
import type { DeviceManager } from '../../devices/device-manager.js';
import { argumentError, floatForIntegerError } from '../../schema/qapi-errors.js';
import { schemas } from '../../schema/registry.js';
import type { Args, Dispatcher } from '../dispatcher.js';
import { isJsonFloat } from '../plain.js';
import type { EventBus } from '../events.js';

export function registerDeviceCommands(d: Dispatcher, events: EventBus, devices: DeviceManager): void {
  // Like QEMU's device_add ('gen': false), the handler checks `driver` before the common members,
  // so `"driver": 7` reads as missing, as it does in QEMU.
  // Its declared members (driver, bus, id) are typed once checked; the driver's own properties
  // stay a raw record for the device model, which checks them against schema/devices/<driver>.json.
  d.registerRaw('device_add', (args, ctx) => {
    if (typeof args['driver'] !== 'string') throw new VifdError('PARAM_MISSING', 'driver');
    const common = { driver: args['driver'], ...pick(args, ['bus', 'id']) };
    if (!d.isArgs('device_add', common)) {
      const entry = schemas().require('command', 'device_add');
      throw argumentError(entry.schema, common, entry.validate.errors);
    }
    // A float token (1.0) for an integer property: QEMU's visitor refuses it before any other check.
    const driver = schemas().get('device', common.driver);
    if (ctx.raw !== undefined && driver) {
      const e = floatForIntegerError(driver.schema, ctx.raw, isJsonFloat);
      if (e) throw e;
    }
    devices.add(args);
    return {};
  });

  d.register('device_del', ({ id }) => {
    devices.del(id);
    return {};
  });

  devices.on('device-deleted', ({ device, path }) => {
    events.emit('DEVICE_DELETED', device !== null ? { device, path } : { path });
  });
  devices.on('state-changed', ({ dev, vif, side, state }) => {
    events.emit('__com.vifd_VIF_STATE', {
      ...(dev.id !== null ? { device: dev.id } : {}), path: dev.path, vif, side, state, 'state-name': xenbusStateName(state),
    });
  });
}

function pick(args: Args, keys: string[]): Args {
  const out: Args = {};
  for (const k of keys) if (k in args) out[k] = args[k];
  return out;
}
