// The `xen-net-device` type: turns validated properties into a qnic backend on the Xen bus.
// idx allocation, netdev ownership and the default tap live here; the datapath lives in
// backend/netback.

import { errorCode, VifdError } from '../common/errors.js';
import { Logger } from '../common/log.js';
import { formatMac, parseMac, randomXenMac } from '../common/mac.js';
import type { NetClient } from '../backend/net/net-client.js';
import type { NetdevRegistry } from '../backend/net/netdevs.js';
import { TapNetClient } from '../backend/net/tap.js';
import { QNIC_TYPE, VIF_CLASS, XenNetDevice } from '../backend/netback/xen-net-device.js';
import type { XenBus } from '../backend/xen-bus.js';
import { frontendClassPath } from '../backend/xen-paths.js';
import { xenbusStateName } from '../protocol/xenbus.js';
import type { Device } from './device.js';

export const XEN_NET_DEVICE = 'xen-net-device';
/** DOMID_INVALID: the property's "unset" value, meaning the default frontend domain. */
export const FRONTEND_ID_UNSET = 32756;
/** QEMU gives up probing for a free vif index here ("cannot find device index"). */
const MAX_AUTO_INDEX = 100;

/** The domains a device may serve as frontends. */
export interface FrontendDomains {
  /** The domain a device without frontend-id= serves (the first guest, or -xen-domid); undefined: none. */
  defaultId(): number | undefined;
  exists(domid: number): boolean;
  /**
   * Where probing for a free vif index starts: 0 on an emulated Xen, 1 on a real one, where
   * the toolstack's own vif takes 0 (QEMU's xen_netdev_get_name).
   */
  readonly firstAutoIndex: number;
}

export interface XenNetContext {
  bus: XenBus;
  netdevs: NetdevRegistry;
  frontends: FrontendDomains;
  /** Creates the tap a device without netdev= gets; null runs the vif without a peer. */
  createTap?(ifname: string): NetClient | null;
}

const log = new Logger(XEN_NET_DEVICE);
let warnedNoTap = false;

/** Default tap factory: `vif<domid>.<devid>`, or no peer (one warning) without CAP_NET_ADMIN. */
export function defaultCreateTap(ifname: string): NetClient | null {
  try {
    // With a virtio_net_hdr, so the guest can be offered checksum offload and GSO.
    return new TapNetClient(ifname, { id: ifname, ifname, vnetHdr: true });
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EPERM' || code === 'EACCES' || code === 'ENOENT' || code === 'ENODEV') {
      if (!warnedNoTap) {
        warnedNoTap = true;
        log.warn(`cannot create tap ${ifname} (${(err as Error).message}): vifs run without a host-side peer; ` +
          'run vifd with CAP_NET_ADMIN to get taps');
      }
      return null;
    }
    throw VifdError.wrapping(err, 'NETDEV_OPEN_FAILED', `could not create tap ${ifname}: ${(err as Error).message}`);
  }
}

export class XenNetDeviceModel implements Device {
  readonly typeName = XEN_NET_DEVICE;
  readonly xen: { backend: XenNetDevice; label: string };
  private pending = false;
  private readonly goneListeners: Array<() => void> = [];

  constructor(readonly id: string | null, readonly path: string, readonly backend: XenNetDevice,
    private readonly netdevId: string | null, private readonly netdevs: NetdevRegistry) {
    this.xen = { backend, label: backend.vifName };
    backend.onDestroyed(() => {
      if (this.netdevId) {
        this.netdevs.release(this.netdevId, backend.peer);
        // The netdev outlives the device: its host side shows its own link again.
        if (this.netdevs.get(this.netdevId) === backend.peer) backend.peer?.setCarrier?.(this.netdevs.linkUp(this.netdevId));
      }
      for (const fn of this.goneListeners) fn();
    });
  }

  get unplugPending(): boolean {
    return this.pending;
  }

  requestUnplug(): void {
    this.pending = true;
    this.backend.requestUnplug();
  }

  onGone(fn: () => void): void {
    this.goneListeners.push(fn);
  }

  /** The netdev this device uses (`netdev=`), or null for its own tap. */
  get netdev(): string | null {
    return this.netdevId;
  }

  get linkUp(): boolean {
    return this.backend.linkUp;
  }

  /** set_link on the device (or on its netdev): the guest sees the link go up or down. */
  setLink(up: boolean): void {
    this.backend.setLink(up);
  }

  properties(): Record<string, unknown> {
    const b = this.backend;
    return {
      'frontend-id': b.address.frontendId,
      idx: b.address.devid,
      mac: formatMac(b.mac),
      netdev: this.netdevId ?? '',
      vif: b.vifName,
      peer: b.peer ? `type=${b.peer.type},${b.peer.describe()}` : 'none',
      'backend-path': b.backendPath,
      'frontend-path': b.frontendPath,
      'backend-state': b.backendState,
      'backend-state-name': xenbusStateName(b.backendState),
      'frontend-state': b.frontendState,
      'frontend-state-name': xenbusStateName(b.frontendState),
      online: b.online,
      link: b.linkUp ? 'up' : 'down',
      disabled: b.disabledReason ?? '',
      stats: { ...b.stats },
    };
  }
}

/**
 * Realizes a xen-net-device from properties already checked against its schema. Every check
 * that can fail runs before anything is created; a failure while creating undoes what was made.
 */
export function createXenNetDevice(ctx: XenNetContext, id: string | null, path: string,
  props: Record<string, unknown>): XenNetDeviceModel {
  const fe = (props['frontend-id'] as number | undefined) ?? FRONTEND_ID_UNSET;
  const frontendId = fe === FRONTEND_ID_UNSET ? ctx.frontends.defaultId() : fe;
  if (frontendId === undefined || !ctx.frontends.exists(frontendId)) throw new VifdError('XEN_NO_GUEST', fe);

  const idx = (props['idx'] as number | undefined) ?? -1;
  const devid = idx === -1 ? allocateIndex(ctx.bus, frontendId, ctx.frontends.firstAutoIndex) : idx;
  if (idx !== -1 && indexInUse(ctx.bus, frontendId, idx)) throw new VifdError('XEN_VIF_INDEX_IN_USE', idx, frontendId);

  const mac = props['mac'] !== undefined ? parseMac(props['mac'] as string)! : randomXenMac();

  const netdevId = (props['netdev'] as string | undefined) ?? null;
  if (netdevId !== null) {
    if (!ctx.netdevs.get(netdevId)) throw new VifdError('PROPERTY_NETDEV_NOT_FOUND', XEN_NET_DEVICE, netdevId);
    if (ctx.netdevs.ownerOf(netdevId) !== null) throw new VifdError('PROPERTY_NETDEV_IN_USE', XEN_NET_DEVICE, netdevId);
  }

  const owner = id ?? path;
  const peer = netdevId !== null ? ctx.netdevs.claim(netdevId, owner, XEN_NET_DEVICE)
    : (ctx.createTap ?? defaultCreateTap)(`vif${frontendId}.${devid}`);
  const backend = new XenNetDevice(ctx.bus, { backendDomid: ctx.bus.backendDomid, frontendId, devid },
    { mac, peer, ownsPeer: netdevId === null, linkUp: netdevId === null || ctx.netdevs.linkUp(netdevId) });
  try {
    ctx.bus.plug(backend);
  } catch (err) {
    if (netdevId !== null) ctx.netdevs.release(netdevId);
    else peer?.close();
    throw err instanceof VifdError ? err : VifdError.wrapping(err, 'XEN_REALIZE_FAILED', `${XEN_NET_DEVICE}: ${(err as Error).message}`);
  }
  return new XenNetDeviceModel(id, path, backend, netdevId, ctx.netdevs);
}

function indexInUse(bus: XenBus, frontendId: number, devid: number): boolean {
  if (bus.exists({ type: QNIC_TYPE, frontendId, devid })) return true;
  try {
    bus.xs.read(`${frontendClassPath(frontendId, VIF_CLASS)}/${devid}`);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** As QEMU: the first /local/domain/<fe>/device/vif/<N> that does not exist, from `first`. */
function allocateIndex(bus: XenBus, frontendId: number, first: number): number {
  for (let n = first; n < MAX_AUTO_INDEX; n++) {
    if (!indexInUse(bus, frontendId, n)) return n;
  }
  throw new VifdError('XEN_VIF_INDEX_EXHAUSTED');
}
