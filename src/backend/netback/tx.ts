// The tx path (guest → host), as Linux netback's xenvif_tx_action(): the producer index is read
// once per sweep and bounded, each packet is read off the ring with netback's checks
// (tx-parse.ts, every slot copied out once), its slots are gathered with grant copies that Xen
// validates one by one, and every consumed slot is answered. A guest's mistakes are answered on
// the ring with NETIF_RSP_ERROR; its attacks (an impossible req_prod, too many slots, bad
// extras, a GSO packet without a valid header) are fatal: the vif is disabled, as netback's
// xenvif_fatal_tx_err(), and nothing further is read from its rings. Blank checksums and GSO
// go to a peer with a virtio_net_hdr as they are (offload.ts); for other peers checksums are
// filled in here.
//
// A frame is gathered into a buffer of the queue's own and lent to the peer for the
// length of deliver() (the NetClient contract: a peer that keeps bytes copies them, as a tap's
// writer does into its batch anyway). Nothing is allocated per frame, so a fast guest costs no
// garbage; the buffer never holds another guest's bytes.
//
// Grant copies go to Xen in batches, as netback's gnttab_copy ops do: one-slot packets (the
// common case) are copied together, up to a response batch at a time, before any of them is
// sent; a packet of several slots has its slots copied in one call. Every packet is still sent
// and answered in ring order.

import type { Logger } from '../../common/log.js';
import {
  ETH_HLEN, NETIF_RSP_ERROR, NETIF_RSP_NULL, NETIF_RSP_OKAY, NETTXF_csum_blank, NETTXF_data_validated,
  NETTXF_extra_info, NETTXF_more_data,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD, readTxRequestInto, writeTxResponse, type TxRequest,
} from '../../protocol/netif.js';
import { PAGE_SIZE, wrapSub, type BackRing } from '../../protocol/ring.js';
import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';
import type { DirectGrantAccess, GrantCopier } from '../../xen/backend-ops.js';
import { GNTST } from '../../xen/grant-abi.js';
import { GrantCopyBatch } from '../../xen/grant-copy-batch.js';
import { fillL4Checksum } from '../net/checksum.js';
import type { VifCounters } from './counters.js';
import { gsoHeaders, txVnetHdr, type GsoHeaders } from './offload.js';
import { MulticastList } from './mcast.js';
import type { TxCredit } from './tx-credit.js';
import { MAX_SKB_SLOTS, parseTxPacket, type TxSlotRef } from './tx-parse.js';

/**
 * A frame for the host side; `hdr` (partial checksum, GSO) only when the peer carries a
 * virtio_net_hdr, else the frame is finished here. The frame is borrowed: its bytes are
 * valid only until the call returns.
 */
export type TxDeliver = (frame: Uint8Array, hdr?: VirtioNetHdr) => void;
export type FatalHandler = (message: string) => void;

/**
 * A peer that writes finished one-slot frames from the guest's page itself (netback's grant
 * map of the frame's data, without the copy), and the flush that writes what it holds: called
 * before responses are published, so the guest gets its page back only once it has been read.
 * Only for a datapath on the guest's own thread, which cannot end the grant in between.
 */
export interface TxZeroCopy {
  deliver(memory: Uint8Array, at: number, len: number): void;
  flush(): void;
}

/** Responses pushed at least this often within a sweep (netback's NAPI weight). */
const RESPONSE_BATCH = 64;
/**
 * The queue's frame buffer: a batch of one-slot packets one after another (each from 8 bytes),
 * or one packet of several slots, whose total size is a u16.
 */
const FRAMES_BYTES = 64 * 1024;
/**
 * single()'s answer for a packet whose copy is batched, sent and answered by flushSingles():
 * no netif status (those are -2 to 1).
 */
const PENDING = 2;

export class NetbackTx {
  /** Set once a fatal error is reported: the ring is never read again. */
  private dead = false;
  /** The private copy of the slot being looked at, reused from one request to the next. */
  private readonly req: TxRequest = { gref: 0, offset: 0, flags: 0, id: 0, size: 0 };
  /** Where frames are gathered; made on first use, so an idle vif costs nothing. */
  private frames: Uint8Array | null = null;
  /** One-slot packets whose copies wait to be done together; per packet, its id and response slot. */
  private readonly singles = new GrantCopyBatch(RESPONSE_BATCH);
  private readonly singleIds = new Uint16Array(RESPONSE_BATCH);
  private readonly singleRsp = new Uint32Array(RESPONSE_BATCH);
  private readonly singleFlags = new Uint16Array(RESPONSE_BATCH);
  /** Where the next batched packet goes in `frames`. */
  private singlesAt = 0;
  /**
   * The views lent for each place in a batch (a packet of several slots is place 0). Frames of
   * one size in a row land at the same places batch after batch: their views are made once (a
   * view costs more than a small copy).
   */
  private readonly views: Array<Uint8Array | undefined> = [];
  /** The slots of a packet of several, copied in one call: its first and at most MAX_SKB_SLOTS more. */
  private readonly slots = new GrantCopyBatch(MAX_SKB_SLOTS + 1);

  /** Zero-copy reads of the guest's pages, when both the platform and the peer can do them. */
  private readonly direct: DirectGrantAccess | null;

  constructor(
    private readonly ring: BackRing,
    private readonly grants: GrantCopier,
    /** The frontend's domain, whose grants the requests name. */
    private readonly frontend: number,
    private readonly deliver: TxDeliver,
    private readonly stats: VifCounters,
    private readonly log: Logger,
    private readonly fatal: FatalHandler,
    /** The peer takes a virtio_net_hdr: blank checksums and GSO go out as they are. */
    private readonly peerVnetHdr = false,
    private readonly zeroCopy: TxZeroCopy | null = null,
    /** The vif's multicast list, which the guest's MCAST_ADD / _DEL extras change (shared by its queues). */
    private readonly mcast = new MulticastList(),
  ) {
    // Frames whose header says something (a blank checksum to finish or describe, a validated
    // one for the kernel) take the copying path; plain ones may go from where they lie.
    this.copyFlags = peerVnetHdr ? NETTXF_csum_blank | NETTXF_data_validated : NETTXF_csum_blank;
    this.direct = zeroCopy !== null ? grants.direct : null;
  }

  private readonly copyFlags: number;

  /**
   * The queue's credit (netback's rate limit), checked before each packet is taken; null:
   * unlimited.
   */
  credit: TxCredit | null = null;

  /**
   * Set by process(): it stopped at its budget with requests left (the queue polls again
   * soon), or at the rate limit (the credit's timer resumes it).
   */
  more = false;

  /**
   * Consumes pending requests, at most `budget` packets (netback's NAPI weight; unbounded by
   * default, as tests drive it); returns whether the frontend must be notified.
   */
  process(budget = Infinity): boolean {
    const ring = this.ring;
    const sring = ring.sring;
    let notify = false;
    /** Packets taken this sweep: counted rather than read off the shared ring. */
    let packets = 0;
    this.more = false;
    while (!this.dead) {
      // One snapshot of req_prod per sweep; everything below works from it.
      const rp = sring.reqProd;
      if (wrapSub(rp, ring.reqCons) > ring.size || wrapSub(rp, ring.rspProdPvt) > ring.size) {
        return this.die(`Impossible number of requests. req_prod ${rp}, req_cons ${ring.reqCons}, size ${ring.size}`, notify);
      }
      while (ring.reqCons !== rp) {
        if (packets >= budget) {
          // A frontend that never stops producing must not hold the loop: the rest waits a turn.
          this.more = true;
          return this.publish() || notify;
        }
        // Answered slots go back in batches, as netback's NAPI budget does: a frontend on
        // another CPU refills them while the rest of the sweep is still being worked.
        if (++packets % RESPONSE_BATCH === 0 && this.publish()) notify = true;
        const first = readTxRequestInto(sring.view, sring.slotOffset(ring.reqCons), this.req);
        // Left on the ring until the credit refills (read again then, as netback does).
        if (this.credit !== null && !this.credit.take(first.size)) {
          this.more = true;
          return this.publish() || notify;
        }
        if ((first.flags & (NETTXF_extra_info | NETTXF_more_data)) === 0) {
          // The common case, one slot and no extras, without the general parser's bookkeeping.
          ring.reqCons = (ring.reqCons + 1) >>> 0;
          const rsp = ring.rspProdPvt;
          ring.rspProdPvt = (rsp + 1) >>> 0;
          const status = this.single(first, rsp);
          if (this.dead) return notify;
          if (status !== PENDING) writeTxResponse(sring.view, sring.slotOffset(rsp), first.id, status);
          continue;
        }
        // Packets go out in ring order: the batched ones first.
        this.flushSingles();
        if (this.dead) return notify;
        // The general parser keeps the request it is given: it gets a copy of the scratch one.
        const parsed = parseTxPacket(sring, ring.reqCons, rp, { ...first });
        if (parsed.kind === 'fatal') return this.die(parsed.reason, notify);
        ring.reqCons = (ring.reqCons + parsed.slots.length) >>> 0;
        let status: number;
        if (parsed.kind === 'drop') {
          status = this.guestError(parsed.slots[0]!.id, parsed.reason);
        } else if (parsed.mcast) {
          status = this.multicast(parsed.mcast.type === XEN_NETIF_EXTRA_TYPE_MCAST_ADD, parsed.mcast.addr);
        } else {
          const frame = this.gather(parsed.first, parsed.frags, parsed.total);
          const headers = parsed.gso && typeof frame !== 'string' ? gsoHeaders(frame, parsed.gso.gsoType) : null;
          if (typeof frame === 'string') {
            status = this.guestError(parsed.first.id, frame);
          } else if (typeof headers === 'string') {
            return this.die(`GSO packet without a valid header: ${headers}`, notify);
          } else {
            const gso = parsed.gso && headers ? { size: parsed.gso.gsoSize, type: parsed.gso.gsoType, headers } : null;
            status = this.send(parsed.first.id, frame, parsed.first.flags, gso);
          }
          // deliver() may have disabled or disconnected the vif; the ring is not ours then.
          if (this.dead) return notify;
        }
        this.respond(parsed.slots, status);
      }
      if (this.publish()) notify = true;
      if (!ring.finalCheckForRequests()) return notify;
    }
    return notify;
  }

  /** Pushes the responses written so far, after the peer has written what it holds of their frames. */
  private publish(): boolean {
    this.flushSingles();
    // A peer that ended the vif from inside deliver(): the ring is not ours any more.
    if (this.dead) return false;
    this.zeroCopy?.flush();
    return this.ring.pushResponses();
  }

  /**
   * A one-slot packet: netback's checks for it (xenvif_tx_build_gops: the runt and the page crossing; the latter non-fatal, see
   * tx-parse.ts), then its copy batched (PENDING: answered into response slot `rsp` by
   * flushSingles()), or sent from where it lies by a zero-copy peer.
   */
  private single(req: TxRequest, rsp: number): number {
    if (req.size < ETH_HLEN) return this.guestError(req.id, `Bad packet size: ${req.size}`);
    if (req.offset + req.size > PAGE_SIZE) {
      return this.guestError(req.id, `txreq.offset: ${req.offset}, size: ${req.size}, end: ${req.offset + req.size}`);
    }
    if (this.direct !== null && (req.flags & this.copyFlags) === 0) {
      const at = this.direct.readableAt(this.frontend, req.gref, req.offset, req.size);
      if (at < 0) return this.guestError(req.id, `tx gref dereference failed (${req.gref}): status ${at}`);
      // Frames reach the peer in ring order: the batched copies go before this one.
      this.flushSingles();
      if (this.dead) return PENDING;
      this.stats.txPackets++;
      this.stats.txBytes += req.size;
      this.zeroCopy!.deliver(this.direct.memory(this.frontend), at, req.size);
      return NETIF_RSP_OKAY;
    }
    if (this.singles.full || this.singlesAt + req.size > FRAMES_BYTES) this.flushSingles();
    if (this.dead) return PENDING;
    const n = this.singles.count;
    this.singles.add(req.gref, req.offset, this.singlesAt, req.size);
    this.singleIds[n] = req.id;
    this.singleRsp[n] = rsp;
    this.singleFlags[n] = req.flags;
    this.singlesAt = (this.singlesAt + req.size + 7) & ~7;
    return PENDING;
  }

  /** Copies the batched one-slot packets in one call, then sends and answers each, in ring order. */
  private flushSingles(): void {
    const batch = this.singles;
    const count = batch.count;
    if (count === 0) return;
    this.grants.copy(this.frontend, false, batch, this.framesBuf());
    batch.clear();
    this.singlesAt = 0;
    const view = this.ring.sring.view;
    for (let i = 0; i < count; i++) {
      const id = this.singleIds[i]!;
      const gntst = batch.status(i);
      const status = gntst === GNTST.okay
        ? this.send(id, this.lend(i, batch.localOffset(i), batch.length(i)), this.singleFlags[i]!, null)
        : this.guestError(id, `tx gref dereference failed (${batch.ref(i)}): status ${gntst}`);
      // deliver() may have disabled or disconnected the vif; the ring is not ours then.
      if (this.dead) return;
      writeTxResponse(view, this.ring.sring.slotOffset(this.singleRsp[i]!), id, status);
    }
  }

  /**
   * Hands a gathered packet to the host side: with a peer that takes a virtio_net_hdr, blank
   * checksums and GSO stay for the kernel to finish; otherwise blank checksums are filled in
   * here (a GSO packet then goes out whole, as netback without GSO support would segment it).
   */
  private send(id: number, frame: Uint8Array, flags: number, gso: { size: number; type: number; headers: GsoHeaders } | null): number {
    let hdr: VirtioNetHdr | undefined;
    if (this.peerVnetHdr) {
      const h = txVnetHdr(frame, flags, gso);
      if (typeof h === 'string') return this.guestError(id, h);
      hdr = h;
    } else if (flags & NETTXF_csum_blank) {
      fillL4Checksum(frame);
    }
    this.stats.txPackets++;
    this.stats.txBytes += frame.length;
    this.deliver(frame, hdr);
    return NETIF_RSP_OKAY;
  }

  /** Stops this path for good (the vif is being disabled or disconnected). */
  stop(): void {
    this.dead = true;
  }

  /** One response per consumed slot, in ring order; extras get NETIF_RSP_NULL. */
  private respond(slots: TxSlotRef[], status: number): void {
    const ring = this.ring;
    const view = ring.sring.view;
    for (const s of slots) {
      writeTxResponse(view, ring.sring.slotOffset(ring.rspProdPvt), s.id, s.extra ? NETIF_RSP_NULL : status);
      ring.rspProdPvt = (ring.rspProdPvt + 1) >>> 0;
    }
  }

  private framesBuf(): Uint8Array {
    return this.frames ??= new Uint8Array(FRAMES_BYTES);
  }

  /** `len` bytes of the frame buffer at `at`, to be lent to deliver() as place `i`'s frame. */
  private lend(i: number, at: number, len: number): Uint8Array {
    const v = this.views[i];
    if (v !== undefined && v.byteOffset === at && v.length === len) return v;
    // A view made on the buffer directly: subarray()'s species lookup costs more than a small copy.
    return (this.views[i] = new Uint8Array(this.framesBuf().buffer, at, len));
  }

  /** Copies the packet's slots out of the granted pages, in one call; a string says which copy failed. */
  private gather(first: TxRequest, frags: TxRequest[], total: number): Uint8Array | string {
    // The batch was sent before this packet was read: the buffer is this packet's.
    const frame = this.lend(0, 0, total);
    const slots = this.slots;
    slots.clear();
    let at = 0;
    for (let i = -1; i < frags.length; i++) {
      const req = i < 0 ? first : frags[i]!;
      slots.add(req.gref, req.offset, at, req.size);
      at += req.size;
    }
    if (this.grants.copy(this.frontend, false, slots, frame) === 0) return frame;
    let failed = 0;
    while (slots.status(failed) === GNTST.okay) failed++;
    return `tx gref dereference failed (${slots.ref(failed)}): status ${slots.status(failed)}`;
  }

  private multicast(add: boolean, addr: Uint8Array): number {
    if (!add) {
      this.mcast.del(addr);
      return NETIF_RSP_OKAY;
    }
    return this.mcast.add(addr) ? NETIF_RSP_OKAY : this.guestError(0, 'Too many multicast addresses');
  }

  private die(reason: string, notify: boolean): boolean {
    // What came before the fatal request goes out, as netback submits the copies it had built.
    this.flushSingles();
    this.dead = true;
    this.fatal(reason);
    return notify;
  }

  private guestError(id: number, reason: string): number {
    this.stats.txErrors++;
    if (this.log.enabled('debug')) this.log.debug(`guest error: tx request id ${id}: ${reason}`);
    return NETIF_RSP_ERROR;
  }
}
