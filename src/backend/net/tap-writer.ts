// Frames for a tap, held and written in batches: one native call writes a whole batch (a tx
// sweep's worth) instead of one call per frame. Frames are opaque bytes, copied into one packed
// buffer as they come; a batch goes out when its owner flushes, when the buffer is full, and at
// the latest at the end of the current callback (a microtask), so a caller that never flushes
// still gets its frames out before anything else runs. The tap's submitter (tap-submit.ts)
// writes each batch.

import type { NativeAddon } from './native.js';
import { SUBMIT_MAX, TapSubmitter } from './tap-submit.js';

/**
 * A quarter of a ring's worth of packets: past this the packed buffer outgrows the CPU's cache
 * and full-size frames go out slower than with smaller batches (measured), for no fewer syscalls.
 */
const BATCH_FRAMES = SUBMIT_MAX;
const NO_HEAD = new Uint8Array(0);
/** Room for a batch of full-size Ethernet frames; bigger (GSO) frames flush earlier. */
const BATCH_BYTES = 128 * 1024;

export type WriteFailed = (errno: number) => void;

export class TapWriter {
  private readonly buf: Uint8Array;
  private readonly offsets = new Uint32Array(BATCH_FRAMES);
  private readonly lengths = new Uint32Array(BATCH_FRAMES);
  private readonly submitter: TapSubmitter;
  private count = 0;
  private used = 0;
  private flushQueued = false;
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };
  /** Frames dropped because their write failed, over the writer's life. */
  dropped = 0;
  /** Drops no flush() has returned yet (batches that went out because the buffer was full). */
  private unreported = 0;

  /** `submitter`: the tap's, when it has one already; else the writer makes its own. */
  constructor(addon: NativeAddon, fd: number, onError: WriteFailed, maxFrame: number, submitter?: TapSubmitter) {
    this.buf = new Uint8Array(Math.max(BATCH_BYTES, maxFrame));
    this.submitter = submitter ?? new TapSubmitter(addon, fd, onError);
  }

  get pending(): number {
    return this.count;
  }

  /** The largest frame queue() takes, head included. */
  get maxFrame(): number {
    return this.buf.length;
  }

  /**
   * Holds a copy of `part` followed by `rest`, as one frame, for the next batch: a frame, or a
   * vnet header and its frame without putting them together first.
   */
  queue(part: Uint8Array, rest?: Uint8Array): void {
    const len = part.length + (rest?.length ?? 0);
    if (len > this.buf.length) throw new RangeError(`tap frame of ${len} bytes (max ${this.buf.length})`);
    if (this.count === BATCH_FRAMES || this.used + len > this.buf.length) this.unreported += this.writeHeld();
    this.buf.set(part, this.used);
    if (rest) this.buf.set(rest, this.used + part.length);
    this.offsets[this.count] = this.used;
    this.lengths[this.count] = len;
    this.count++;
    this.used += len;
    if (!this.flushQueued) {
      // Nothing runs between this callback's end and the microtask: no latency is added.
      this.flushQueued = true;
      queueMicrotask(this.flushTask);
    }
  }

  /**
   * Writes every held frame, in order; returns how many frames were dropped since the last
   * flush() returned, batches that went out on their own included.
   */
  flush(): number {
    const dropped = this.unreported + this.writeHeld();
    this.unreported = 0;
    return dropped;
  }

  /** One batch out; returns how many of its frames were dropped. */
  private writeHeld(): number {
    const count = this.count;
    if (count === 0) return 0;
    this.count = 0;
    this.used = 0;
    const dropped = this.submitter.write(this.buf, NO_HEAD, this.offsets, this.lengths, count);
    this.dropped += dropped;
    return dropped;
  }

  /** Forgets held frames (the tap is closing); they count as dropped. */
  discard(): void {
    this.dropped += this.count;
    this.count = 0;
    this.used = 0;
  }
}
