// The rx path (host → guest). A frame that fits one page goes as QEMU's net_rx_packet() puts
// it: one slot, data at offset 2 (NET_IP_ALIGN), status = length. With the frontend's
// feature-sg a larger frame (a GSO frame from the kernel, up to 64 KiB) continues in further
// slots, a whole page each, chained by NETRXF_more_data; a GSO frame's extra-info slot sits
// right after the first data slot, as xen/include/public/io/netif.h orders them and Linux netback
// lays them out (xenvif_rx_skb, drivers/net/xen-netback/rx.c):
//
//   [data: flags csum|extra_info|more_data] [GSO extra] [data: more_data] ... [data: last]
//
// Every response goes into the ring slot of the request it consumes. A packet is started only
// when all the requests it needs are posted; until then it waits in a bounded queue. Each
// request is read once into locals and each response written from a scratch record, so a
// frame placed at once allocates nothing here. Frames are lent by the peer for the call (a tap
// hands views of its read buffer): one that must wait is copied into the queue.

import { FrameSlab } from '../../common/frame-slab.js';
import type { Logger } from '../../common/log.js';
import {
  NET_IP_ALIGN, NETIF_RSP_ERROR, NETRXF_extra_info, NETRXF_more_data, writeGsoExtra, writeRxResponse,
  XEN_NETIF_NR_SLOTS_MIN, type GsoExtra, type RxResponse,
} from '../../protocol/netif.js';
import { PAGE_SIZE, wrapSub, type BackRing } from '../../protocol/ring.js';
import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';
import type { GrantCopier } from '../../xen/backend-ops.js';
import { GNTST } from '../../xen/grant-abi.js';
import { GrantCopyBatch } from '../../xen/grant-copy-batch.js';
import { finishPartialChecksum } from '../net/checksum.js';
import type { VifCounters } from './counters.js';
import { NO_RX_FEATURES, rxOffload, type RxFeatures } from './offload.js';

const EMPTY = new Uint8Array(0);
/** What the first slot holds, after the NET_IP_ALIGN bytes. */
const FIRST_SLOT_BYTES = PAGE_SIZE - NET_IP_ALIGN;
/** With feature-sg: as many data slots as any netfront accepts (XEN_NETIF_NR_SLOTS_MIN). */
const MAX_SG_FRAME = FIRST_SLOT_BYTES + (XEN_NETIF_NR_SLOTS_MIN - 1) * PAGE_SIZE;
/** Frames held while the guest has no buffers posted, like QEMU's net queue: so many at most... */
const QUEUE_LIMIT = 256;
/**
 * ...and so many bytes: twice netback's rx_queue_max (the queue stops its peer at half of it,
 * see queue.ts), room for the tap batch that was already read when it stopped.
 */
const QUEUE_BYTES_LIMIT = 1024 * 1024;

interface RxPacket {
  frame: Uint8Array;
  flags: number;
  gso: { size: number; type: number } | null;
  /** Ring slots it takes: its data slots plus the GSO extra. */
  slots: number;
}

export class NetbackRx {
  private readonly queue: RxPacket[] = [];
  /** The waiting frames' bytes. */
  private bytes = 0;
  /** Where waiting frames are copied to. */
  private readonly waiting = new FrameSlab();
  private readonly rsp: RxResponse = { id: 0, offset: 0, flags: 0, status: 0 };
  private readonly extra: GsoExtra = { flags: 0, size: 0, type: 0 };
  /** The frame receive() is looking at, as a packet; queued only as a copy of this record. */
  private readonly current: RxPacket = { frame: EMPTY, flags: 0, gso: null, slots: 0 };
  /** A packet's data slots, copied in one call; per slot, its request's id and its response's place. */
  private readonly copies = new GrantCopyBatch(XEN_NETIF_NR_SLOTS_MIN);
  private readonly slotIds = new Uint16Array(XEN_NETIF_NR_SLOTS_MIN);
  private readonly slotRsp = new Uint32Array(XEN_NETIF_NR_SLOTS_MIN);

  constructor(
    private readonly ring: BackRing,
    private readonly grants: GrantCopier,
    /** The frontend's domain, whose grants the requests name. */
    private readonly frontend: number,
    private readonly stats: VifCounters,
    private readonly log: Logger,
    private readonly features: RxFeatures = NO_RX_FEATURES,
  ) {}

  get queuedBytes(): number {
    return this.bytes;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * Accepts a frame for the guest. Responses are pushed (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY)
   * only for the `last` frame of a batch, so a batch costs the frontend one notification at
   * most; returns whether the frontend must be notified.
   */
  receive(frame: Uint8Array, hdr?: VirtioNetHdr, last = true): boolean {
    const pkt = this.prepare(frame, hdr);
    if (pkt && this.queue.length > 0) {
      this.enqueue(pkt);
      this.placeQueued();
    } else if (pkt && !this.place(pkt)) {
      this.enqueue(pkt);
    }
    // The record is reused: it must not keep the frame alive.
    this.current.frame = EMPTY;
    this.current.gso = null;
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
      this.bytes -= this.queue.shift()!.frame.length;
      placed = true;
    }
    return placed;
  }

  /** The frame as it goes on the ring, or null (counted) when the frontend cannot take it. */
  private prepare(frame: Uint8Array, hdr: VirtioNetHdr | undefined): RxPacket | null {
    const max = this.features.sg ? MAX_SG_FRAME : FIRST_SLOT_BYTES;
    if (frame.length > max) return this.drop(`packet too big (${frame.length} > ${max})`);
    let flags = 0;
    let gso: RxPacket['gso'] = null;
    if (hdr) {
      const o = rxOffload(hdr, frame, this.features);
      if (typeof o === 'string') return this.drop(o);
      if (o.finishCsum && !finishPartialChecksum(frame, o.finishCsum.start, o.finishCsum.offset)) {
        return this.drop(`partial checksum at ${o.finishCsum.start}+${o.finishCsum.offset} outside the frame`);
      }
      flags = o.flags;
      gso = o.gso;
    }
    const dataSlots = 1 + Math.ceil(Math.max(0, frame.length - FIRST_SLOT_BYTES) / PAGE_SIZE);
    const pkt = this.current;
    pkt.frame = frame;
    pkt.flags = flags;
    pkt.gso = gso;
    pkt.slots = dataSlots + (gso ? 1 : 0);
    return pkt;
  }

  private drop(why: string): null {
    this.stats.rxDropped++;
    this.log.debug(why);
    return null;
  }

  /** Keeps a copy of the packet (its frame is only lent), placed as it will be in the guest's page. */
  private enqueue(pkt: RxPacket): void {
    if (this.queue.length >= QUEUE_LIMIT || this.bytes + pkt.frame.length > QUEUE_BYTES_LIMIT) {
      this.stats.rxDropped++;
      return;
    }
    const frame = this.waiting.alloc(pkt.frame.length, NET_IP_ALIGN);
    frame.set(pkt.frame);
    this.queue.push({ ...pkt, frame });
    this.bytes += frame.length;
  }

  /** Fills the requests one packet needs; false when not all are posted (rx req_event is armed then). */
  private place(pkt: RxPacket): boolean {
    const ring = this.ring;
    const sring = ring.sring;
    if (!this.hasRequests(pkt.slots)) {
      sring.reqEvent = (ring.reqCons + pkt.slots) >>> 0;
      if (!this.hasRequests(pkt.slots)) return false;
    }
    const frame = pkt.frame;
    const view = sring.view;
    const copies = this.copies;
    copies.clear();
    let at = 0;
    for (let slot = 0; slot < pkt.slots; slot++) {
      // The request, copied out of the ring once: its two fields into locals.
      const reqAt = sring.slotOffset(ring.reqCons);
      const id = view.getUint16(reqAt, true);
      const gref = view.getUint32(reqAt + 4, true);
      ring.reqCons = (ring.reqCons + 1) >>> 0;
      const rspAt = sring.slotOffset(ring.rspProdPvt);
      ring.rspProdPvt = (ring.rspProdPvt + 1) >>> 0;
      if (slot === 1 && pkt.gso) {
        // The extra consumes a request; netfront reposts its buffer untouched.
        this.extra.size = pkt.gso.size;
        this.extra.type = pkt.gso.type;
        writeGsoExtra(view, rspAt, this.extra);
        continue;
      }
      const offset = slot === 0 ? NET_IP_ALIGN : 0;
      const len = Math.min(frame.length - at, PAGE_SIZE - offset);
      this.slotIds[copies.count] = id;
      this.slotRsp[copies.count] = rspAt;
      copies.add(gref, offset, at, len);
      at += len;
    }
    const failed = this.grants.copy(this.frontend, true, copies, frame) > 0;
    this.respond(pkt);
    if (failed) {
      this.stats.rxErrors++;
    } else {
      this.stats.rxPackets++;
      this.stats.rxBytes += frame.length;
    }
    return true;
  }

  /** One response per data slot, each its copy's status: the length it holds, or an error. */
  private respond(pkt: RxPacket): void {
    const copies = this.copies;
    const view = this.ring.sring.view;
    const rsp = this.rsp;
    const last = copies.count - 1;
    for (let i = 0; i <= last; i++) {
      const status = copies.status(i);
      let flags = i < last ? NETRXF_more_data : 0;
      if (i === 0) flags |= pkt.flags | (pkt.gso ? NETRXF_extra_info : 0);
      rsp.id = this.slotIds[i]!;
      rsp.offset = copies.offset(i);
      rsp.flags = flags;
      rsp.status = status === GNTST.okay ? copies.length(i) : NETIF_RSP_ERROR;
      writeRxResponse(view, this.slotRsp[i]!, rsp);
      if (status !== GNTST.okay && this.log.enabled('debug')) {
        this.log.debug(`guest error: rx gref dereference failed (${copies.ref(i)}): status ${status}`);
      }
    }
  }

  /** At least `n` posted requests, within what the ring can hold. */
  private hasRequests(n: number): boolean {
    const ring = this.ring;
    const rp = ring.sring.reqProd;
    const posted = wrapSub(rp, ring.reqCons);
    return posted >= n && posted <= ring.size && wrapSub(ring.reqCons, ring.rspProdPvt) + n <= ring.size;
  }
}
