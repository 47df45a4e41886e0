// A domain's pseudo-physical memory: 4 KiB pages addressed by GFN, backed by SharedArrayBuffers
// so a datapath worker thread can later see the same bytes. Pages come from chunks allocated on
// demand; an untouched page costs address space only, not resident memory.

import { PAGE_SIZE } from '../protocol/ring.js';
import { XenError } from './errors.js';

const PAGES_PER_CHUNK = 256;
/**
 * Zeroes are copied in from here: V8 fills shared memory a byte at a time but copies it a word
 * at a time, six times faster for a page.
 */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export class GuestMemory {
  private readonly chunks: SharedArrayBuffer[] = [];
  /** One view per page ever allocated, indexed by gfn: page() runs for every grant copy. */
  private readonly views: Uint8Array[] = [];
  private readonly free: number[] = [];
  private readonly freeSet = new Set<number>();
  private next = 0;

  /** `maxPages` bounds what one domain can take, like a domain's memory size. */
  constructor(readonly domid: number, readonly maxPages = 64 * 1024) {}

  allocPage(): number {
    const reused = this.free.pop();
    if (reused !== undefined) {
      this.freeSet.delete(reused);
      this.pageView(reused).set(ZERO_PAGE);
      return reused;
    }
    if (this.next >= this.maxPages) {
      throw new XenError('ENOMEM', `domain ${this.domid}: out of guest memory (${this.maxPages} pages)`);
    }
    const gfn = this.next++;
    if (Math.floor(gfn / PAGES_PER_CHUNK) >= this.chunks.length) {
      this.chunks.push(new SharedArrayBuffer(PAGES_PER_CHUNK * PAGE_SIZE));
    }
    // gfns are handed out in order, so the array stays dense (V8's fast elements).
    this.views.push(new Uint8Array(this.chunks[Math.floor(gfn / PAGES_PER_CHUNK)]!, (gfn % PAGES_PER_CHUNK) * PAGE_SIZE,
      PAGE_SIZE));
    return gfn;
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
    return Number.isInteger(gfn) && gfn >= 0 && gfn < this.next;
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
    return this.views[gfn]!;
  }
}
