// The rx path (host → guest), as QEMU's net_rx_packet(): one slot per packet, data copied into
// the frontend's granted page at offset 2 (NET_IP_ALIGN), status = length. A frame that finds
// no posted buffer waits in a bounded queue until the frontend posts more.

import type { Logger } from '../../common/log.js';
import {
  NET_IP_ALIGN, NETIF_RSP_ERROR, readRxRequest, writeRxResponse,
} from '../../protocol/netif.js';
import { PAGE_SIZE, wrapSub, type BackRing } from '../../protocol/ring.js';
import { GNTST } from '../../xen/errors.js';
import type { GrantTable } from '../../xen/grant-table.js';
import type { VifCounters } from './counters.js';

const MAX_FRAME = PAGE_SIZE - NET_IP_ALIGN;
/** Frames held while the guest has no buffers posted, like QEMU's net queue. */
const QUEUE_LIMIT = 256;

export class NetbackRx {
  private readonly queue: Uint8Array[] = [];

  constructor(
    private readonly ring: BackRing,
    private readonly grants: GrantTable,
    private readonly backendDomid: number,
    private readonly stats: VifCounters,
    private readonly log: Logger,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /**
   * Accepts a frame for the guest. Responses are pushed (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY)
   * only for the `last` frame of a batch, so a batch costs the frontend one notification at
   * most; returns whether the frontend must be notified.
   */
  receive(frame: Uint8Array, last = true): boolean {
    if (frame.length > MAX_FRAME) {
      this.stats.rxDropped++;
      this.log.debug(`packet too big (${frame.length} > ${MAX_FRAME})`);
    } else if (this.queue.length > 0) {
      this.enqueue(frame);
      this.placeQueued();
    } else if (!this.place(frame)) {
      this.enqueue(frame);
    }
    // Pushing with nothing new placed changes nothing and never asks for a notification.
    return last && this.ring.pushResponses();
  }

  /** Moves queued frames into newly posted buffers and pushes every response; returns whether to notify. */
  flush(): boolean {
    this.placeQueued();
    return this.ring.pushResponses();
  }

  private placeQueued(): boolean {
    let placed = false;
    while (this.queue.length > 0 && this.place(this.queue[0]!)) {
      this.queue.shift();
      placed = true;
    }
    return placed;
  }

  private enqueue(frame: Uint8Array): void {
    if (this.queue.length >= QUEUE_LIMIT) {
      this.stats.rxDropped++;
      return;
    }
    this.queue.push(frame);
  }

  /** Fills one posted request; false when none is available (rx req_event is armed then). */
  private place(frame: Uint8Array): boolean {
    const ring = this.ring;
    const sring = ring.sring;
    if (!this.hasRequest()) {
      sring.reqEvent = (ring.reqCons + 1) >>> 0;
      if (!this.hasRequest()) return false;
    }
    const req = readRxRequest(sring.view, sring.slotOffset(ring.reqCons));
    ring.reqCons = (ring.reqCons + 1) >>> 0;
    const status = this.grants.copyTo(this.backendDomid, req.gref, NET_IP_ALIGN, frame, 0, frame.length);
    const ok = status === GNTST.okay;
    writeRxResponse(sring.view, sring.slotOffset(ring.rspProdPvt), {
      id: req.id, offset: NET_IP_ALIGN, flags: 0, status: ok ? frame.length : NETIF_RSP_ERROR,
    });
    ring.rspProdPvt = (ring.rspProdPvt + 1) >>> 0;
    if (ok) {
      this.stats.rxPackets++;
      this.stats.rxBytes += frame.length;
    } else {
      this.stats.rxErrors++;
      this.log.debug(`guest error: rx gref dereference failed (${req.gref}): status ${status}`);
    }
    return true;
  }

  private hasRequest(): boolean {
    const ring = this.ring;
    const rp = ring.sring.reqProd;
    return ring.reqCons !== rp && wrapSub(rp, ring.reqCons) <= ring.size &&
      wrapSub(ring.reqCons, ring.rspProdPvt) < ring.size;
  }
}
