// Memory for frames that are copied out of guest pages and handed to code that may keep them
// (the simulated guest's stack keeps TCP payload). `new Uint8Array(n)` above V8's on-heap
// limit (64 bytes) is a zeroed off-heap allocation that later costs the GC too: several times
// a small frame's whole handling. Frames are instead carved out of a large buffer, a fresh one
// replacing a full one. Each frame is its own view that nothing else is ever carved from: a
// receiver may keep it, and a kept frame keeps only its own slab alive.
//
// Every caller writes each byte of its frame, so buffers are taken unzeroed (Node's
// allocUnsafeSlow): zeroing a 64 KiB ArrayBuffer costs five times the allocation itself.
//
// A frame can be placed to share the alignment of the bytes it is copied from (`skew`, the
// source's offset modulo 8): V8 copies out of shared memory a word at a time only when both
// ends agree, else a byte at a time.

/** V8 keeps typed arrays up to this size on the JS heap, where allocating them is cheap. */
const ON_HEAP_MAX = 64;
const SLAB_BYTES = 256 * 1024;
/** Frames above this get buffers of their own, so a slab is never mostly wasted. */
const SLAB_FRAME_MAX = 16 * 1024;

export class FrameSlab {
  /** Made on first use: an idle owner costs nothing. */
  private slab: ArrayBuffer | null = null;
  private used = 0;

  /** A frame of `len` bytes for the caller alone to fill (its contents are stale), starting at `skew` modulo 8. */
  alloc(len: number, skew = 0): Uint8Array {
    if (len <= ON_HEAP_MAX) return new Uint8Array(len);
    const s = skew & 7;
    if (len > SLAB_FRAME_MAX) return new Uint8Array(unzeroed(len + s), s, len);
    if (this.slab === null || this.used + s + len > SLAB_BYTES) {
      this.slab = unzeroed(SLAB_BYTES);
      this.used = 0;
    }
    const frame = new Uint8Array(this.slab, this.used + s, len);
    this.used = (this.used + s + len + 7) & ~7;
    return frame;
  }
}

/** A buffer of its own (not a view of Node's pool), its bytes not cleared. */
export function unzeroed(len: number): ArrayBuffer {
  return Buffer.allocUnsafeSlow(len).buffer as ArrayBuffer;
}
