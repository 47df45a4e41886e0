// Shared I/O rings (xen/include/public/io/ring.h), one 4 KiB page each.
//
// Page layout: req_prod @0, req_event @4, rsp_prod @8, rsp_event @12, pad to 64, then the slots.
// Indices are free-running u32 and every subtraction wraps. The indices are read and written with
// Atomics so the same code stays correct when guest and backend run on different threads over a
// SharedArrayBuffer.

export const PAGE_SIZE = 4096;
export const SRING_HEADER = 64;

const REQ_PROD = 0;
const REQ_EVENT = 1;
const RSP_PROD = 2;
const RSP_EVENT = 3;

/** Entries = largest power of two that fits (ring.h __RING_SIZE). */
export function ringSize(slotSize: number): number {
  const raw = Math.floor((PAGE_SIZE - SRING_HEADER) / slotSize);
  return 2 ** Math.floor(Math.log2(raw));
}

/** A view of a shared ring page: typed access to the four indices and to slot bytes. */
export class SharedRing {
  readonly size: number;
  readonly mask: number;
  private readonly words: Int32Array;
  readonly view: DataView;

  constructor(readonly page: Uint8Array, readonly slotSize: number) {
    if (page.byteLength !== PAGE_SIZE) throw new RangeError(`ring page must be ${PAGE_SIZE} bytes`);
    this.size = ringSize(slotSize);
    this.mask = this.size - 1;
    this.words = new Int32Array(page.buffer, page.byteOffset, 4);
    this.view = new DataView(page.buffer, page.byteOffset, PAGE_SIZE);
  }

  get reqProd(): number { return Atomics.load(this.words, REQ_PROD) >>> 0; }
  set reqProd(v: number) { Atomics.store(this.words, REQ_PROD, v | 0); }
  get reqEvent(): number { return Atomics.load(this.words, REQ_EVENT) >>> 0; }
  set reqEvent(v: number) { Atomics.store(this.words, REQ_EVENT, v | 0); }
  get rspProd(): number { return Atomics.load(this.words, RSP_PROD) >>> 0; }
  set rspProd(v: number) { Atomics.store(this.words, RSP_PROD, v | 0); }
  get rspEvent(): number { return Atomics.load(this.words, RSP_EVENT) >>> 0; }
  set rspEvent(v: number) { Atomics.store(this.words, RSP_EVENT, v | 0); }

  /** Byte offset (within the page) of the slot that index `idx` addresses. */
  slotOffset(idx: number): number {
    return SRING_HEADER + (idx & this.mask) * this.slotSize;
  }

  /** SHARED_RING_INIT: what the frontend does before granting the page. */
  init(): void {
    this.page.fill(0);
    this.reqEvent = 1;
    this.rspEvent = 1;
  }
}

/** u32 wrapping difference a - b. */
export function wrapSub(a: number, b: number): number {
  return (a - b) >>> 0;
}

/** RING_PUSH_*_AND_CHECK_NOTIFY's test: is the peer's event index in (old, new]? */
export function needsNotify(newProd: number, oldProd: number, event: number): boolean {
  return wrapSub(newProd, event) < wrapSub(newProd, oldProd);
}

/** The frontend's private side of a ring: it produces requests and consumes responses. */
export class FrontRing {
  reqProdPvt = 0;
  rspCons = 0;
  constructor(readonly sring: SharedRing) {}

  get size(): number { return this.sring.size; }

  /** RING_FREE_REQUESTS */
  freeRequests(): number {
    return this.size - wrapSub(this.reqProdPvt, this.rspCons);
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY */
  pushRequests(): boolean {
    const old = this.sring.reqProd;
    const now = this.reqProdPvt;
    this.sring.reqProd = now;
    return needsNotify(now, old, this.sring.reqEvent);
  }

  /**
   * RING_FINAL_CHECK_FOR_RESPONSES: arms rsp_event, then re-checks to close the race with the
   * producer. `after` responses more (default 1) before the peer notifies.
   */
  finalCheckForResponses(after = 1): boolean {
    if (wrapSub(this.sring.rspProd, this.rspCons) > 0) return true;
    this.sring.rspEvent = (this.rspCons + Math.max(1, after)) >>> 0;
    return wrapSub(this.sring.rspProd, this.rspCons) > 0;
  }
}

/** The backend's private side of a ring: it consumes requests and produces responses. */
export class BackRing {
  rspProdPvt = 0;
  reqCons = 0;
  constructor(readonly sring: SharedRing) {}

  /** BACK_RING_ATTACH: start at the current response producer, so a reconnecting frontend need not start at 0. */
  static attach(sring: SharedRing): BackRing {
    const ring = new BackRing(sring);
    ring.rspProdPvt = sring.rspProd;
    ring.reqCons = ring.rspProdPvt;
    return ring;
  }

  get size(): number { return this.sring.size; }

  /** RING_UNCONSUMED_REQUESTS, bounded by free response slots, given a req_prod snapshot. */
  unconsumed(reqProd: number): number {
    const req = wrapSub(reqProd, this.reqCons);
    const rsp = this.size - wrapSub(this.reqCons, this.rspProdPvt);
    return req < rsp ? req : rsp;
  }

  /** RING_PUSH_RESPONSES_AND_CHECK_NOTIFY */
  pushResponses(): boolean {
    const old = this.sring.rspProd;
    const now = this.rspProdPvt;
    this.sring.rspProd = now;
    return needsNotify(now, old, this.sring.rspEvent);
  }

  /** RING_FINAL_CHECK_FOR_REQUESTS */
  finalCheckForRequests(): boolean {
    if (this.unconsumed(this.sring.reqProd) > 0) return true;
    this.sring.reqEvent = (this.reqCons + 1) >>> 0;
    return this.unconsumed(this.sring.reqProd) > 0;
  }
}
