// The qnic backend (QEMU's hw/net/xen_nic.c on XenDevice): realize writes the MAC into the
// frontend and the rx-copy features into the backend; connect maps both rings and binds the
// event channel once the frontend is Connected; the tx and rx paths do the rest.

import { formatMac } from '../../common/mac.js';
import { BackRing, SharedRing } from '../../protocol/ring.js';
import { XenbusState } from '../../protocol/xenbus.js';
import { RX_SLOT_SIZE, TX_SLOT_SIZE } from '../../protocol/netif.js';
import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';
import type { GrantMapping } from '../../xen/grant-table.js';
import { VifHotplug } from '../hotplug.js';
import type { NetClient } from '../net/net-client.js';
import { PcapWriter } from '../net/pcap-writer.js';
import { XenDevice } from '../xen-device.js';
import type { XenBus } from '../xen-bus.js';
import type { DeviceAddress } from '../xen-paths.js';
import { newCounters, type VifCounters } from './counters.js';
import { NO_RX_FEATURES, type RxFeatures } from './offload.js';
import { describeRing, type RingInfo } from './ring-info.js';
import { NetbackRx } from './rx.js';
import { NetbackTx } from './tx.js';

export const QNIC_TYPE = 'qnic';
export const VIF_CLASS = 'vif';

export interface XenNetDeviceOptions {
  mac: Uint8Array;
  peer: NetClient | null;
  /** Close the peer when the device goes (a tap the device created for itself). */
  ownsPeer: boolean;
  /** The link at creation (a netdev already set down gives a vif whose link is down). */
  linkUp?: boolean;
}

/** vifd's backend key for set_link: 1 up, 0 down; the guest's netfront shows it as its carrier. */
export const LINK_STATE_KEY = 'link-state';

interface Connection {
  txRef: number;
  rxRef: number;
  remotePort: number;
  port: number;
  maps: GrantMapping[];
  tx: NetbackTx;
  rx: NetbackRx;
  txRing: BackRing;
  rxRing: BackRing;
}

/** Offloads a backend advertises only when its peer carries a virtio_net_hdr (as QEMU's virtio-net). */
const OFFLOAD_FEATURES = ['feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload'] as const;

export class XenNetDevice extends XenDevice {
  readonly stats: VifCounters = newCounters();
  readonly mac: Uint8Array;
  readonly peer: NetClient | null;
  private readonly ownsPeer: boolean;
  private conn: Connection | null = null;
  /** Set by a fatal guest error: the vif stops servicing its rings (netback's `disabled`). */
  disabledReason: string | null = null;
  /** set_link: while false, frames are dropped both ways (QEMU's link_down). */
  linkUp: boolean;

  constructor(bus: XenBus, address: Omit<DeviceAddress, 'type' | 'frontendClass'>, opts: XenNetDeviceOptions) {
    super(bus, { ...address, type: QNIC_TYPE, frontendClass: VIF_CLASS }, 'xen-net-device');
    this.mac = opts.mac;
    this.peer = opts.peer;
    this.ownsPeer = opts.ownsPeer;
    this.linkUp = opts.linkUp ?? true;
  }

  get vifName(): string {
    return `vif${this.address.frontendId}.${this.address.devid}`;
  }

  get connection(): Readonly<Pick<Connection, 'txRef' | 'rxRef' | 'remotePort' | 'port'>> | null {
    return this.conn;
  }

  /** The backend's hotplug script (a toolstack's `script` key), once realized. */
  hotplug: VifHotplug | null = null;

  /** Realizes, then starts the hotplug script the toolstack named in `script`, if any. */
  override realize(opts: { toolstackCreated?: boolean } = {}): void {
    super.realize(opts);
    const script = this.xs.readString(`${this.backendPath}/script`);
    if (!script) return;
    const emulated = this.xs.readString(`${this.backendPath}/type`) === 'vif_ioemu';
    const ifname = (this.peer as { ifname?: string } | null)?.ifname ?? this.vifName;
    this.hotplug = new VifHotplug(this, script, emulated, ifname, this.bus.hotplugEnv);
    this.hotplug.start();
  }

  protected realizeDevice(): void {
    this.xs.write(`${this.frontendPath}/mac`, formatMac(this.mac));
    this.xs.write(`${this.backendPath}/mac`, formatMac(this.mac));
    this.xs.write(`${this.backendPath}/feature-rx-copy`, '1');
    this.xs.write(`${this.backendPath}/feature-rx-flip`, '0');
    // Both paths take multi-slot packets (tx: 1 + 18 slots, as netback; rx: with the
    // frontend's feature-sg). GSO and IPv6 checksum offload need a peer that can carry them.
    this.xs.write(`${this.backendPath}/feature-sg`, '1');
    if (this.peer?.vnetHdr) for (const key of OFFLOAD_FEATURES) this.xs.write(`${this.backendPath}/${key}`, '1');
    this.xs.write(`${this.backendPath}/${LINK_STATE_KEY}`, this.linkUp ? '1' : '0');
    if (!this.linkUp) this.peer?.setCarrier?.(false);
    this.peer?.setReceiver((frame, hdr) => this.receive(frame, hdr));
  }

  protected connect(): void {
    const fe = this.frontendPath;
    const txRef = this.readUint(`${fe}/tx-ring-ref`, 'tx-ring-ref');
    const rxRef = this.readUint(`${fe}/rx-ring-ref`, 'rx-ring-ref');
    const remotePort = this.readUint(`${fe}/event-channel`, 'event-channel');
    if (this.xs.readString(`${fe}/request-rx-copy`) !== '1') throw new Error("frontend doesn't support rx-copy");
    const features = this.frontendFeatures();

    const hv = this.bus.hypervisor;
    const grants = hv.grantTable(this.address.frontendId);
    const backend = this.address.backendDomid;
    const maps: GrantMapping[] = [];
    try {
      maps.push(mapRing(() => grants.map(backend, txRef, true), 'tx'));
      maps.push(mapRing(() => grants.map(backend, rxRef, true), 'rx'));
      const port = hv.evtchn.bindInterdomain(backend, this.address.frontendId, remotePort);
      const txRing = BackRing.attach(new SharedRing(maps[0]!.page, TX_SLOT_SIZE));
      const rxRing = BackRing.attach(new SharedRing(maps[1]!.page, RX_SLOT_SIZE));
      const tx = new NetbackTx(txRing, grants, backend, (frame, hdr) => this.transmit(frame, hdr), this.stats, this.log,
        (msg) => this.disable(msg), this.peer?.vnetHdr ?? false);
      const rx = new NetbackRx(rxRing, grants, backend, this.stats, this.log, features);
      this.conn = { txRef, rxRef, remotePort, port, maps, tx, rx, txRing, rxRing };
      hv.evtchn.setHandler(backend, port, () => this.onEvent());
      this.log.info(`connected: tx-ring-ref ${txRef} rx-ring-ref ${rxRef} port ${remotePort} (local ${port})`);
    } catch (err) {
      for (const m of maps) m.unmap();
      throw err;
    }
    // The kernel hands the tap only the offloaded frames this frontend takes (netback's
    // xenvif_fix_features: TSO needs scatter-gather and the checksum offload of its family).
    this.peer?.setOffloads?.({
      csum: features.ipCsum || features.ipv6Csum,
      tso4: features.gsoTcpv4 && features.sg && features.ipCsum,
      tso6: features.gsoTcpv6 && features.sg && features.ipv6Csum,
    });
    // A fresh connection is serviced again (netback clears `disabled` on reconnect).
    if (this.disabledReason !== null && this.linkUp) this.peer?.setCarrier?.(true);
    this.disabledReason = null;
    this.onEvent();
  }

  protected disconnect(): void {
    const c = this.conn;
    if (!c) return;
    this.conn = null;
    c.tx.stop();
    this.peer?.setOffloads?.({ csum: false, tso4: false, tso6: false });
    try {
      this.bus.hypervisor.evtchn.close(this.address.backendDomid, c.port);
    } catch (err) {
      this.log.warn(`closing event channel ${c.port} failed: ${(err as Error).message}`);
    }
    for (const m of c.maps) m.unmap();
    this.log.info('disconnected');
  }

  override destroy(): void {
    if (!this.destroyed) this.hotplug?.stop();
    this.stopCapture();
    super.destroy();
    this.peer?.setReceiver(null);
    if (this.ownsPeer) this.peer?.close();
  }

  /** The pcap file both directions' frames are copied to (QEMU's filter-dump), if any. */
  capture: PcapWriter | null = null;

  /** Starts capturing to a new pcap file at `path`; throws the open error. */
  startCapture(path: string, snaplen?: number): void {
    this.stopCapture();
    this.capture = new PcapWriter(path, snaplen);
    this.log.info(`capturing to ${path}`);
  }

  /** Stops capturing; returns how many frames were written, or null if none was running. */
  stopCapture(): number | null {
    const w = this.capture;
    if (!w) return null;
    this.capture = null;
    w.close();
    this.log.info(`capture to ${w.path} stopped: ${w.frames} frames`);
    return w.frames;
  }

  /** Ring occupancy for operators (netback's io_ring): indices with deltas; null while unconnected. */
  ringInfo(): { tx: RingInfo; rx: RingInfo; rxQueued: number } | null {
    const c = this.conn;
    if (!c) return null;
    return { tx: describeRing(c.txRing), rx: describeRing(c.rxRing), rxQueued: c.rx.queued };
  }

  /**
   * Netback's io_ring "kick": service both rings now and raise the frontend's event channel,
   * whatever the event indices say. A disabled vif stays disabled. Returns whether it ran.
   */
  kick(): boolean {
    const c = this.conn;
    if (!c || this.disabledReason !== null) return false;
    this.onEvent();
    if (this.conn === c && this.disabledReason === null) this.notify(c);
    return true;
  }

  /**
   * set_link: the guest sees it through `link-state` (its carrier), the host through the tap's
   * carrier; frames are dropped both ways meanwhile. Idempotent.
   */
  setLink(up: boolean): void {
    if (this.destroyed) return;
    const changed = up !== this.linkUp;
    this.linkUp = up;
    // A disabled vif keeps its carrier off whatever the link says.
    this.peer?.setCarrier?.(up && this.disabledReason === null);
    try {
      this.xs.write(`${this.backendPath}/${LINK_STATE_KEY}`, up ? '1' : '0');
    } catch (err) {
      this.log.warn(`could not publish ${LINK_STATE_KEY}: ${(err as Error).message}`);
    }
    if (changed) this.log.info(`link ${up ? 'up' : 'down'}`);
  }

  /** A frame the guest sent, towards the host side. */
  private transmit(frame: Uint8Array, hdr?: VirtioNetHdr): void {
    if (!this.linkUp) {
      this.stats.txDropped++;
      return;
    }
    this.capture?.write(frame);
    if (this.peer && !this.peer.send(frame, hdr)) this.stats.txDropped++;
  }

  /**
   * The frontend's offload keys, read at connect as netback's connect_data_rings/read_xenbus_vif_flags:
   * IPv4 checksum offload unless it says feature-no-csum-offload; the rest only when it says so,
   * and only with a peer that can carry offloaded frames at all.
   */
  private frontendFeatures(): RxFeatures {
    const flag = (key: string) => this.xs.readString(`${this.frontendPath}/${key}`) === '1';
    const sg = flag('feature-sg');
    if (!this.peer?.vnetHdr) return { ...NO_RX_FEATURES, sg };
    return {
      sg,
      gsoTcpv4: flag('feature-gso-tcpv4'),
      gsoTcpv6: flag('feature-gso-tcpv6'),
      ipCsum: !flag('feature-no-csum-offload'),
      ipv6Csum: flag('feature-ipv6-csum-offload'),
    };
  }

  private receive(frame: Uint8Array, hdr?: VirtioNetHdr): void {
    const c = this.conn;
    if (!c || !this.linkUp || this.disabledReason !== null || this.backendState !== XenbusState.Connected) {
      this.stats.rxDropped++;
      return;
    }
    this.capture?.write(frame);
    if (c.rx.receive(frame, hdr)) this.notify(c);
  }

  private onEvent(): void {
    const c = this.conn;
    if (!c || this.disabledReason !== null) return;
    const txNotify = c.tx.process();
    if (this.conn !== c || this.disabledReason !== null) return;
    const rxNotify = c.rx.flush();
    if (txNotify || rxNotify) this.notify(c);
  }

  private notify(c: Connection): void {
    this.bus.hypervisor.evtchn.send(this.address.backendDomid, c.port);
  }

  /**
   * A fatal guest error, as netback's xenvif_fatal_tx_err(): stop servicing this vif's rings
   * (others are unaffected), turn the host side's carrier off and report it where the toolstack
   * looks (the `error` node) and to management (the bus event). The xenstore state is left as
   * it is: tearing down is the toolstack's or the frontend's business.
   */
  private disable(message: string): void {
    if (this.disabledReason !== null) return;
    this.disabledReason = message;
    this.conn?.tx.stop();
    this.peer?.setCarrier?.(false);
    this.recordError(22, `fatal error; disabling device: ${message}`);
    this.bus.deviceDisabled(this, message);
  }

  private readUint(path: string, key: string): number {
    const text = this.xs.readString(path);
    if (text === undefined || !/^\d+$/.test(text)) throw new Error(`failed to read ${key}`);
    return Number(text);
  }
}

function mapRing(map: () => GrantMapping, which: string): GrantMapping {
  try {
    return map();
  } catch (err) {
    throw new Error(`failed to map ${which} grant ref: ${(err as Error).message}`);
  }
}
