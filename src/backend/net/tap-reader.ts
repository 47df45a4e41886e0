// Frames from a tap, a wake-up's worth at a time: the native watcher reads up to BATCH_FRAMES
// frames into one buffer (each from a multiple of FRAME_ALIGN) whenever the tap is readable and calls back once with
// them, instead of one JS -> C crossing per frame. Bounded per wake-up, so one busy tap cannot
// starve the event loop; the poll is level-triggered and comes back for the rest.

import type { NativeAddon } from './native.js';

const BATCH_FRAMES = 64;
/** Room for a wake-up of full-size Ethernet frames next to one frame of the largest size. */
const BATCH_BYTES = 256 * 1024;

/** Frame i is buf[offset, offset + lengths[i]), offset being nextFrameAt() of the frame before it (0 for the first). */
export type BatchHandler = (buf: Uint8Array, lengths: Uint32Array, count: number) => void;
export type ReadFailed = (errno: number) => void;

export class TapReader {
  private readonly buf: Uint8Array;
  private readonly lengths = new Uint32Array(BATCH_FRAMES);
  private readonly poll: unknown;
  private stopped = false;

  constructor(private readonly addon: NativeAddon, fd: number, maxFrame: number, onBatch: BatchHandler,
    onError: ReadFailed) {
    this.buf = new Uint8Array(BATCH_BYTES + maxFrame);
    this.poll = addon.tapPollBatch(fd, this.buf, this.lengths, maxFrame, (count, errno) => {
      if (count > 0) onBatch(this.buf, this.lengths, count);
      if (errno !== 0 && !this.stopped) onError(errno);
    });
  }

  /** Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.addon.pollStop(this.poll);
  }
}
