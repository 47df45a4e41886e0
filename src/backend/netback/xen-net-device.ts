// The qnic backend (QEMU's hw/net/xen_nic.c on XenDevice, with Linux netback's multi-queue):
// realize writes the MAC into the frontend and the features into the backend; connect reads
// what the frontend chose (queue-config.ts), maps each queue's rings and binds its event
// channel(s) once the frontend is Connected (queue-resources.ts), and starts the datapath on
// them (vif-datapath.ts), here or on the bus's datapath thread when it has one
// (datapath-thread.ts). This file is the control side: xenstore, the tap's carrier and
// offloads, fatal errors reported where the toolstack looks.

import { availableParallelism } from 'node:os';
import { EINVAL } from '../../common/errno.js';
import { formatMac } from '../../common/mac.js';
import { writeKeys } from '../../xen/xenstore/index.js';
import { XenbusState } from '../../protocol/xenbus.js';
import { VifHotplug } from '../hotplug.js';
import type { NetClient } from '../net/net-client.js';
import { XenDevice } from '../xen-device.js';
import type { XenBus } from '../xen-bus.js';
import type { DeviceAddress } from '../xen-paths.js';
import { newCounters, sharedCounters, type VifCounters } from './counters.js';
import { readFrontendConfig } from './queue-config.js';
import { acquireQueue, type HeldQueue } from './queue-resources.js';
import { parseRate, type TxRate } from './tx-credit.js';
import type { QueueInfo } from './queue.js';
import { type CaptureInfo, VifDatapath, type VifDatapathControl } from './vif-datapath.js';

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

/** Netback's xenvif_max_queues default: one per CPU, at most XENVIF_MAX_QUEUES (8). */
export function defaultMaxQueues(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** Offloads a backend advertises only when its peer carries a virtio_net_hdr (as QEMU's virtio-net). */
const OFFLOAD_FEATURES = ['feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload'] as const;

export class XenNetDevice extends XenDevice {
  readonly stats: VifCounters;
  readonly mac: Uint8Array;
  readonly peer: NetClient | null;
  private readonly ownsPeer: boolean;
  /** Made at realize; on the bus's datapath thread when there is one and the peer can move there. */
  private datapath: VifDatapathControl | null = null;
  private readonly threaded: boolean;
  /** The connected queues' rings and ports (xenvif's queues[]); empty while unconnected. */
  private held: HeldQueue[] = [];
  /** What realize advertises as multi-queue-max-queues (the bus's setting when the device was made). */
  private readonly maxQueues: number;
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
    // Peers other than a tap (hubs, sockets) live on the main thread, and so do their vifs' datapaths.
    this.threaded = bus.datapathThread !== null && (this.peer === null || this.peer.lendIo !== undefined);
    this.stats = this.threaded ? sharedCounters() : newCounters();
    this.maxQueues = Math.max(1, Math.floor(bus.maxQueues ?? defaultMaxQueues()));
  }

  get vifName(): string {
    return `vif${this.address.frontendId}.${this.address.devid}`;
  }

  /** Queue 0's refs and ports (the whole connection with one queue); null while unconnected. */
  get connection(): { txRef: number; rxRef: number; remotePort: number; port: number; queues: number } | null {
    const q = this.held[0]?.resources;
    if (!q) return null;
    const { txRef, rxRef, txPort: remotePort } = q.keys;
    return { txRef, rxRef, remotePort, port: q.txPort, queues: this.held.length };
  }

  /** Whether the rings and tap I/O run on the bus's datapath thread. */
  get onDatapathThread(): boolean {
    return this.threaded;
  }

  /** The backend's hotplug script (a toolstack's `script` key), once realized. */
  hotplug: VifHotplug | null = null;

  /**
   * Makes the datapath (the only part of realize that is not xenstore), realizes, then starts
   * the hotplug script the toolstack named in `script`, if any.
   */
  override realize(opts: { toolstackCreated?: boolean } = {}): void {
    this.datapath = this.makeDatapath();
    try {
      super.realize(opts);
    } catch (err) {
      this.datapath.close();
      this.datapath = null;
      throw err;
    }
    if (!this.linkUp) this.peer?.setCarrier?.(false);
    const script = this.xs.readString(`${this.backendPath}/script`);
    if (!script) return;
    const emulated = this.xs.readString(`${this.backendPath}/type`) === 'vif_ioemu';
    const ifname = (this.peer as { ifname?: string } | null)?.ifname ?? this.vifName;
    this.hotplug = new VifHotplug(this, script, emulated, ifname, this.bus.hotplugEnv);
    this.hotplug.start();
  }

  protected realizeDevice(tx: number): void {
    this.xs.write(`${this.frontendPath}/mac`, formatMac(this.mac), tx);
    const keys: Record<string, string | number> = {
      mac: formatMac(this.mac), 'feature-rx-copy': 1, 'feature-rx-flip': 0,
      // Both paths take multi-slot packets (tx: 1 + 18 slots, as netback; rx: with the
      // frontend's feature-sg). GSO and IPv6 checksum offload need a peer that can carry them.
      'feature-sg': 1,
      // Multicast control, changeable while connected, as netback offers it (netif.h).
      'feature-multicast-control': 1, 'feature-dynamic-multicast-control': 1,
      'feature-split-event-channels': 1, 'multi-queue-max-queues': this.maxQueues, [LINK_STATE_KEY]: this.linkUp ? 1 : 0,
    };
    if (this.peer?.vnetHdr) for (const key of OFFLOAD_FEATURES) keys[key] = 1;
    writeKeys(this.xs, this.backendPath, keys, tx);
  }

  private makeDatapath(): VifDatapathControl {
    const { frontendId } = this.address;
    const onFatal = (message: string): void => this.disable(message);
    const thread = this.bus.datapathThread;
    if (this.threaded && thread) {
      this.log.info(`rings and tap I/O on datapath thread ${thread.name}`);
      return thread.attachVif({
        name: this.log.component, frontend: frontendId, peer: this.peer,
        stats: (this.stats as VifCounters & { buffer: SharedArrayBuffer }).buffer, linkUp: this.linkUp, onFatal,
      });
    }
    return new VifDatapath({
      dp: this.bus.platform.datapath, frontend: frontendId, peer: this.peer, stats: this.stats,
      log: this.log, linkUp: this.linkUp, onFatal,
    });
  }

  protected connect(): void {
    const peerVnetHdr = this.peer?.vnetHdr ?? false;
    const cfg = readFrontendConfig(this.xs, this.frontendPath, this.maxQueues, peerVnetHdr);
    const features = cfg.features;
    const { grants, evtchn } = this.bus.platform;
    // A datapath thread's ports are bound through its link, so their upcalls happen there.
    const binder = this.threaded && this.bus.datapathThread ? this.bus.datapathThread.evtchn : evtchn;
    const frontend = this.address.frontendId;
    try {
      for (const keys of cfg.queues) this.held.push(acquireQueue(grants, binder, frontend, keys));
    } catch (err) {
      this.disconnect();
      throw err;
    }
    for (const { resources: q } of this.held) {
      const k = q.keys;
      const ports = k.split ? `ports tx ${k.txPort} rx ${k.rxPort} (local ${q.txPort}/${q.rxPort})`
        : `port ${k.txPort} (local ${q.txPort})`;
      this.log.info(`connected queue ${k.id}/${this.held.length}: tx-ring-ref ${k.txRef} rx-ring-ref ${k.rxRef} ` +
        `${ports}${cfg.rxNotify ? '' : ', no rx-notify: polling rx'}`);
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
    this.datapath!.start({ queues: this.held.map((h) => h.resources), rxNotify: cfg.rxNotify, features, rate: this.readRate() });
    // netback's credit watch: the toolstack may change the rate while the vif runs.
    this.watches.push(this.bus.watch(`${this.backendPath}/rate`, () => {
      if (this.held.length > 0) this.datapath?.setRate(this.readRate());
    }));
    // And its multicast-control watch: the frontend may ask for filtering at any time.
    this.watches.push(this.bus.watch(`${this.frontendPath}/request-multicast-control`, () => {
      if (this.held.length > 0) this.datapath?.setMulticastControl(this.readUnsignedFlag(`${this.frontendPath}/request-multicast-control`));
    }));
  }

  /** While connected: the watches on the backend's `rate` and the frontend's request-multicast-control. */
  private watches: string[] = [];

  /** xenbus_read_unsigned(...) != 0: a leading number that is not zero. */
  private readUnsignedFlag(path: string): boolean {
    const m = /^\s*\+?(\d+)/.exec(this.xs.readString(path) ?? '');
    return m !== null && Number(m[1]) !== 0;
  }

  /** The backend's `rate` ("bytes,usec"), as netback reads it; anything else is unlimited, with netback's warning. */
  private readRate(): TxRate {
    const { rate, malformed } = parseRate(this.xs.readString(`${this.backendPath}/rate`));
    if (malformed) this.log.warn('Failed to parse network rate limit. Traffic unlimited.');
    return rate;
  }

  protected disconnect(): void {
    for (const token of this.watches.splice(0)) this.bus.unwatch(token);
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    // The datapath lets go of the rings before they are unmapped.
    try {
      this.datapath?.stop();
    } finally {
      for (const h of held) h.release((msg) => this.log.warn(msg));
    }
    this.peer?.setOffloads?.({ csum: false, tso4: false, tso6: false });
    this.log.info('disconnected');
  }

  protected override backendStateChanged(): void {
    this.datapath?.setConnected(this.backendState === XenbusState.Connected);
  }

  override destroy(): void {
    if (this.destroyed) return;
    this.hotplug?.stop();
    super.destroy();
    try {
      this.datapath?.close();
    } catch (err) {
      this.log.warn(`closing the datapath failed: ${(err as Error).message}`);
    }
    this.datapath = null;
    if (this.ownsPeer) this.peer?.close();
  }

  /** The pcap file both directions' frames are copied to (QEMU's filter-dump), if any. */
  get capture(): CaptureInfo | null {
    return this.datapath?.captureInfo() ?? null;
  }

  /** Starts capturing to a new pcap file at `path`; throws the open error. */
  startCapture(path: string, snaplen?: number): void {
    if (!this.datapath) throw new Error(`${this.vifName} is not realized`);
    this.datapath.startCapture(path, snaplen);
  }

  /** Stops capturing; returns how many frames were written, or null if none was running. */
  stopCapture(): number | null {
    return this.datapath?.stopCapture() ?? null;
  }

  /** Ring occupancy for operators (netback's io_ring), one entry per queue; null while unconnected. */
  ringInfo(): QueueInfo[] | null {
    return this.held.length === 0 ? null : this.datapath?.ringInfo() ?? null;
  }

  /**
   * Netback's io_ring "kick": service every queue's rings now and raise the frontend's event
   * channels, whatever the event indices say. A disabled vif stays disabled. Returns whether it ran.
   */
  kick(): boolean {
    if (this.held.length === 0 || this.disabledReason !== null || !this.datapath) return false;
    this.datapath.kick();
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
    this.datapath?.setLink(up);
    // A disabled vif keeps its carrier off whatever the link says.
    this.peer?.setCarrier?.(up && this.disabledReason === null);
    try {
      this.xs.write(`${this.backendPath}/${LINK_STATE_KEY}`, up ? '1' : '0');
    } catch (err) {
      this.log.warn(`could not publish ${LINK_STATE_KEY}: ${(err as Error).message}`);
    }
    if (changed) this.log.info(`link ${up ? 'up' : 'down'}`);
  }

  /**
   * A fatal guest error, as netback's xenvif_fatal_tx_err(): the datapath has stopped servicing
   * this vif's rings (others are unaffected); turn the host side's carrier off and report it
   * where the toolstack looks (the `error` node) and to management (the bus event). The
   * xenstore state is left as it is: tearing down is the toolstack's or the frontend's business.
   */
  private disable(message: string): void {
    if (this.disabledReason !== null || this.destroyed) return;
    this.disabledReason = message;
    this.peer?.setCarrier?.(false);
    this.recordError(EINVAL, `fatal error; disabling device: ${message}`);
    this.bus.deviceDisabled(this, message);
  }
}
