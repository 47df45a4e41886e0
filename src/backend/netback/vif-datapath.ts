// A vif's datapath (netback's xenvif without its xenbus side): the connected queues, the peer
// they exchange frames with, the link, the counters and a pcap capture. Frames from the guest go
// to the peer whatever queue they came on; frames for the guest are steered to a queue by their
// flow hash (xenvif_select_queue), so one flow stays on one queue. It runs where its queues run,
// on the main thread or on a datapath thread (datapath-thread.ts); the device's control side
// (xen-net-device.ts) tells it when to start and stop and hears of fatal errors.

import type { Logger } from '../../common/log.js';
import { flowHash, reciprocalScale } from '../../protocol/flow-hash.js';
import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';
import type { DatapathPlatform } from '../../xen/backend-ops.js';
import type { DatapathPeer } from '../net/net-client.js';
import { PcapWriter } from '../net/pcap-writer.js';
import type { VifCounters } from './counters.js';
import type { RxFeatures } from './offload.js';
import type { QueueResources } from './queue-resources.js';
import { NetbackQueue, type QueueInfo } from './queue.js';
import { MulticastList } from './mcast.js';
import type { TxRate } from './tx-credit.js';

export interface DatapathStart {
  queues: QueueResources[];
  /** feature-rx-notify, as the frontend wrote it. */
  rxNotify: boolean;
  features: RxFeatures;
  /** The backend's `rate` (each queue's credit). */
  rate: TxRate;
}

export interface CaptureInfo {
  path: string;
  frames: number;
}

/** What the device's control side asks of a datapath, wherever it runs. */
export interface VifDatapathControl {
  start(s: DatapathStart): void;
  stop(): void;
  kick(): void;
  ringInfo(): QueueInfo[] | null;
  setLink(up: boolean): void;
  /** The frontend's request-multicast-control changed. */
  setMulticastControl(on: boolean): void;
  /** The backend's `rate` changed. */
  setRate(rate: TxRate): void;
  /** Whether the backend is Connected: frames for the guest are dropped otherwise. */
  setConnected(connected: boolean): void;
  startCapture(path: string, snaplen?: number): void;
  stopCapture(): number | null;
  captureInfo(): CaptureInfo | null;
  /** The device is going: stop and let go of the peer. */
  close(): void;
}

export interface VifDatapathOptions {
  /** The platform as this thread sees it. */
  dp: DatapathPlatform;
  frontend: number;
  peer: DatapathPeer | null;
  stats: VifCounters;
  log: Logger;
  linkUp: boolean;
  /** A fatal guest error, reported once the queues have halted: the control side records it. */
  onFatal(message: string): void;
}

export class VifDatapath implements VifDatapathControl {
  private queues: NetbackQueue[] = [];
  /** The peer was told to stop delivering because a queue's rx wait is full. */
  private peerPaused = false;
  /** Queues a multi-queue rx batch has placed frames on, pushed at its last frame. */
  private readonly rxBatch = new Set<NetbackQueue>();
  /** The guest's multicast groups, per vif (all its queues' extras), for one connection. */
  private readonly mcast = new MulticastList();
  /**
   * idle ──start──► running ──(fatal guest error)──► disabled
   *  ▲                 │                                │
   *  └──────stop───────┴───────────────stop─────────────┘
   * (netback's `disabled`, cleared by a reconnect: stop, then start.)
   */
  private state: 'idle' | 'running' | 'disabled' = 'idle';
  private linkUp: boolean;
  private connected = false;
  private capture: PcapWriter | null = null;
  private readonly peer: DatapathPeer | null;
  private readonly stats: VifCounters;
  private readonly log: Logger;

  constructor(private readonly opts: VifDatapathOptions) {
    this.peer = opts.peer;
    this.stats = opts.stats;
    this.log = opts.log;
    this.linkUp = opts.linkUp;
    this.peer?.setReceiver((frame, hdr, more) => this.receive(frame, hdr, more));
  }

  start(s: DatapathStart): void {
    const { dp, frontend } = this.opts;
    const peerVnetHdr = this.peer?.vnetHdr ?? false;
    const peer = this.peer;
    // Plain frames from the guest go to a peer that can take them (a tap) from the guest's page,
    // uncopied, where the platform can read granted pages in place (DirectGrantAccess).
    const zeroCopy = dp.grants.direct !== null && peer?.sendGuest
      ? { deliver: (m: Uint8Array, at: number, len: number) => this.transmitGuest(peer, m, at, len), flush: () => this.txSwept() }
      : null;
    for (const res of s.queues) {
      this.queues.push(new NetbackQueue(dp, frontend, res, s.rxNotify, {
        deliver: (frame, hdr) => this.transmit(frame, hdr),
        fatal: (msg) => this.fatal(msg),
        rxWoken: () => this.maybeResumePeer(),
        txSwept: () => this.txSwept(),
        zeroCopy,
        mcast: this.mcast,
        peerVnetHdr,
        rxFeatures: s.features,
        stats: this.stats,
        log: this.log,
      }, s.rate));
    }
    // A fresh connection is serviced again (netback clears `disabled` on reconnect).
    this.state = 'running';
    for (const q of this.queues) q.service();
  }

  stop(): void {
    const queues = this.queues;
    this.state = 'idle';
    this.queues = [];
    this.mcast.clear();
    this.rxBatch.clear();
    for (const q of queues) q.close();
    this.maybeResumePeer();
  }

  /**
   * Netback's io_ring "kick": service every queue's rings now and raise the frontend's event
   * channels, whatever the event indices say. A disabled vif stays disabled.
   */
  kick(): void {
    if (this.state !== 'running') return;
    for (const q of [...this.queues]) q.kick();
  }

  ringInfo(): QueueInfo[] | null {
    return this.queues.length === 0 ? null : this.queues.map((q) => q.info());
  }

  /** While down, frames are dropped both ways (QEMU's link_down). */
  setLink(up: boolean): void {
    this.linkUp = up;
  }

  setMulticastControl(on: boolean): void {
    this.mcast.control = on;
  }

  setRate(rate: TxRate): void {
    for (const q of this.queues) q.setRate(rate);
  }

  setConnected(connected: boolean): void {
    this.connected = connected;
  }

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

  captureInfo(): CaptureInfo | null {
    return this.capture ? { path: this.capture.path, frames: this.capture.frames } : null;
  }

  close(): void {
    this.stop();
    this.stopCapture();
    this.peer?.setReceiver(null);
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

  /** A finished frame the guest sent, written by the peer from where it lies. */
  private transmitGuest(peer: DatapathPeer, memory: Uint8Array, at: number, len: number): void {
    if (!this.linkUp) {
      this.stats.txDropped++;
      return;
    }
    this.capture?.write(memory.subarray(at, at + len));
    if (!peer.sendGuest!(memory, at, len)) this.stats.txDropped++;
  }

  /**
   * A frame for the guest, steered to a queue by its flow. With `more` set, responses wait: the
   * batch's last frame pushes every queue the batch touched, so a batch costs a notify at most.
   */
  private receive(frame: Uint8Array, hdr?: VirtioNetHdr, more = false): void {
    const queues = this.queues;
    if (this.state !== 'running' || !this.linkUp || !this.connected || !this.mcast.accepts(frame)) {
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
   * (others are unaffected) and tell the control side, which reports it.
   */
  private fatal(message: string): void {
    if (this.state !== 'running') return;
    this.state = 'disabled';
    for (const q of this.queues) q.halt();
    // Halted queues never drain: the peer's frames are taken and dropped (counted) instead.
    this.maybeResumePeer(true);
    this.opts.onFatal(message);
  }
}
