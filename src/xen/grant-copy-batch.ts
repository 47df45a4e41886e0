// GNTTABOP_copy's array of ops: a backend gathers a sweep's copies and has them checked and
// done in one call, as Linux netback batches gnttab_copy ops per ring sweep. The copies run in
// the native addon (native/grant-copy.c): in JS each one needed a view on the guest's memory,
// which cost more than copying a small frame.

import { loadNativeAddon } from '../common/native-addon.js';

/** Int32s per op: ref, offset in the granted page, offset in the local buffer, length, status. */
const OP_INTS = 5;

/** A domain's grant entries and memory, opened for native copies on the calling thread. */
export type NativeGrantTable = { readonly __nativeGrantTable: unique symbol };

interface GrantCopyAddon {
  grantTableOpen(entries: Uint8Array, pages: Uint8Array, watermark: Int32Array, maxPages: number): NativeGrantTable;
  /** Checks and performs `count` ops; writes each op's GNTST status; returns how many failed. */
  grantCopy(table: NativeGrantTable, grantee: number, toPage: boolean, ops: Int32Array, count: number,
    local: Uint8Array): number;
}

export function grantCopyAddon(): GrantCopyAddon {
  return loadNativeAddon() as GrantCopyAddon;
}

/**
 * Copy ops waiting to be done together, all between granted pages and one local buffer. Made
 * once per ring and reused: adding an op allocates nothing.
 */
export class GrantCopyBatch {
  readonly ops: Int32Array;
  count = 0;

  constructor(readonly capacity: number) {
    this.ops = new Int32Array(capacity * OP_INTS);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Adds a copy of `len` bytes between `ref`'s page at `offset` and the local buffer at `localOffset`. */
  add(ref: number, offset: number, localOffset: number, len: number): void {
    // A caller's bound, not a guest's: its batches are sized for the most a ring allows.
    if (this.count === this.capacity) throw new RangeError(`grant copy batch full (${this.capacity} ops)`);
    const at = this.count++ * OP_INTS;
    const ops = this.ops;
    ops[at] = ref;
    ops[at + 1] = offset;
    ops[at + 2] = localOffset;
    ops[at + 3] = len;
    ops[at + 4] = 0;
  }

  /** Op i's GNTST status once the batch has been copied; it stays readable after clear(), until add(). */
  status(i: number): number {
    return this.ops[i * OP_INTS + 4]!;
  }

  ref(i: number): number {
    return this.ops[i * OP_INTS]! >>> 0;
  }

  /** Where op i's bytes lie in its granted page. */
  offset(i: number): number {
    return this.ops[i * OP_INTS + 1]!;
  }

  /** Where op i's bytes lie in the local buffer. */
  localOffset(i: number): number {
    return this.ops[i * OP_INTS + 2]!;
  }

  length(i: number): number {
    return this.ops[i * OP_INTS + 3]!;
  }

  clear(): void {
    this.count = 0;
  }
}
