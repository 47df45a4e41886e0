// One queue of a vif (netback's struct xenvif_queue): its two mapped rings, its event channel or
// split pair, and the NetbackTx/NetbackRx that work them. The vif owns an array of these; the
// queue knows nothing of xenstore, the peer or the other queues. The rings and ports are taken
// from the platform beforehand (queue-resources.ts), so a queue can run on a datapath thread.
//
// Event channels: with one port per queue an upcall services both rings and raises the port
// once; with split channels tx requests arrive on the tx port and are answered there, rx
// requests on the rx port (xenvif_tx_interrupt / xenvif_rx_interrupt).
//
// Rx back-pressure (netback's rx_queue_max and stopped queues): frames the ring has no room for
// wait in NetbackRx's queue; once RX_STOP_AT frames or RX_STOP_BYTES bytes wait, the queue
// reports itself stopped and the vif stops taking frames from its peer, until the frontend posts
// buffers (it notifies past req_event, which NetbackRx arms when it runs dry) and the wait drains
// below half of both.
// A frontend without feature-rx-notify never notifies for rx buffers, so a queue with frames
// waiting looks at its ring every RX_POLL_MS instead (netback's 30 ms drain_timeout then).
//
// Work budget (netback's NAPI poll with its weight of 64): a tx sweep takes at most TX_BUDGET
// packets; if the frontend has more, the queue polls again on a later turn of the event loop,
// so a guest that never stops producing cannot hold the thread (QMP on the main thread, the
// control calls on a datapath thread). The credit scheduler (tx-credit.ts) holds a queue to
// the vif's `rate`.

import type { Logger } from '../../common/log.js';
import { RX_SLOT_SIZE, TX_SLOT_SIZE } from '../../protocol/netif.js';
import { BackRing, SharedRing } from '../../protocol/ring.js';
import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';
import type { DatapathPlatform } from '../../xen/backend-ops.js';
import type { VifCounters } from './counters.js';
import type { QueueKeys } from './queue-config.js';
import type { QueueResources } from './queue-resources.js';
import type { RxFeatures } from './offload.js';
import { describeRing, type RingInfo } from './ring-info.js';
import { NetbackRx } from './rx.js';
import type { MulticastList } from './mcast.js';
import { type FatalHandler, NetbackTx, type TxDeliver, type TxZeroCopy } from './tx.js';
import { TxCredit, type TxRate } from './tx-credit.js';

/** Below NetbackRx's own bound (256), with room for a tap read batch (64) on top. */
export const RX_STOP_AT = 128;
export const RX_WAKE_AT = RX_STOP_AT / 2;
/** Netback's rx_queue_max (XENVIF_RX_QUEUE_BYTES): half a ring of full pages. */
export const RX_STOP_BYTES = 128 * 4096;
export const RX_WAKE_BYTES = RX_STOP_BYTES / 2;
export const RX_POLL_MS = 30;
/** Packets one tx sweep takes before the queue lets the event loop run (netback's NAPI weight). */
export const TX_BUDGET = 64;

export interface QueueHooks {
  deliver: TxDeliver;
  fatal: FatalHandler;
  /** The peer takes a virtio_net_hdr (blank checksums and GSO pass through on tx). */
  peerVnetHdr: boolean;
  /** What the frontend negotiated for frames towards it (multi-slot, GSO, partial checksums). */
  rxFeatures: RxFeatures;
  /** The queue's rx wait fell below RX_WAKE_AT and RX_WAKE_BYTES after it had stopped. */
  rxWoken(): void;
  /** A tx sweep ended: what it delivered may go to the peer now. */
  txSwept(): void;
  /** Plain one-slot frames go to the peer from the guest's page (see TxZeroCopy); null: copied. */
  zeroCopy: TxZeroCopy | null;
  /** The vif's multicast list, shared by its queues. */
  mcast: MulticastList;
  stats: VifCounters;
  log: Logger;
}

export interface QueueInfo {
  id: number;
  txPort: number;
  rxPort: number;
  tx: RingInfo;
  rx: RingInfo;
  rxQueued: number;
  rxStopped: boolean;
}

export class NetbackQueue {
  /** Our bound ports; equal without split event channels. */
  readonly txPort: number;
  readonly rxPort: number;
  readonly keys: QueueKeys;
  private readonly tx: NetbackTx;
  private readonly rx: NetbackRx;
  private readonly txRing: BackRing;
  private readonly rxRing: BackRing;
  /**
   * running ──(fatal guest error: halt)──► halted ──(close)──► closed
   *    └────────────────────(close)─────────────────────────────┘
   * Only a running queue is serviced; a halted one keeps its rings mapped until the owner lets go.
   */
  private state: 'running' | 'halted' | 'closed' = 'running';
  /** Rx back-pressure, apart from the lifecycle: too many frames wait for rx buffers. */
  private rxPaused = false;
  private pollTimer: NodeJS.Timeout | null = null;
  /** A tx sweep stopped at its budget: the next one is queued for a later turn. */
  private repoll: NodeJS.Immediate | null = null;
  private readonly credit: TxCredit;

  constructor(private readonly dp: DatapathPlatform, frontend: number, resources: QueueResources,
    private readonly rxNotify: boolean, private readonly hooks: QueueHooks, rate: TxRate) {
    this.keys = resources.keys;
    this.txPort = resources.txPort;
    this.rxPort = resources.rxPort;
    this.txRing = BackRing.attach(new SharedRing(dp.attach(resources.txRing), TX_SLOT_SIZE));
    this.rxRing = BackRing.attach(new SharedRing(dp.attach(resources.rxRing), RX_SLOT_SIZE));
    this.tx = new NetbackTx(this.txRing, dp.grants, frontend, hooks.deliver, hooks.stats, hooks.log, hooks.fatal,
      hooks.peerVnetHdr, hooks.zeroCopy, hooks.mcast);
    this.credit = new TxCredit(() => this.serviceTx());
    this.credit.set(rate);
    this.tx.credit = this.credit;
    this.rx = new NetbackRx(this.rxRing, dp.grants, frontend, hooks.stats, hooks.log, hooks.rxFeatures);
    if (this.txPort === this.rxPort) {
      dp.evtchn.setUpcall(this.txPort, () => this.service());
    } else {
      dp.evtchn.setUpcall(this.txPort, () => this.serviceTx());
      dp.evtchn.setUpcall(this.rxPort, () => this.serviceRx());
    }
  }

  get id(): number {
    return this.keys.id;
  }

  /** Too many frames wait for rx buffers: the vif must stop taking frames for now. */
  get rxStopped(): boolean {
    return this.rxPaused;
  }

  /** Both rings, as after an upcall on each port. */
  service(): void {
    if (!this.usable) return;
    if (this.txPort !== this.rxPort) {
      this.serviceTx();
      this.serviceRx();
      return;
    }
    const txNotify = this.tx.process(TX_BUDGET);
    this.hooks.txSwept();
    if (!this.usable) return;
    const rxNotify = this.flushRx();
    if (txNotify || rxNotify) this.notify(this.txPort);
    this.pollAgainIfMore();
  }

  /** The vif's `rate` changed (netback's credit watch). */
  setRate(rate: TxRate): void {
    this.credit.set(rate);
  }

  /**
   * A frame for the guest: placed, or left waiting for buffers (NetbackRx counts what it drops).
   * Responses are pushed only for the `last` frame of a batch; endRxBatch() pushes otherwise.
   */
  receive(frame: Uint8Array, hdr?: VirtioNetHdr, last = true): void {
    if (!this.usable) return;
    if (this.rx.receive(frame, hdr, last)) this.notify(this.rxPort);
    this.afterRx();
  }

  /** Pushes what a batch placed (and anything that waited), raising the rx port if needed. */
  endRxBatch(): void {
    this.serviceRx();
  }

  /** Netback's io_ring kick: service now and raise the frontend's port(s) whatever the indices say. */
  kick(): void {
    this.service();
    if (!this.usable) return;
    this.notify(this.txPort);
    if (this.rxPort !== this.txPort) this.notify(this.rxPort);
  }

  /** A fatal error on the vif: neither ring is serviced again, though both stay mapped until close. */
  halt(): void {
    if (this.state !== 'running') return;
    this.state = 'halted';
    this.tx.stop();
    this.stopTimers();
  }

  /** Stops servicing and forgets its upcalls; the rings and ports are the owner's to release. Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.tx.stop();
    this.stopTimers();
    for (const port of this.txPort === this.rxPort ? [this.txPort] : [this.txPort, this.rxPort]) {
      this.dp.evtchn.setUpcall(port, null);
    }
  }

  info(): QueueInfo {
    return {
      id: this.id, txPort: this.txPort, rxPort: this.rxPort, tx: describeRing(this.txRing),
      rx: describeRing(this.rxRing), rxQueued: this.rx.queued, rxStopped: this.rxPaused,
    };
  }

  private get usable(): boolean {
    return this.state === 'running';
  }

  // deliver() may halt or close this queue from inside process(); the ring is not ours then.
  private serviceTx(): void {
    if (!this.usable) return;
    const notify = this.tx.process(TX_BUDGET);
    this.hooks.txSwept();
    if (notify && this.usable) this.notify(this.txPort);
    this.pollAgainIfMore();
  }

  /** Budget spent with requests left: another sweep on a later turn (a rate limit's timer resumes by itself). */
  private pollAgainIfMore(): void {
    if (!this.tx.more || !this.usable || this.credit.limited || this.repoll !== null) return;
    this.repoll = setImmediate(() => {
      this.repoll = null;
      if (this.txPort === this.rxPort) this.service();
      else this.serviceTx();
    });
  }

  private serviceRx(): void {
    if (this.usable && this.flushRx()) this.notify(this.rxPort);
  }

  private flushRx(): boolean {
    const notify = this.rx.flush();
    this.afterRx();
    return notify;
  }

  /** Stop/wake with hysteresis, and the poll a frontend without rx-notify needs. */
  private afterRx(): void {
    const waiting = this.rx.queued;
    const bytes = this.rx.queuedBytes;
    if (!this.rxPaused && (waiting >= RX_STOP_AT || bytes >= RX_STOP_BYTES)) {
      this.rxPaused = true;
      this.hooks.log.debug(`queue ${this.id}: rx stopped (${waiting} frames, ${bytes} bytes wait for buffers)`);
    } else if (this.rxPaused && waiting < RX_WAKE_AT && bytes < RX_WAKE_BYTES) {
      this.rxPaused = false;
      this.hooks.log.debug(`queue ${this.id}: rx woken`);
      this.hooks.rxWoken();
    }
    if (this.rxNotify || !this.usable) return;
    if (waiting > 0 && !this.pollTimer) {
      this.pollTimer = setInterval(() => this.serviceRx(), RX_POLL_MS);
      this.pollTimer.unref();
    } else if (waiting === 0) {
      this.clearPoll();
    }
  }

  private clearPoll(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  /** Nothing of this queue runs again: no rx poll, no tx repoll, no credit refill. */
  private stopTimers(): void {
    this.clearPoll();
    if (this.repoll) clearImmediate(this.repoll);
    this.repoll = null;
    this.credit.stop();
  }

  private notify(port: number): void {
    this.dp.evtchn.notify(port);
  }
}
