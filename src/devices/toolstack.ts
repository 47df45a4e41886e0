// xen-net-devices a toolstack creates through xenstore alone (QEMU's xen_bus_enumerate, hw/xen/xen-bus.c): the bus reports a
// `backend/qnic/<fe>/<devid>` entry with state 1 and online 1, and this turns its keys into a
// device, as QEMU's xen_net_device_create does for `qnic`:
//
//   mac       mandatory: "no MAC address found" / "failed to parse MAC address"
//   vifname   the tap's name (libxl's key), else vif<fe>.<devid>
//   script    the hotplug script, run by the backend (backend/hotplug.ts)
//
// The device keeps the toolstack's backend keys (hotplug-status above all) and is anonymous:
// /machine/peripheral-anon/device[N]. A second instance for an existing (fe, devid) is refused.

import { VifdError } from '../common/errors.js';
import { parseMac } from '../common/mac.js';
import type { DiscoveredBackend } from '../backend/xen-bus.js';
import { QNIC_TYPE, XenNetDevice } from '../backend/netback/xen-net-device.js';
import { defaultCreateTap, XenNetDeviceModel, type XenNetContext } from './xen-net-device.js';

export { QNIC_TYPE };

export function createToolstackXenNetDevice(ctx: XenNetContext, path: string, entry: DiscoveredBackend): XenNetDeviceModel {
  const { frontendId, devid, options } = entry;
  if (ctx.bus.exists({ type: QNIC_TYPE, frontendId, devid })) throw new VifdError('XEN_VIF_INDEX_IN_USE', devid, frontendId);
  if (!ctx.frontends.exists(frontendId)) throw new VifdError('XEN_NO_GUEST', frontendId);
  const macText = options['mac'];
  if (macText === undefined) throw new VifdError('XEN_BACKEND_NO_MAC');
  const mac = parseMac(macText);
  if (!mac) throw new VifdError('XEN_BACKEND_BAD_MAC');

  const ifname = options['vifname'] || `vif${frontendId}.${devid}`;
  const peer = (ctx.createTap ?? defaultCreateTap)(ifname);
  const backend = new XenNetDevice(ctx.bus, { backendDomid: ctx.bus.backendDomid, frontendId, devid },
    { mac, peer, ownsPeer: true });
  try {
    ctx.bus.plug(backend, { toolstackCreated: true });
  } catch (err) {
    peer?.close();
    throw err instanceof VifdError ? err : VifdError.wrapping(err, 'XEN_REALIZE_FAILED', `xen-net-device: ${(err as Error).message}`);
  }
  return new XenNetDeviceModel(null, path, backend, null, ctx.netdevs);
}
