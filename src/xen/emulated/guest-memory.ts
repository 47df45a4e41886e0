// A domain's pseudo-physical memory: 4 KiB pages addressed by GFN, in one growable
// SharedArrayBuffer whose maximum is the domain's size, so a datapath thread sees the same
// bytes through attach(). The maximum is only reserved address space; the buffer grows (is
// committed) as pages are handed out. A fixed buffer of the whole size would be charged to the
// system's commit at once: a few hundred domains' worth, as a long test run leaves for the
// garbage collector, and fork() fails with ENOMEM. How many frames exist (the allocation
// watermark) lives in shared memory too, so another thread's grant checks ask the same
// question the owner does.

import { PAGE_SIZE } from '../../protocol/ring.js';
import { XenError } from '../errors.js';

/**
 * Zeroes are copied in from here: V8 fills shared memory a byte at a time but copies it a word
 * at a time, six times faster for a page.
 */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
/** The buffer grows by this many pages at a time (1 MiB). */
const GROW_PAGES = 256;

/** What another thread needs to see a domain's memory: structured-cloneable, buffers shared. */
export interface SharedGuestMemory {
  domid: number;
  maxPages: number;
  pages: SharedArrayBuffer;
  /** Int32 [0]: frames handed out so far (gfns below it exist). */
  watermark: SharedArrayBuffer;
}

export class GuestMemory {
  private readonly pages: SharedArrayBuffer;
  private readonly watermark: Int32Array;
  /** One view per page, made on first use: page() runs for every grant copy. */
  private readonly views: Array<Uint8Array | undefined> = [];
  private readonly free: number[] = [];
  private readonly freeSet = new Set<number>();

  /** `maxPages` bounds what one domain can take, like a domain's memory size. */
  constructor(readonly domid: number, readonly maxPages = 64 * 1024, shared?: SharedGuestMemory) {
    this.pages = shared?.pages ?? new SharedArrayBuffer(0, { maxByteLength: maxPages * PAGE_SIZE });
    this.watermark = new Int32Array(shared?.watermark ?? new SharedArrayBuffer(4));
  }

  /** The same memory, seen from another thread (which only reads and copies pages). */
  static attach(shared: SharedGuestMemory): GuestMemory {
    return new GuestMemory(shared.domid, shared.maxPages, shared);
  }

  shared(): SharedGuestMemory {
    return { domid: this.domid, maxPages: this.maxPages, pages: this.pages,
      watermark: this.watermark.buffer as SharedArrayBuffer };
  }

  /** All of the domain's memory as one view: byte gfn * PAGE_SIZE + offset is that page's byte. */
  get bytes(): Uint8Array {
    return this.all ??= new Uint8Array(this.pages);
  }

  private all: Uint8Array | undefined;

  /** The watermark as last read: it only grows, so frames below it need no atomic read. */
  private known = 0;

  private get next(): number {
    return (this.known = Atomics.load(this.watermark, 0));
  }

  allocPage(): number {
    const reused = this.free.pop();
    if (reused !== undefined) {
      this.freeSet.delete(reused);
      this.pageView(reused).set(ZERO_PAGE);
      return reused;
    }
    const gfn = this.fresh(1);
    if (gfn === null) throw new XenError('ENOMEM', `domain ${this.domid}: out of guest memory (${this.maxPages} pages)`);
    return gfn;
  }

  /**
   * `n` zeroed pages at consecutive frames (the first returned): a run of freed pages if there
   * is one, else fresh ones; null when neither fits, and the caller takes pages one by one.
   */
  allocRun(n: number): number | null {
    const reused = this.takeFreeRun(n);
    if (reused !== null) {
      for (let gfn = reused; gfn < reused + n; gfn++) this.pageView(gfn).set(ZERO_PAGE);
      return reused;
    }
    return n < 1 ? null : this.fresh(n);
  }

  /** `n` never used pages above the watermark (zero, as the buffer grows zeroed); null past the domain's size. */
  private fresh(n: number): number | null {
    const first = this.next;
    if (first + n > this.maxPages) return null;
    if ((first + n) * PAGE_SIZE > this.pages.byteLength) {
      this.pages.grow(Math.min(this.maxPages, first + n - 1 + GROW_PAGES) * PAGE_SIZE);
    }
    // Published after the pages exist: a thread that sees a frame can use it.
    Atomics.store(this.watermark, 0, first + n);
    this.known = first + n;
    // Made now, in gfn order, so the owner's views stay a packed array (V8's fastest elements).
    for (let gfn = first; gfn < first + n; gfn++) this.makeView(gfn);
    return first;
  }

  /** The lowest run of `n` consecutive freed frames, taken off the free list; null if there is none. */
  private takeFreeRun(n: number): number | null {
    if (n < 1 || this.free.length < n) return null;
    const sorted = [...this.free].sort((a, b) => a - b);
    let start = 0;
    for (let i = 0; i < sorted.length; i++) {
      if (i > 0 && sorted[i] !== sorted[i - 1]! + 1) start = i;
      if (i - start + 1 < n) continue;
      const first = sorted[start]!;
      let kept = 0;
      for (const gfn of this.free) if (gfn < first || gfn >= first + n) this.free[kept++] = gfn;
      this.free.length = kept;
      for (let gfn = first; gfn < first + n; gfn++) this.freeSet.delete(gfn);
      return first;
    }
    return null;
  }

  freePage(gfn: number): void {
    if (!this.isAllocated(gfn)) throw new XenError('EINVAL', `domain ${this.domid}: gfn ${gfn} is not allocated`);
    this.free.push(gfn);
    this.freeSet.add(gfn);
  }

  isAllocated(gfn: number): boolean {
    return Number.isInteger(gfn) && gfn >= 0 && gfn < this.next && !this.freeSet.has(gfn);
  }

  /** Whether a frame number names memory this domain has at all (freed pages still exist). */
  isValidFrame(gfn: number): boolean {
    return Number.isInteger(gfn) && gfn >= 0 && (gfn < this.known || gfn < this.next);
  }

  /** The page's bytes. Callers outside the owning domain get pages only through grant operations. */
  page(gfn: number): Uint8Array {
    if (!this.isValidFrame(gfn)) throw new XenError('EINVAL', `domain ${this.domid}: no page at gfn ${gfn}`);
    return this.pageView(gfn);
  }

  /** Zeroes the page, as handing a fresh page out would. */
  zero(gfn: number): void {
    this.page(gfn).set(ZERO_PAGE);
  }

  get pagesInUse(): number {
    return this.next - this.free.length;
  }

  private pageView(gfn: number): Uint8Array {
    return this.views[gfn] ?? this.makeView(gfn);
  }

  private makeView(gfn: number): Uint8Array {
    // Grown in order, never assigned far past the end: the array keeps V8's fast elements.
    while (this.views.length <= gfn) this.views.push(undefined);
    const view = new Uint8Array(this.pages, gfn * PAGE_SIZE, PAGE_SIZE);
    this.views[gfn] = view;
    return view;
  }
}
