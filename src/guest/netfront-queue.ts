// The data plane of a netfront (Linux's struct netfront_queue): the tx and rx rings, the grants
// and pages behind them, the event channel, and netfront's distrust of what the backend writes.
//
// Event channels: one per queue, or with split channels (the backend's
// feature-split-event-channels) one for tx and one for rx, each kicked and serviced on its own,
// as setup_netfront_split() and xennet_tx_interrupt / xennet_rx_interrupt.
//
// TX: a frame is copied into pages owned by its tx ids (one per slot, chained by more_data with
// the backend's feature-sg; a GSO frame's extra-info slot right after the first), granted
// read-only, and each grant is ended when its response arrives; a grant the backend still has
// mapped then means the backend is broken. RX: every ring slot holds one page granted writable
// (zeroed when first posted; reposted as it is, since only the backend ever wrote into it, as
// Linux's page pool recycles rx pages); a response's slot position (not its id) names the
// buffer, as in Linux; multi-slot packets and their extras pass xennet_get_responses()'s checks
// or are dropped. The ring's pages are consecutive frames, each reposted to its own slot, so a
// packet in slots in a row is one run of guest memory and is lent to the stack where it lies;
// the pages go back to the backend once the batch is delivered.
//
// Every response is copied out of the shared page once (XSA-155) and the producer index is read
// once per batch. Requests are pushed once per burst, as Linux does with xmit_more: frames sent
// in one go are written at once and req_prod moves (and the backend is notified) at the end of
// the callback that sent them. A backend that breaks the protocol marks the device broken
// ("Disabled for further use"): from then on nothing is read, sent or notified until teardown.

import { FrontRing, PAGE_SIZE, SharedRing, wrapSub } from '../protocol/ring.js';
import {
  ETH_HLEN, NET_RX_RING_SIZE, NET_TX_RING_SIZE, NETIF_RSP_NULL, NETIF_RSP_OKAY, NETRXF_csum_blank,
  NETRXF_data_validated, NETRXF_extra_info, NETRXF_more_data, RX_SLOT_SIZE, TX_SLOT_SIZE,
  XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_TYPE_MAX, XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6, XEN_NETIF_MAX_TX_SIZE, XEN_NETIF_NR_SLOTS_MIN, NETTXF_extra_info, NETTXF_more_data,
  readRxResponse, readTxResponseInto, writeGsoExtra, writeRxRequest, writeTxRequest, type TxRequest, type TxResponse,
} from '../protocol/netif.js';
import { FrameArena } from '../common/frame-arena.js';
import { FrameSlab } from '../common/frame-slab.js';
import type { Domain } from '../xen/emulated/domain.js';
import type { EventChannels } from '../xen/emulated/event-channel.js';
import { errorText, type GuestLog } from './xs.js';

/** Linux netfront's RX_COPY_THRESHOLD: a first slot this small earns the packet one more slot. */
const RX_COPY_THRESHOLD = 256;
/** Rounds of tx-gc + rx-poll per upcall before yielding to the rest of the process. */
const ROUNDS_PER_UPCALL = 64;

export interface NetfrontCounters {
  rxPackets: number;
  rxBytes: number;
  /** Responses that broke the protocol (bad status/offset, bad extras, too many slots): packet dropped. */
  rxErrors: number;
  /** Well-formed packets nobody could use (runt frames, no receiver). */
  rxDropped: number;
  /** Tx responses with NETIF_RSP_OKAY, and their bytes. */
  txPackets: number;
  txBytes: number;
  /** Tx responses with an error status. */
  txErrors: number;
  /** Frames refused by send() because the device was not usable (not connected, broken, no grant). */
  txDropped: number;
  /** Received packets that came with a GSO extra, and packets over more than one data slot. */
  rxGso: number;
  rxMultiSlot: number;
  /** GSO packets queued (with a GSO extra), and the largest one's length. */
  txGso: number;
  txGsoMaxBytes: number;
}

export function newCounters(): NetfrontCounters {
  return {
    rxPackets: 0, rxBytes: 0, rxErrors: 0, rxDropped: 0, txPackets: 0, txBytes: 0, txErrors: 0, txDropped: 0,
    rxGso: 0, rxMultiSlot: 0, txGso: 0, txGsoMaxBytes: 0,
  };
}

/** A GSO packet's extra: segment size (the MSS) and XEN_NETIF_GSO_TYPE_*. */
export interface TxGso {
  size: number;
  type: number;
}

export interface RxInfo {
  /** NETRXF_csum_blank: the L4 checksum was never filled in. */
  csumBlank: boolean;
  /** NETRXF_data_validated: the backend vouches for the checksum. */
  dataValidated: boolean;
  slots: number;
  gso?: { size: number; type: number };
}

/** A tx request pushed verbatim, for tests of how a backend treats a misbehaving frontend. */
export interface RawTxRequest {
  /** Omitted: a page of this request's own, holding `data` at `offset`, is granted read-only. */
  gref?: number;
  offset?: number;
  size: number;
  flags?: number;
  /** Omitted: a free id. Given: must be < 256 and not pending. */
  id?: number;
  data?: Uint8Array;
}

/** Raw bytes of an extra-info slot (8 bytes used); the backend answers it with NETIF_RSP_NULL. */
export interface RawTxExtra {
  extra: Uint8Array;
}

export interface TxResult {
  id: number;
  status: number;
}

/** A grant the backend still had mapped at teardown: its page may only be freed once it is released. */
export interface Leftover {
  ref: number;
  gfn: number;
  what: string;
}

export interface QueueHooks {
  /** Received frames, lent for the call: a receiver that keeps one copies it. */
  onFrames(frames: Array<{ frame: Uint8Array; info: RxInfo }>): void;
  /** Tx responses freed slots: a sender that found the ring full may try again. */
  onTxSpace?(): void;
  onBroken(reason: string): void;
  log: GuestLog;
}

interface TxSlot {
  /** The grant netfront made for this request, ended when the response arrives; null for a foreign gref. */
  gref: number | null;
  size: number;
  /** A later slot of a multi-slot packet: the packet is counted on its first slot. */
  frag: boolean;
  settle: { resolve: (r: TxResult) => void; reject: (e: Error) => void } | undefined;
}

/** Which rings an upcall services: both on a shared port, one on a split one. */
type Rings = 'both' | 'tx' | 'rx';

const EMPTY_FRAME: Uint8Array = new Uint8Array(0);

interface RxBuf {
  gfn: number;
  gref: number;
}

/** A buffer a packet consumed: its bytes' place in the page, and whether its grant was ended. */
interface RxTaken {
  buf: RxBuf;
  offset: number;
  size: number;
  ended: boolean;
}

export interface RingInfo {
  reqProd: number;
  reqProdPvt: number;
  reqEvent: number;
  rspProd: number;
  rspCons: number;
  rspEvent: number;
  /** Requests pushed that have no response yet. */
  inFlight: number;
}

export interface QueueInfo {
  txRingRef: number;
  rxRingRef: number;
  port: number;
  /** The rx port with split event channels; `port` (then the tx one) otherwise. */
  rxPort: number;
  tx: RingInfo;
  rx: RingInfo;
}

export class NetfrontQueue {
  readonly txRingRef: number;
  readonly rxRingRef: number;
  /** The one port, or the tx port with split event channels. */
  readonly port: number;
  readonly rxPort: number;
  broken: string | null = null;

  private readonly tx: FrontRing;
  private readonly rx: FrontRing;
  private readonly txRingGfn: number;
  private readonly rxRingGfn: number;
  private readonly txPages: Array<number | undefined> = [];
  /** The bytes of txPages[id], looked up once. */
  private readonly txPageViews: Array<Uint8Array | undefined> = [];
  private readonly txPending: Array<TxSlot | null> = new Array(NET_TX_RING_SIZE).fill(null);
  /** One TxSlot per id, reused: txPending[id] points at it while the request is pending. */
  private readonly txSlots: TxSlot[] = Array.from({ length: NET_TX_RING_SIZE },
    () => ({ gref: null, size: 0, frag: false, settle: undefined }));
  /** Scratch copies for writing requests and reading responses, so the hot loops allocate nothing. */
  private readonly txReq: TxRequest = { gref: 0, offset: 0, flags: 0, id: 0, size: 0 };
  private readonly txRsp: TxResponse = { id: 0, status: 0 };
  private txPushQueued = false;
  private readonly txPushTask = (): void => {
    this.txPushQueued = false;
    if (this.usable) this.pushTx();
  };
  private readonly txFreeIds: number[] = [];
  /** Tx grants the backend kept mapped after answering: their pages are never reused. */
  private readonly txStuck: Leftover[] = [];
  private readonly rxSlots: Array<RxBuf | null> = new Array(NET_RX_RING_SIZE).fill(null);
  private readonly rxAll = new Set<RxBuf>();
  /**
   * Where received frames are copied to, placed as the bytes were in their page: lent from the
   * arena for one delivery (a full ring's worth fits), from slabs when a delivery made from
   * inside another one has used the arena up.
   */
  private readonly rxArena = new FrameArena(NET_RX_RING_SIZE * (PAGE_SIZE + 8));
  private readonly rxFrames = new FrameSlab();
  /** onFrames is running: the frames it was handed are still lent, the arena is not reset. */
  private delivering = false;
  /** rxPacket's data slots in ring order, reused from packet to packet. */
  private readonly rxData: RxTaken[] = [];
  private stopped = false;
  private yieldScheduled = false;

  /**
   * Allocates and grants both ring pages, fills the rx ring and allocates the event channel.
   * On failure everything taken so far is given back before the error is thrown.
   */
  static create(domain: Domain, backendId: number, evtchn: EventChannels, counters: NetfrontCounters,
    hooks: QueueHooks, split = false): NetfrontQueue {
    const undo: Array<() => void> = [];
    try {
      const ring = (what: string) => {
        const gfn = domain.memory.allocPage();
        undo.push(() => domain.memory.freePage(gfn));
        new SharedRing(domain.memory.page(gfn), what === 'tx' ? TX_SLOT_SIZE : RX_SLOT_SIZE).init();
        const ref = domain.grants.grantAccess(backendId, gfn, false);
        undo.push(() => domain.grants.releaseRef(ref));
        return { gfn, ref };
      };
      const tx = ring('tx');
      const rx = ring('rx');
      const port = evtchn.allocUnbound(domain.domid, backendId);
      undo.push(() => evtchn.close(domain.domid, port));
      const rxPort = split ? evtchn.allocUnbound(domain.domid, backendId) : port;
      if (split) undo.push(() => evtchn.close(domain.domid, rxPort));
      const q = new NetfrontQueue(domain, backendId, evtchn, counters, hooks, tx, rx, port, rxPort);
      q.fillRx();
      if (split) {
        evtchn.setHandler(domain.domid, port, () => q.upcall('tx'));
        evtchn.setHandler(domain.domid, rxPort, () => q.upcall('rx'));
      } else {
        evtchn.setHandler(domain.domid, port, () => q.upcall('both'));
      }
      return q;
    } catch (err) {
      for (const step of undo.reverse()) {
        try { step(); } catch { /* keep undoing the rest */ }
      }
      throw err;
    }
  }

  private constructor(private readonly domain: Domain, private readonly backendId: number,
    private readonly evtchn: EventChannels, private readonly counters: NetfrontCounters,
    private readonly hooks: QueueHooks, txRing: { gfn: number; ref: number }, rxRing: { gfn: number; ref: number },
    port: number, rxPort: number) {
    this.txRingGfn = txRing.gfn;
    this.txRingRef = txRing.ref;
    this.rxRingGfn = rxRing.gfn;
    this.rxRingRef = rxRing.ref;
    this.port = port;
    this.rxPort = rxPort;
    this.tx = new FrontRing(new SharedRing(domain.memory.page(txRing.gfn), TX_SLOT_SIZE));
    this.rx = new FrontRing(new SharedRing(domain.memory.page(rxRing.gfn), RX_SLOT_SIZE));
    for (let id = NET_TX_RING_SIZE - 1; id >= 0; id--) this.txFreeIds.push(id);
  }

  get usable(): boolean {
    return !this.stopped && this.broken === null;
  }

  // --- transmit

  /** The backend advertised feature-sg: a frame may span several slots (a page each). */
  sg = false;

  /**
   * Queues one frame, in one slot, or with `sg` one page per slot chained by more_data (at most
   * 16 for 64 KiB, within the 18-slot rule), a GSO extra after the first when `gso` is given;
   * false when the ring (or the id space) is full.
   */
  send(frame: Uint8Array, flags: number, gso?: TxGso): boolean {
    const max = this.sg ? XEN_NETIF_MAX_TX_SIZE : PAGE_SIZE;
    if (frame.length < ETH_HLEN || frame.length > max) {
      throw new RangeError(`frame of ${frame.length} bytes cannot be sent (${ETH_HLEN}..${max})`);
    }
    if (!this.usable) {
      this.counters.txDropped++;
      return false;
    }
    const n = Math.ceil(frame.length / PAGE_SIZE);
    if (!this.txRoomFor(n, gso !== undefined)) return false;
    if (n > 1 || gso) return this.sendChain(frame, flags, n, gso);
    const id = this.txFreeIds.pop()!;
    let gref: number;
    try {
      const gfn = this.txPage(id);
      this.txPageViews[id]!.set(frame, 0);
      gref = this.domain.grants.grantAccess(this.backendId, gfn, true);
    } catch (err) {
      this.txFreeIds.push(id);
      return this.grantFailed(err);
    }
    this.setPending(id, gref, frame.length, false);
    this.putTxRequest(gref, 0, flags, id, frame.length);
    this.pushTxSoon();
    return true;
  }

  /**
   * Whether `n` slots (and an extra) are free, collecting answered ones first when they are not,
   * as xennet_start_xmit collects them itself rather than wait for the backend's interrupt.
   */
  private txRoomFor(n: number, extra: boolean): boolean {
    if (this.txFits(n, extra)) return true;
    // No onTxSpace from here: a sender told of room in the middle of its own send would send
    // again first, and its frames would leave out of order.
    this.txGc(false);
    return this.usable && this.txFits(n, extra);
  }

  private txFits(n: number, extra: boolean): boolean {
    return this.tx.freeRequests() >= n + (extra ? 1 : 0) && this.txFreeIds.length >= n;
  }

  private setPending(id: number, gref: number | null, size: number, frag: boolean,
    settle?: TxSlot['settle']): void {
    const slot = this.txSlots[id]!;
    slot.gref = gref;
    slot.size = size;
    slot.frag = frag;
    slot.settle = settle;
    this.txPending[id] = slot;
  }

  /** A frame over several slots: the first says the total, more_data chains them, extras follow the first. */
  private sendChain(frame: Uint8Array, flags: number, n: number, gso?: TxGso): boolean {
    const ids = this.txFreeIds.splice(this.txFreeIds.length - n, n);
    const grefs: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const gfn = this.txPage(ids[i]!);
        this.txPageViews[ids[i]!]!.set(frame.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), 0);
        grefs.push(this.domain.grants.grantAccess(this.backendId, gfn, true));
      }
    } catch (err) {
      for (const ref of grefs) this.domain.grants.releaseRef(ref);
      this.txFreeIds.push(...ids);
      return this.grantFailed(err);
    }
    for (let i = 0; i < n; i++) {
      const size = i === 0 ? frame.length : Math.min(PAGE_SIZE, frame.length - i * PAGE_SIZE);
      this.setPending(ids[i]!, grefs[i]!, i === 0 ? size : 0, i !== 0);
      const first = i === 0 ? flags | (gso ? NETTXF_extra_info : 0) : 0;
      this.putTxRequest(grefs[i]!, 0, first | (i < n - 1 ? NETTXF_more_data : 0), ids[i]!, size);
      if (i === 0 && gso) this.putGsoExtra(gso);
    }
    if (gso) {
      this.counters.txGso++;
      this.counters.txGsoMaxBytes = Math.max(this.counters.txGsoMaxBytes, frame.length);
    }
    this.pushTxSoon();
    return true;
  }

  private putGsoExtra(gso: TxGso): void {
    const extra = new Uint8Array(8);
    writeGsoExtra(new DataView(extra.buffer), 0, { flags: 0, size: gso.size, type: gso.type });
    this.putTxExtra(extra);
  }

  private grantFailed(err: unknown): false {
    this.counters.txDropped++;
    this.hooks.log(`tx: no grant for a frame: ${errorText(err)}`);
    return false;
  }

  /** Pushes the given slots in one go and resolves with each request's response (null for extras). */
  injectTx(slots: Array<RawTxRequest | RawTxExtra>): Promise<Array<TxResult | null>> {
    if (!this.usable) return Promise.reject(new Error(`cannot inject tx requests: ${this.broken ?? 'queue stopped'}`));
    if (slots.length > this.tx.freeRequests()) {
      return Promise.reject(new Error(`cannot inject ${slots.length} tx slots: ${this.tx.freeRequests()} free`));
    }
    const results: Array<Promise<TxResult> | null> = [];
    try {
      for (const slot of slots) results.push('extra' in slot ? this.putTxExtra(slot.extra) : this.putRawTx(slot));
    } catch (err) {
      // The slots already written still get answered; nobody waits for them now.
      for (const r of results) r?.catch(() => undefined);
      return Promise.reject(err);
    } finally {
      // Whatever was written is pushed, so pending ids and the ring never disagree.
      this.pushTx();
    }
    return Promise.all(results);
  }

  private putRawTx(req: RawTxRequest): Promise<TxResult> {
    const id = req.id ?? this.txFreeIds[this.txFreeIds.length - 1];
    if (id === undefined || !Number.isInteger(id) || id < 0 || id >= NET_TX_RING_SIZE || this.txPending[id]) {
      throw new RangeError(`tx id ${id} is out of range or already pending`);
    }
    this.txFreeIds.splice(this.txFreeIds.lastIndexOf(id), 1);
    const offset = req.offset ?? 0;
    let own: number | null = null;
    if (req.gref === undefined) {
      const gfn = this.txPage(id);
      this.domain.memory.zero(gfn);
      const page = this.domain.memory.page(gfn);
      if (req.data) page.set(req.data.subarray(0, Math.max(0, PAGE_SIZE - offset)), Math.min(offset, PAGE_SIZE));
      try {
        own = this.domain.grants.grantAccess(this.backendId, gfn, true);
      } catch (err) {
        this.txFreeIds.push(id);
        throw err;
      }
    }
    return new Promise<TxResult>((resolve, reject) => {
      this.setPending(id, own, req.size, false, { resolve, reject });
      this.putTxRequest(own ?? req.gref!, offset, req.flags ?? 0, id, req.size);
    });
  }

  private putTxExtra(extra: Uint8Array): null {
    const at = this.tx.sring.slotOffset(this.tx.reqProdPvt);
    const slot = new Uint8Array(this.tx.sring.page.buffer, this.tx.sring.page.byteOffset + at, TX_SLOT_SIZE);
    slot.fill(0);
    slot.set(extra.subarray(0, TX_SLOT_SIZE));
    this.tx.reqProdPvt = (this.tx.reqProdPvt + 1) >>> 0;
    return null;
  }

  private putTxRequest(gref: number, offset: number, flags: number, id: number, size: number): void {
    const r = this.txReq;
    r.gref = gref;
    r.offset = offset;
    r.flags = flags;
    r.id = id;
    r.size = size;
    writeTxRequest(this.tx.sring.view, this.tx.sring.slotOffset(this.tx.reqProdPvt), r);
    this.tx.reqProdPvt = (this.tx.reqProdPvt + 1) >>> 0;
  }

  private pushTx(): void {
    if (this.tx.pushRequests()) this.notify(this.port);
  }

  /** The rest of this burst's frames go out with it: one push and at most one notify. */
  private pushTxSoon(): void {
    if (this.txPushQueued) return;
    this.txPushQueued = true;
    queueMicrotask(this.txPushTask);
  }

  private txPage(id: number): number {
    let gfn = this.txPages[id];
    if (gfn === undefined) {
      gfn = this.domain.memory.allocPage();
      this.txPages[id] = gfn;
      this.txPageViews[id] = this.domain.memory.page(gfn);
    }
    return gfn;
  }

  // --- the event channel

  private notify(port: number): void {
    try {
      this.evtchn.send(this.domain.domid, port);
    } catch (err) {
      this.hooks.log(`notify on port ${port} failed: ${errorText(err)}`);
    }
  }

  /** The upcall: never throws into the platform's dispatch. */
  private upcall(rings: Rings): void {
    try {
      this.service(rings);
    } catch (err) {
      this.markBroken(`upcall failed: ${errorText(err)}`);
    }
  }

  /** For operators: look at both rings now and raise the backend's port, whatever the indices say. */
  kick(): void {
    if (!this.usable) return;
    this.upcall('both');
    this.notify(this.port);
    if (this.rxPort !== this.port) this.notify(this.rxPort);
  }

  /** Collects tx responses and receives packets until both rings are quiet (final checks armed). */
  private service(rings: Rings): void {
    if (rings === 'tx') {
      if (this.usable) this.txGc();
      return;
    }
    for (let round = 0; round < ROUNDS_PER_UPCALL; round++) {
      if (!this.usable) return;
      if (rings === 'both') this.txGc();
      if (!this.usable) return;
      if (!this.rxPoll()) return;
    }
    // A backend that never stops producing gets its share, not the whole process.
    if (!this.yieldScheduled) {
      this.yieldScheduled = true;
      setImmediate(() => {
        this.yieldScheduled = false;
        this.upcall(rings);
      });
    }
  }

  // --- what the backend sends back

  private illegalResponses(ring: FrontRing, rp: number, which: string): string | null {
    if (wrapSub(rp, ring.rspCons) <= ring.size) return null;
    const back = wrapSub(ring.rspCons, rp);
    return back <= ring.size
      ? `Illegal number of responses on the ${which} ring: producer went backwards from ${ring.rspCons} to ${rp}`
      : `Illegal number of responses on the ${which} ring: ${wrapSub(rp, ring.rspCons)}`;
  }

  /** xennet_tx_buf_gc */
  private txGc(announce = true): void {
    let more: boolean;
    const freeBefore = this.txFreeIds.length;
    do {
      const rp = this.tx.sring.rspProd;
      const illegal = this.illegalResponses(this.tx, rp, 'tx');
      if (illegal) return this.markBroken(illegal);
      for (let cons = this.tx.rspCons; cons !== rp; cons = (cons + 1) >>> 0) {
        const rsp = readTxResponseInto(this.tx.sring.view, this.tx.sring.slotOffset(cons), this.txRsp);
        if (rsp.status === NETIF_RSP_NULL) continue;
        if (rsp.id >= this.tx.size) return this.markBroken(`Response has incorrect id (${rsp.id})`);
        const slot = this.txPending[rsp.id];
        if (!slot) return this.markBroken(`Response for inactive request (id ${rsp.id})`);
        this.txPending[rsp.id] = null;
        if (slot.gref !== null && !this.domain.grants.releaseRef(slot.gref)) {
          this.txStuck.push({ ref: slot.gref, gfn: this.txPages[rsp.id]!, what: `tx buffer ${rsp.id}` });
          slot.settle?.reject(new Error('Grant still in use by backend domain'));
          return this.markBroken(`Grant still in use by backend domain (tx id ${rsp.id}, gref ${slot.gref})`);
        }
        this.txFreeIds.push(rsp.id);
        if (slot.frag) {
          // Counted with the packet's first slot.
        } else if (rsp.status === NETIF_RSP_OKAY) {
          this.counters.txPackets++;
          this.counters.txBytes += slot.size;
        } else {
          this.counters.txErrors++;
        }
        slot.settle?.resolve({ id: rsp.id, status: rsp.status });
      }
      this.tx.rspCons = rp;
      // Interrupt mitigation as xen-netfront had it for years: the backend raises the channel
      // once half of what is outstanding has been answered, not for every response. The send
      // path collects answers itself, so a busy sender needs no interrupt at all.
      more = this.tx.finalCheckForResponses((wrapSub(this.tx.reqProdPvt, this.tx.rspCons) >>> 1) + 1);
    } while (more);
    if (announce && this.txFreeIds.length > freeBefore) this.hooks.onTxSpace?.();
  }

  /** xennet_poll: one pass over the responses present; true if more arrived meanwhile. */
  private rxPoll(): boolean {
    const rp = this.rx.sring.rspProd;
    const illegal = this.illegalResponses(this.rx, rp, 'rx');
    if (illegal) {
      this.markBroken(illegal);
      return false;
    }
    // Nothing lent is outstanding unless this poll runs from inside a delivery.
    if (!this.delivering) this.rxArena.reset();
    const frames: Array<{ frame: Uint8Array; info: RxInfo }> = [];
    const repost: RxBuf[] = [];
    let i = this.rx.rspCons;
    while (i !== rp) {
      const pkt = this.rxPacket(i, rp, repost);
      if (pkt.kind === 'fatal') {
        this.markBroken(pkt.reason);
        return false;
      }
      i = pkt.next;
      if (pkt.kind === 'error') {
        this.counters.rxErrors++;
        this.hooks.log(`rx: dropped a packet: ${pkt.reason}`);
      } else if (pkt.frame.length < ETH_HLEN) {
        this.counters.rxDropped++;
      } else {
        this.counters.rxPackets++;
        this.counters.rxBytes += pkt.frame.length;
        if (pkt.info.gso) this.counters.rxGso++;
        if (pkt.info.slots > 1) this.counters.rxMultiSlot++;
        frames.push({ frame: pkt.frame, info: pkt.info });
      }
    }
    this.rx.rspCons = rp;
    // Frames may be the pages themselves: the backend gets them back once they are delivered.
    if (frames.length > 0) this.deliver(frames);
    if (!this.usable) return false;
    for (const buf of repost) this.postRx(buf);
    if (this.rx.pushRequests()) this.notify(this.rxPort);
    return this.usable && this.rx.finalCheckForResponses();
  }

  private deliver(frames: Array<{ frame: Uint8Array; info: RxInfo }>): void {
    const outer = !this.delivering;
    this.delivering = true;
    try {
      this.hooks.onFrames(frames);
    } finally {
      if (outer) this.delivering = false;
    }
  }

  /**
   * xennet_get_responses (+ get_extras): one packet starting at position `cons`. Every buffer
   * the packet consumed goes to `repost` in ring order (so each page keeps its ring slot):
   * as it is if the backend never wrote into it, else under a new grant.
   */
  private rxPacket(cons: number, rp: number, repost: RxBuf[]):
    | { kind: 'fatal'; next: number; reason: string }
    | { kind: 'error'; next: number; reason: string }
    | { kind: 'frame'; next: number; frame: Uint8Array; info: RxInfo } {
    const view = this.rx.sring.view;
    const first = readRxResponse(view, this.rx.sring.slotOffset(cons));
    const firstBuf = this.takeRx(cons);
    let pos = cons;
    let error: string | undefined;
    let gso: RxInfo['gso'];
    // The extra slots' buffers, in ring order after the first data slot's.
    const extras: RxTaken[] = [];

    if (first.flags & NETRXF_extra_info) {
      let more = true;
      while (more) {
        if (((pos + 1) >>> 0) === rp) {
          error ??= 'Missing extra info';
          break;
        }
        pos = (pos + 1) >>> 0;
        const at = this.rx.sring.slotOffset(pos);
        const type = view.getUint8(at);
        const flags = view.getUint8(at + 1);
        const gsoSize = view.getUint16(at + 2, true);
        const gsoType = view.getUint8(at + 4);
        const buf = this.takeRx(pos);
        if (buf) extras.push({ buf, offset: 0, size: 0, ended: false });
        if (type === 0 || type >= XEN_NETIF_EXTRA_TYPE_MAX) error ??= `Invalid extra type: ${type}`;
        else if (type === XEN_NETIF_EXTRA_TYPE_GSO) gso = { size: gsoSize, type: gsoType };
        more = (flags & XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
      }
    }

    const max = XEN_NETIF_NR_SLOTS_MIN + (first.status <= RX_COPY_THRESHOLD ? 1 : 0);
    // The data slots' buffers and where their bytes are, gathered before the frame is made;
    // without an error, every one of them has had its grant ended.
    const data = this.rxData;
    data.length = 0;
    let total = 0;
    let rsp = first;
    let buf = firstBuf;
    let slots = 1;
    for (;;) {
      if (rsp.status < 0 || rsp.offset + rsp.status > PAGE_SIZE) {
        error ??= `rx->offset: ${rsp.offset}, size: ${rsp.status}`;
        if (buf) data.push({ buf, offset: 0, size: 0, ended: false });
      } else if (!buf) {
        error ??= `Bad rx response id ${rsp.id}`;
      } else {
        if (!this.domain.grants.endAccess(buf.gref)) {
          // Still mapped: the buffer stays where teardown will find it (rxAll); the ones taken
          // before it go back to the ring.
          this.recycleRx(data, extras, repost);
          return { kind: 'fatal', next: pos, reason: `Grant still in use by backend domain (rx gref ${buf.gref})` };
        }
        data.push({ buf, offset: rsp.offset, size: rsp.status, ended: true });
        total += rsp.status;
      }
      if (!(rsp.flags & NETRXF_more_data)) break;
      if (((pos + 1) >>> 0) === rp) {
        error ??= 'Need more slots';
        break;
      }
      pos = (pos + 1) >>> 0;
      rsp = readRxResponse(view, this.rx.sring.slotOffset(pos));
      buf = this.takeRx(pos);
      slots++;
    }
    const next = (pos + 1) >>> 0;
    if (slots > max) error ??= `Too many slots (${slots} > ${max})`;
    if (!error && gso) {
      if (gso.size === 0) error = 'GSO size must not be zero.';
      else if (gso.type !== XEN_NETIF_GSO_TYPE_TCPV4 && gso.type !== XEN_NETIF_GSO_TYPE_TCPV6) error = `Bad GSO type ${gso.type}.`;
    }
    let frame = EMPTY_FRAME;
    if (!error) frame = this.inPlace(data, extras, total) ?? this.copied(data, total);
    this.recycleRx(data, extras, repost);
    if (error) return { kind: 'error', next, reason: error };
    const info: RxInfo = {
      csumBlank: (first.flags & NETRXF_csum_blank) !== 0,
      dataValidated: (first.flags & NETRXF_data_validated) !== 0,
      slots,
    };
    if (gso) info.gso = gso;
    return { kind: 'frame', next, frame, info };
  }

  /**
   * The packet as it lies in guest memory, lent without a copy (as Linux's netfront hands its
   * rx pages to the stack): when its data pages are consecutive frames, filled back to back.
   * A GSO packet's extra slot sits between the first two data slots; when its page lies
   * between theirs too, its grant is ended and the first slot's bytes (a page at most) move
   * into it. Null when the packet does not lie so: it is copied then.
   */
  private inPlace(data: RxTaken[], extras: RxTaken[], total: number): Uint8Array | null {
    if (data.length === 0) return null;
    const head = data[0]!;
    let start = head.buf.gfn;
    let gap = 0;
    if (data.length > 1 && extras.length === 1 && extras[0]!.buf.gfn === start + 1 && data[1]!.buf.gfn === start + 2) gap = 1;
    else if (extras.length > 0 && data.length > 1) return null;
    for (let i = 0; i < data.length; i++) {
      const t = data[i]!;
      if (i > 0 && (t.offset !== 0 || t.buf.gfn !== start + gap + i)) return null;
      if (i < data.length - 1 && t.offset + t.size !== PAGE_SIZE) return null;
    }
    const bytes = this.domain.memory.bytes;
    if (gap === 1) {
      const extra = extras[0]!;
      if (!this.domain.grants.endAccess(extra.buf.gref)) return null;
      extra.ended = true;
      const from = start * PAGE_SIZE + head.offset;
      bytes.copyWithin(from + PAGE_SIZE, from, from + head.size);
      start++;
    }
    return new Uint8Array(bytes.buffer, start * PAGE_SIZE + head.offset, total);
  }

  /** The packet copied out of its pages into one frame from the arena (or a slab). */
  private copied(data: RxTaken[], total: number): Uint8Array {
    // Placed as the first slot's bytes are in their page, so that each copy out of shared
    // memory goes word by word (the backend fills the following pages from their start).
    const skew = data.length > 0 ? data[0]!.offset : 0;
    const frame = this.rxArena.alloc(total, skew) ?? this.rxFrames.alloc(total, skew);
    let at = 0;
    for (const t of data) {
      const page = this.domain.memory.page(t.buf.gfn);
      frame.set(new Uint8Array(page.buffer, page.byteOffset + t.offset, t.size), at);
      at += t.size;
    }
    return frame;
  }

  /**
   * A packet's buffers back to `repost` in ring order: the first data slot's, the extras', the
   * other data slots'. Those whose grant was ended go under a new one.
   */
  private recycleRx(data: RxTaken[], extras: RxTaken[], repost: RxBuf[]): void {
    const back = ({ buf, ended }: RxTaken): void => {
      if (!ended) {
        repost.push(buf);
        return;
      }
      this.domain.grants.releaseRef(buf.gref);
      if (this.regrantRx(buf)) repost.push(buf);
    };
    if (data.length > 0) back(data[0]!);
    for (const extra of extras) back(extra);
    for (let i = 1; i < data.length; i++) back(data[i]!);
    data.length = 0;
  }

  private takeRx(pos: number): RxBuf | null {
    const idx = pos & this.rx.sring.mask;
    const buf = this.rxSlots[idx]!;
    this.rxSlots[idx] = null;
    return buf;
  }

  /** The buffer under a new grant. */
  private regrantRx(buf: RxBuf): boolean {
    try {
      buf.gref = this.domain.grants.grantAccess(this.backendId, buf.gfn, false);
      return true;
    } catch (err) {
      this.rxAll.delete(buf);
      this.domain.memory.freePage(buf.gfn);
      this.hooks.log(`rx: could not re-grant a buffer, ring runs one short: ${errorText(err)}`);
      return false;
    }
  }

  /** Writes an rx request for `buf` at req_prod_pvt (id = slot index); pushed by the caller. */
  private postRx(buf: RxBuf): void {
    const pos = this.rx.reqProdPvt;
    const idx = pos & this.rx.sring.mask;
    this.rxSlots[idx] = buf;
    writeRxRequest(this.rx.sring.view, this.rx.sring.slotOffset(pos), { id: idx, gref: buf.gref });
    this.rx.reqProdPvt = (pos + 1) >>> 0;
  }

  /**
   * xennet_alloc_rx_buffers at connect: one zeroed, writable-granted page per slot, the slots'
   * pages consecutive frames where memory allows, so that a packet filling slots in a row lies
   * in guest memory as one run (see inPlace).
   */
  private fillRx(): void {
    const missing = this.rx.size - wrapSub(this.rx.reqProdPvt, this.rx.rspCons);
    const run = missing > 0 ? this.domain.memory.allocRun(missing) : null;
    for (let i = 0; i < missing; i++) {
      const gfn = run !== null ? run + i : this.domain.memory.allocPage();
      let gref: number;
      try {
        gref = this.domain.grants.grantAccess(this.backendId, gfn, false);
      } catch (err) {
        this.domain.memory.freePage(gfn);
        if (run !== null) for (let j = i + 1; j < missing; j++) this.domain.memory.freePage(run + j);
        throw err;
      }
      const buf = { gfn, gref };
      this.rxAll.add(buf);
      this.postRx(buf);
    }
    this.rx.pushRequests();
  }

  // --- broken and teardown

  markBroken(reason: string): void {
    if (this.broken !== null) return;
    this.broken = reason;
    this.hooks.log(`${reason}; Disabled for further use`);
    this.rejectPending(`device broken: ${reason}`);
    this.hooks.onBroken(reason);
  }

  private rejectPending(why: string): void {
    for (const slot of this.txPending) slot?.settle?.reject(new Error(why));
    for (const slot of this.txPending) if (slot) slot.settle = undefined;
  }

  /**
   * Stops the queue for good: closes the port, ends every grant and frees every page it can.
   * Grants the backend still has mapped are returned with their pages, for the caller to retry.
   */
  teardown(): Leftover[] {
    if (this.stopped) return [];
    this.stopped = true;
    this.rejectPending('device torn down');
    for (const port of this.rxPort === this.port ? [this.port] : [this.port, this.rxPort]) {
      try {
        this.evtchn.setHandler(this.domain.domid, port, null);
        this.evtchn.close(this.domain.domid, port);
      } catch (err) {
        this.hooks.log(`closing port ${port} failed: ${errorText(err)}`);
      }
    }
    const left: Leftover[] = [];
    const release = (ref: number, gfn: number, what: string) => {
      if (this.domain.grants.releaseRef(ref)) this.domain.memory.freePage(gfn);
      else left.push({ ref, gfn, what });
    };
    const stuckPages = new Set<number>();
    for (const s of this.txStuck) {
      left.push(s);
      stuckPages.add(s.gfn);
    }
    this.txPending.forEach((slot, id) => {
      if (slot?.gref === null || !slot) return;
      if (this.domain.grants.releaseRef(slot.gref)) return;
      left.push({ ref: slot.gref, gfn: this.txPages[id]!, what: `tx buffer ${id}` });
      stuckPages.add(this.txPages[id]!);
    });
    for (const gfn of this.txPages) if (gfn !== undefined && !stuckPages.has(gfn)) this.domain.memory.freePage(gfn);
    for (const buf of this.rxAll) release(buf.gref, buf.gfn, `rx buffer gref ${buf.gref}`);
    this.rxAll.clear();
    release(this.txRingRef, this.txRingGfn, 'tx ring');
    release(this.rxRingRef, this.rxRingGfn, 'rx ring');
    return left;
  }

  info(): QueueInfo {
    const ring = (r: FrontRing): RingInfo => ({
      reqProd: r.sring.reqProd,
      reqProdPvt: r.reqProdPvt,
      reqEvent: r.sring.reqEvent,
      rspProd: r.sring.rspProd,
      rspCons: r.rspCons,
      rspEvent: r.sring.rspEvent,
      inFlight: wrapSub(r.reqProdPvt, r.rspCons),
    });
    return { txRingRef: this.txRingRef, rxRingRef: this.rxRingRef, port: this.port, rxPort: this.rxPort,
      tx: ring(this.tx), rx: ring(this.rx) };
  }
}
