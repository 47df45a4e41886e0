// A domain's grant table, version 1 (xen/include/public/grant_table.h): 8-byte entries
// {flags u16, domid u16, frame u32} that the domain writes itself, in shared memory. This is the
// granting domain's side (what gnttab_grant_foreign_access and friends do in a guest kernel)
// and the table's state the hypervisor keeps beside it (which refs are mapped, hence
// GTF_reading / GTF_writing). What a grantee may do with an entry (map it, copy through it) is
// the hypervisor's side, in grant-ops.ts, which checks the entry on every use.

import { XenError } from '../errors.js';
import { GNTTAB_NR_RESERVED_ENTRIES, GTF } from '../grant-abi.js';
import { GuestMemory, type SharedGuestMemory } from './guest-memory.js';

const ENTRY_SIZE = 8;

export interface GrantEntry { flags: number; domid: number; frame: number }

/** What another thread needs to check and copy through a domain's grants. */
export interface SharedGrantTable {
  owner: number;
  nrEntries: number;
  entries: SharedArrayBuffer;
  memory: SharedGuestMemory;
}

export interface GrantTableOptions {
  /** 64 frames of 512 entries: Xen's default max_grant_frames for a guest. */
  nrEntries?: number;
  /** The entries of an existing table (another thread's view of it). */
  entries?: SharedArrayBuffer;
  /**
   * For tests that audit a backend: per frame, what grant copies did to it (1 read, 2 written),
   * marked by the copier itself, so nothing it touches escapes the audit.
   */
  audit?: Uint8Array;
}

export class GrantTable {
  /** The shared frames the domain writes its entries into. */
  readonly entries: DataView;
  readonly nrEntries: number;
  readonly audit: Uint8Array | null;
  /** Mappings of each ref by grantees, read-only and writable (the hypervisor's bookkeeping). */
  private readonly readers: Uint16Array;
  private readonly writers: Uint16Array;
  private readonly freeRefs: number[] = [];

  constructor(readonly owner: number, readonly memory: GuestMemory, opts: GrantTableOptions = {}) {
    this.nrEntries = opts.nrEntries ?? 64 * 512;
    this.entries = new DataView(opts.entries ?? new SharedArrayBuffer(this.nrEntries * ENTRY_SIZE));
    this.audit = opts.audit ?? null;
    this.readers = new Uint16Array(this.nrEntries);
    this.writers = new Uint16Array(this.nrEntries);
    for (let ref = this.nrEntries - 1; ref >= GNTTAB_NR_RESERVED_ENTRIES; ref--) this.freeRefs.push(ref);
  }

  /**
   * The table as another thread sees it, for grant copies checked exactly as here. Mapping
   * stays with the owner's thread, which keeps the mapping counts.
   */
  static attach(shared: SharedGrantTable): GrantTable {
    return new GrantTable(shared.owner, GuestMemory.attach(shared.memory),
      { nrEntries: shared.nrEntries, entries: shared.entries });
  }

  shared(): SharedGrantTable {
    return { owner: this.owner, nrEntries: this.nrEntries, entries: this.entries.buffer as SharedArrayBuffer,
      memory: this.memory.shared() };
  }

  /** Claims a free ref and grants `domid` access to `frame`. */
  grantAccess(domid: number, frame: number, readonly: boolean): number {
    const ref = this.freeRefs.pop();
    if (ref === undefined) throw new XenError('ENOSPC', `domain ${this.owner}: grant table full`);
    this.setEntry(ref, GTF.permit_access | (readonly ? GTF.readonly : 0), domid, frame);
    return ref;
  }

  /** gnttab_end_foreign_access_ref: fails (returns false) while the grantee still has it mapped. */
  endAccess(ref: number): boolean {
    this.checkRef(ref);
    if (this.isInUse(ref)) return false;
    this.entries.setUint16(ref * ENTRY_SIZE, GTF.invalid, true);
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

  /** The hypervisor counts a grantee's mapping of `ref` (+1) or its unmapping (-1). */
  countMapping(ref: number, writable: boolean, delta: 1 | -1): void {
    const counts = writable ? this.writers : this.readers;
    counts[ref] = counts[ref]! + delta;
    const at = ref * ENTRY_SIZE;
    const flags = this.entries.getUint16(at, true) & ~(GTF.reading | GTF.writing);
    this.entries.setUint16(at, flags | this.busyFlags(ref), true);
  }

  /** Flags last, as a guest kernel writes them: the entry is complete once it is valid. */
  private setEntry(ref: number, flags: number, domid: number, frame: number): void {
    const at = ref * ENTRY_SIZE;
    this.entries.setUint16(at + 2, domid, true);
    this.entries.setUint32(at + 4, frame >>> 0, true);
    this.entries.setUint16(at, flags | this.busyFlags(ref), true);
  }

  private busyFlags(ref: number): number {
    return (this.readers[ref]! > 0 ? GTF.reading : 0) | (this.writers[ref]! > 0 ? GTF.writing : 0);
  }

  private checkRef(ref: number): void {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.nrEntries) {
      throw new XenError('EINVAL', `domain ${this.owner}: grant ref ${ref} out of range`);
    }
  }
}
