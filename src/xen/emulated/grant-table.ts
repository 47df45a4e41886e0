// Grant tables, version 1 (xen/include/public/grant_table.h).
//
// Each domain owns a table of 8-byte entries {flags u16, domid u16, frame u32} that it writes
// itself; the hypervisor side (map, unmap, copy) validates an entry on every use exactly as Xen
// does: ref in range, type permit_access, granted to the caller's domid, readonly respected,
// frame inside the granting domain's memory, copies never crossing a page.

import { PAGE_SIZE } from '../../protocol/ring.js';
import { GNTST, GrantError, XenError } from '../errors.js';
import { GrantCopyBatch, grantCopyAddon, type NativeGrantTable } from '../grant-copy-batch.js';
import { GuestMemory, type SharedGuestMemory } from './guest-memory.js';

export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_type_mask = 3;
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;

/** GNTTAB_NR_RESERVED_ENTRIES: ref 0 is the console, ref 1 the xenstore page. */
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
const ENTRY_SIZE = 8;

export interface GrantEntry { flags: number; domid: number; frame: number }

/** What a datapath thread needs to check and copy through a domain's grants. */
export interface SharedGrantTable {
  owner: number;
  nrEntries: number;
  entries: SharedArrayBuffer;
  memory: SharedGuestMemory;
}

/** A live mapping of a foreign page; the page view must not be used after unmap(). */
export interface GrantMapping {
  readonly ref: number;
  /** The frame the grant named when it was mapped: the page stays that one. */
  readonly frame: number;
  readonly writable: boolean;
  readonly page: Uint8Array;
  unmap(): void;
}

export class GrantTable {
  /** The shared frames guests write their entries into. */
  readonly entries: DataView;
  private readonly readers: Uint16Array;
  private readonly writers: Uint16Array;
  private readonly freeRefs: number[] = [];
  /** The table and memory as the native copier sees them; opened on this thread's first copy. */
  private native: NativeGrantTable | null = null;
  /** copyFrom() and copyTo(): a batch of one. */
  private readonly one = new GrantCopyBatch(1);

  /** 64 frames of 512 entries: Xen's default max_grant_frames for a guest. */
  constructor(readonly owner: number, readonly memory: GuestMemory, readonly nrEntries = 64 * 512,
    entries?: SharedArrayBuffer) {
    this.entries = new DataView(entries ?? new SharedArrayBuffer(nrEntries * ENTRY_SIZE));
    this.readers = new Uint16Array(nrEntries);
    this.writers = new Uint16Array(nrEntries);
    for (let ref = nrEntries - 1; ref >= GNTTAB_NR_RESERVED_ENTRIES; ref--) this.freeRefs.push(ref);
  }

  /**
   * The table as another thread sees it, for grant copies (copyFrom, copyTo) checked exactly
   * as here. Mapping stays with the owner's thread, which keeps the in-use counts.
   */
  static attach(shared: SharedGrantTable): GrantTable {
    return new GrantTable(shared.owner, GuestMemory.attach(shared.memory), shared.nrEntries, shared.entries);
  }

  shared(): SharedGrantTable {
    return { owner: this.owner, nrEntries: this.nrEntries, entries: this.entries.buffer as SharedArrayBuffer,
      memory: this.memory.shared() };
  }

  // --- the granting domain's side (what gnttab_grant_foreign_access does in a guest kernel)

  /** Claims a free ref and grants `domid` access to `frame`. */
  grantAccess(domid: number, frame: number, readonly: boolean): number {
    const ref = this.freeRefs.pop();
    if (ref === undefined) throw new XenError('ENOSPC', `domain ${this.owner}: grant table full`);
    this.setEntry(ref, GTF_permit_access | (readonly ? GTF_readonly : 0), domid, frame);
    return ref;
  }

  /** gnttab_end_foreign_access_ref: fails (returns false) while the grantee still has it mapped. */
  endAccess(ref: number): boolean {
    this.checkRef(ref);
    if (this.isInUse(ref)) return false;
    this.entries.setUint16(ref * ENTRY_SIZE, GTF_invalid, true);
    return true;
  }

  /** Ends access and returns the ref to the free list; false (ref kept) while still mapped. */
  releaseRef(ref: number): boolean {
    if (!this.endAccess(ref)) return false;
    this.freeRefs.push(ref);
    return true;
  }

  isInUse(ref: number): boolean {
    return this.readers[ref]! > 0 || this.writers[ref]! > 0;
  }

  /** Raw entry write, as a guest may do with any bytes it likes (tests use it to misbehave). */
  writeEntry(ref: number, e: GrantEntry): void {
    this.checkRef(ref);
    this.setEntry(ref, e.flags, e.domid, e.frame);
  }

  /** Flags last, as a guest kernel writes them: the entry is complete once it is valid. */
  private setEntry(ref: number, flags: number, domid: number, frame: number): void {
    const at = ref * ENTRY_SIZE;
    this.entries.setUint16(at + 2, domid, true);
    this.entries.setUint32(at + 4, frame >>> 0, true);
    this.entries.setUint16(at, flags | this.busyFlags(ref), true);
  }

  readEntry(ref: number): GrantEntry {
    this.checkRef(ref);
    const at = ref * ENTRY_SIZE;
    return {
      flags: this.entries.getUint16(at, true),
      domid: this.entries.getUint16(at + 2, true),
      frame: this.entries.getUint32(at + 4, true),
    };
  }

  get freeCount(): number {
    return this.freeRefs.length;
  }

  // --- the hypervisor's side (GNTTABOP_map_grant_ref / unmap / copy), called by the grantee

  map(grantee: number, ref: number, writable: boolean): GrantMapping {
    const frame = this.check(grantee, ref, writable);
    if (frame < 0) {
      throw new GrantError(frame, `domain ${grantee}: map of domain ${this.owner}'s grant ref ${ref}`);
    }
    const page = this.memory.page(frame);
    const counts = writable ? this.writers : this.readers;
    counts[ref] = counts[ref]! + 1;
    this.refreshBusy(ref);
    let mapped = true;
    return {
      ref,
      frame,
      writable,
      page,
      unmap: () => {
        if (!mapped) return;
        mapped = false;
        counts[ref] = counts[ref]! - 1;
        this.refreshBusy(ref);
      },
    };
  }

  /** GNTTABOP_copy with a source gref: foreign page bytes → `dst`. Returns a GNTST status. */
  copyFrom(grantee: number, ref: number, offset: number, dst: Uint8Array, dstOffset: number, len: number): number {
    return this.copyOne(grantee, ref, offset, dst, dstOffset, len, false);
  }

  /** GNTTABOP_copy with a destination gref: `src` → foreign page bytes. Returns a GNTST status. */
  copyTo(grantee: number, ref: number, offset: number, src: Uint8Array, srcOffset: number, len: number): number {
    return this.copyOne(grantee, ref, offset, src, srcOffset, len, true);
  }

  /**
   * GNTTABOP_copy with an array of ops, all between granted pages and `local` in one direction
   * (`toPage`: into the pages, which must then be writable). Each op is checked on its own, as
   * check() does, and gets its GNTST status in the batch; returns how many failed.
   */
  copyBatch(grantee: number, toPage: boolean, batch: GrantCopyBatch, local: Uint8Array): number {
    if (batch.count === 0) return 0;
    this.native ??= this.openNative();
    return grantCopyAddon().grantCopy(this.native, grantee, toPage, batch.ops, batch.count, local);
  }

  private openNative(): NativeGrantTable {
    const shared = this.memory.shared();
    return grantCopyAddon().grantTableOpen(new Uint8Array(this.entries.buffer), this.memory.bytes,
      new Int32Array(shared.watermark), shared.maxPages);
  }

  private copyOne(grantee: number, ref: number, offset: number, buf: Uint8Array, bufOffset: number, len: number,
    toPage: boolean): number {
    // An op holds int32s: what would not fit is refused here, in the order the copier checks.
    if (!isInt32(offset) || !isInt32(bufOffset) || !isInt32(len)) return GNTST.bad_copy_arg;
    if (!Number.isInteger(ref) || ref < 0 || ref > 0xffffffff) return GNTST.bad_gntref;
    this.one.clear();
    this.one.add(ref, offset, bufOffset, len);
    this.copyBatch(grantee, toPage, this.one, buf);
    return this.one.status(0);
  }

  /**
   * Where `len` bytes at `offset` of a page granted readable to `grantee` lie in the granting
   * domain's memory (memory.bytes), checked as a copy from it would be; or a negative GNTST
   * status. For a caller that hands the bytes on before the granting domain can run again
   * (netback's zero-copy tx on the guest's own thread): a copy made by the kernel, not here.
   */
  readableAt(grantee: number, ref: number, offset: number, len: number): number {
    if (!spanFitsPage(offset, len)) return GNTST.bad_copy_arg;
    const frame = this.check(grantee, ref, false);
    return frame < 0 ? frame : frame * PAGE_SIZE + offset;
  }

  /**
   * Validates one use of an entry, reading it once: the frame it grants (≥ 0), or a negative
   * GNTST status. The page used is the frame checked, whatever the guest writes meanwhile.
   */
  private check(grantee: number, ref: number, writable: boolean): number {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.nrEntries) return GNTST.bad_gntref;
    // Field by field rather than readEntry(): this runs for every copy and allocates nothing.
    const at = ref * ENTRY_SIZE;
    const flags = this.entries.getUint16(at, true);
    const domid = this.entries.getUint16(at + 2, true);
    const frame = this.entries.getUint32(at + 4, true);
    if ((flags & GTF_type_mask) !== GTF_permit_access) return GNTST.bad_gntref;
    if (domid !== grantee) return GNTST.permission_denied;
    if (writable && flags & GTF_readonly) return GNTST.permission_denied;
    if (!this.memory.isValidFrame(frame)) return GNTST.bad_page;
    return frame;
  }

  private busyFlags(ref: number): number {
    return (this.readers[ref]! > 0 ? GTF_reading : 0) | (this.writers[ref]! > 0 ? GTF_writing : 0);
  }

  private refreshBusy(ref: number): void {
    const at = ref * ENTRY_SIZE;
    const flags = this.entries.getUint16(at, true) & ~(GTF_reading | GTF_writing);
    this.entries.setUint16(at, flags | this.busyFlags(ref), true);
  }

  private checkRef(ref: number): void {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.nrEntries) {
      throw new XenError('EINVAL', `domain ${this.owner}: grant ref ${ref} out of range`);
    }
  }
}

/** `len` bytes at `offset` lie inside one page; negative values never pass. */
function spanFitsPage(offset: number, len: number): boolean {
  return offset >= 0 && len >= 0 && offset + len <= PAGE_SIZE;
}

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff;
}
