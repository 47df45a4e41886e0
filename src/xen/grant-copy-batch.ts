// GNTTABOP_copy's array of ops: a backend gathers a sweep's copies and has them checked and
// done in one call, as Linux netback batches gnttab_copy ops per ring sweep. Each op is one of
// gntdev's copy segments (struct gntdev_grant_copy_segment) with the grant on one side and a
// local buffer on the other: ref, offset in the granted page, offset in the local buffer,
// length, and the GNTST status the copy leaves. Both platforms take the same batches: the
// emulated one checks and copies them in native/grant-copy.c, a real dom0 hands them to
// /dev/xen/gntdev's IOCTL_GNTDEV_GRANT_COPY.

/** Int32s per op: ref, offset in the granted page, offset in the local buffer, length, status. */
export const GRANT_COPY_OP_INTS = 5;

/**
 * Copy ops waiting to be done together, all between granted pages and one local buffer. Made
 * once per ring and reused: adding an op allocates nothing.
 */
export class GrantCopyBatch {
  readonly ops: Int32Array;
  count = 0;

  constructor(readonly capacity: number) {
    this.ops = new Int32Array(capacity * GRANT_COPY_OP_INTS);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Adds a copy of `len` bytes between `ref`'s page at `offset` and the local buffer at `localOffset`. */
  add(ref: number, offset: number, localOffset: number, len: number): void {
    // A caller's bound, not a guest's: its batches are sized for the most a ring allows.
    if (this.count === this.capacity) throw new RangeError(`grant copy batch full (${this.capacity} ops)`);
    const at = this.count++ * GRANT_COPY_OP_INTS;
    const ops = this.ops;
    ops[at] = ref;
    ops[at + 1] = offset;
    ops[at + 2] = localOffset;
    ops[at + 3] = len;
    ops[at + 4] = 0;
  }

  /** Op i's GNTST status once the batch has been copied; it stays readable after clear(), until add(). */
  status(i: number): number {
    return this.ops[i * GRANT_COPY_OP_INTS + 4]!;
  }

  /** For a platform that fails ops itself (a domain that does not exist fails them all). */
  setStatus(i: number, status: number): void {
    this.ops[i * GRANT_COPY_OP_INTS + 4] = status;
  }

  ref(i: number): number {
    return this.ops[i * GRANT_COPY_OP_INTS]! >>> 0;
  }

  /** Where op i's bytes lie in its granted page. */
  offset(i: number): number {
    return this.ops[i * GRANT_COPY_OP_INTS + 1]!;
  }

  /** Where op i's bytes lie in the local buffer. */
  localOffset(i: number): number {
    return this.ops[i * GRANT_COPY_OP_INTS + 2]!;
  }

  length(i: number): number {
    return this.ops[i * GRANT_COPY_OP_INTS + 3]!;
  }

  clear(): void {
    this.count = 0;
  }
}
