// The qnic backend (QEMU's hw/net/xen_nic.c on XenDevice, with Linux netback's multi-queue):
// realize writes the MAC into the frontend and the features into the backend; connect reads
// what the frontend chose (queue-config.ts) and maps each queue's rings and binds its event
// channel(s) once the frontend is Connected; the queues' tx and rx paths do the rest. Frames
// from the guest go to the peer whatever queue they came on; frames for the guest are steered
// to a queue by their flow hash (xenvif_select_queue), so one flow stays on one queue.

import { availableParallelism } from 'node:os';
import { formatMac } from '../../common/mac.js';
import { flowHash, reciprocalScale } from '../../protocol/flow-hash.js';
import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';
import { XenbusState } from '../../protocol/xenbus.js';
import { VifHotplug } from '../hotplug.js';
import type { NetClient } from '../net/net-client.js';
import { PcapWriter } from '../net/pcap-writer.js';
import { XenDevice } from '../xen-device.js';
import type { XenBus } from '../xen-bus.js';
import type { DeviceAddress } from '../xen-paths.js';
import { newCounters, type VifCounters } from './counters.js';
import { readFrontendConfig } from './queue-config.js';
import { NetbackQueue, type QueueInfo } from './queue.js';

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
  readonly stats: VifCounters = newCounters();
  readonly mac: Uint8Array;
  readonly peer: NetClient | null;
  private readonly ownsPeer: boolean;
  /** The connected queues (xenvif's queues[]); empty while unconnected. */
  private queues: NetbackQueue[] = [];
  /** What realize advertised as multi-queue-max-queues (the bus's setting then). */
  private maxQueues = 1;
  /** The peer was told to stop delivering because a queue's rx wait is full. */
  private peerPaused = false;
  /** Queues a multi-queue rx batch has placed frames on, pushed at its last frame. */
  private readonly rxBatch = new Set<NetbackQueue>();
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

  /** Queue 0's refs and ports (the whole connection with one queue); null while unconnected. */
  get connection(): { txRef: number; rxRef: number; remotePort: number; port: number; queues: number } | null {
    const q = this.queues[0];
    if (!q) return null;
    const { txRef, rxRef, txPort: remotePort } = q.keys;
    return { txRef, rxRef, remotePort, port: q.txPort, queues: this.queues.length };
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
    // Netback writes these two outside its feature transaction, best effort.
    this.maxQueues = Math.max(1, Math.floor(this.bus.maxQueues ?? defaultMaxQueues()));
    this.xs.write(`${this.backendPath}/feature-split-event-channels`, '1');
    this.xs.write(`${this.backendPath}/multi-queue-max-queues`, String(this.maxQueues));
    this.xs.write(`${this.backendPath}/${LINK_STATE_KEY}`, this.linkUp ? '1' : '0');
    if (!this.linkUp) this.peer?.setCarrier?.(false);
    this.peer?.setReceiver((frame, hdr, more) => this.receive(frame, hdr, more));
  }

  protected connect(): void {
    const peerVnetHdr = this.peer?.vnetHdr ?? false;
    const cfg = readFrontendConfig(this.xs, this.frontendPath, this.maxQueues, peerVnetHdr);
    const features = cfg.features;
    const hv = this.bus.hypervisor;
    const { backendDomid, frontendId } = this.address;
    try {
      for (const keys of cfg.queues) {
        this.queues.push(NetbackQueue.connect(hv, backendDomid, frontendId, keys, cfg.rxNotify, {
          deliver: (frame, hdr) => this.transmit(frame, hdr),
          fatal: (msg) => this.disable(msg),
          rxWoken: () => this.maybeResumePeer(),
          txSwept: () => this.txSwept(),
          peerVnetHdr,
          rxFeatures: features,
          stats: this.stats,
          log: this.log,
        }));
      }
    } catch (err) {
      this.disconnect();
      throw err;
    }
    for (const q of this.queues) {
      const k = q.keys;
      const ports = k.split ? `ports tx ${k.txPort} rx ${k.rxPort} (local ${q.txPort}/${q.rxPort})`
        : `port ${k.txPort} (local ${q.txPort})`;
      this.log.info(`connected queue ${k.id}/${this.queues.length}: tx-ring-ref ${k.txRef} rx-ring-ref ${k.rxRef} ` +
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
    for (const q of this.queues) q.service();
  }

  protected disconnect(): void {
    const queues = this.queues;
    if (queues.length === 0) return;
    this.queues = [];
    this.rxBatch.clear();
    for (const q of queues) q.close(this.log);
    this.peer?.setOffloads?.({ csum: false, tso4: false, tso6: false });
    this.maybeResumePeer();
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

  /** Ring occupancy for operators (netback's io_ring), one entry per queue; null while unconnected. */
  ringInfo(): QueueInfo[] | null {
    return this.queues.length === 0 ? null : this.queues.map((q) => q.info());
  }

  /**
   * Netback's io_ring "kick": service every queue's rings now and raise the frontend's event
   * channels, whatever the event indices say. A disabled vif stays disabled. Returns whether it ran.
   */
  kick(): boolean {
    if (this.queues.length === 0 || this.disabledReason !== null) return false;
    for (const q of [...this.queues]) q.kick();
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
   * A frame for the guest, steered to a queue by its flow. With `more` set, responses wait: the
   * batch's last frame pushes every queue the batch touched, so a batch costs a notify at most.
   */
  private receive(frame: Uint8Array, hdr?: VirtioNetHdr, more = false): void {
    const queues = this.queues;
    if (queues.length === 0 || !this.linkUp || this.disabledReason !== null ||
        this.backendState !== XenbusState.Connected) {
      this.stats.rxDropped++;
      return;
    }
    this.capture?.write(frame);
    const q = queues.length === 1 ? queues[0]! : queues[reciprocalScale(flowHash(frame), queues.length)]!;
    if (queues.length === 1) {
      q.receive(frame, hdr, !more);
    } else {
      q.receive(frame, hdr, false);
      this.rxBatch.add(q);
      if (!more) {
        for (const touched of this.rxBatch) touched.endRxBatch();
        this.rxBatch.clear();
      }
    }
    if (q.rxStopped && !this.peerPaused && this.peer?.setReceiving) {
      // One tap feeds every queue, so a stopped queue holds them all back (a single-queue qdisc).
      this.peerPaused = true;
      this.peer.setReceiving(false);
    }
  }

  /** After each tx sweep: the sweep's frames go to the host side in one batch. */
  private txSwept(): void {
    if (this.peer?.flush) this.stats.txDropped += this.peer.flush();
  }

  /** Takes frames from the peer again once no queue is stopped, the rings are gone, or `force`. */
  private maybeResumePeer(force = false): void {
    if (!this.peerPaused || (!force && this.queues.some((q) => q.rxStopped))) return;
    this.peerPaused = false;
    this.peer?.setReceiving?.(true);
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
    for (const q of this.queues) q.halt();
    // Halted queues never drain: the peer's frames are taken and dropped (counted) instead.
    this.maybeResumePeer(true);
    this.peer?.setCarrier?.(false);
    this.recordError(22, `fatal error; disabling device: ${message}`);
    this.bus.deviceDisabled(this, message);
  }
}
