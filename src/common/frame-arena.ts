// Memory for frames that are lent, not given: a receiver that keeps a frame past the call that
// handed it over copies it (as a socket's reader copies out of the kernel's skb). Frames of one
// batch are carved one after another from a buffer that the next batch reuses, so receiving
// allocates nothing: a fresh 64 KiB buffer per GSO frame meant page faults on memory the
// kernel had to clear, and collections driven by the external memory alone, that together
// cost more than copying the frame.
//
// Frames are placed like FrameSlab's, sharing the alignment of the bytes they are copied from
// (`skew`, the source's offset modulo 8), for V8's word-by-word copies out of shared memory.

import { unzeroed } from './frame-slab.js';

export class FrameArena {
  /** Made on first use: an idle owner costs nothing. */
  private arena: ArrayBuffer | null = null;
  private used = 0;

  /** `bytes`: what one batch holds at most, alignment included. */
  constructor(private readonly bytes: number) {}

  /** A new batch: every frame the last one lent is the arena's again. */
  reset(): void {
    this.used = 0;
  }

  /**
   * A frame of `len` bytes for the caller to fill (its contents are stale), starting at `skew`
   * modulo 8, valid until the next reset; null once this batch has used the arena up.
   */
  alloc(len: number, skew = 0): Uint8Array | null {
    const s = skew & 7;
    if (this.used + s + len > this.bytes) return null;
    this.arena ??= unzeroed(this.bytes);
    const frame = new Uint8Array(this.arena, this.used + s, len);
    this.used = (this.used + s + len + 7) & ~7;
    return frame;
  }
}
