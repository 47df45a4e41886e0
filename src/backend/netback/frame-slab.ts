// Memory for the frames the tx path copies out of the guest. `new Uint8Array(n)` costs a
// zeroed off-heap allocation each time once n is above V8's on-heap limit (64 bytes), more
// than the rest of a packet's handling; frames are instead carved out of a large buffer, a
// fresh buffer replacing a full one. Each frame is its own view that nothing else is ever
// carved from: a receiver may keep it, and a kept frame keeps only its own slab alive. Each
// vif's tx path has a slab of its own, so a frame's underlying buffer never holds another
// guest's bytes.

/** V8 keeps typed arrays up to this size on the JS heap, where allocating them is cheap. */
const ON_HEAP_MAX = 64;
const SLAB_BYTES = 256 * 1024;
/** Frames above this get buffers of their own, so a slab is never mostly wasted. */
const SLAB_FRAME_MAX = 16 * 1024;

export class FrameSlab {
  /** Made on first use: an idle vif costs nothing. */
  private slab: ArrayBuffer | null = null;
  private used = 0;

  /** A zero-filled frame of `len` bytes, for the caller alone. */
  alloc(len: number): Uint8Array {
    if (len <= ON_HEAP_MAX || len > SLAB_FRAME_MAX) return new Uint8Array(len);
    if (this.slab === null || this.used + len > SLAB_BYTES) {
      this.slab = new ArrayBuffer(SLAB_BYTES);
      this.used = 0;
    }
    const frame = new Uint8Array(this.slab, this.used, len);
    // 8-byte aligned starts keep copies into and out of frames on the fast paths.
    this.used += (len + 7) & ~7;
    return frame;
  }
}
