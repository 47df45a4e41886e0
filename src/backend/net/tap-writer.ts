// Frames for a tap, held and written in batches: one native call writes a whole batch (a tx
// sweep's worth) instead of one call per frame. Frames are opaque bytes, copied into one packed
// buffer as they come; a batch goes out when its owner flushes, when the buffer is full, and at
// the latest at the end of the current callback (a microtask), so a caller that never flushes
// still gets its frames out before anything else runs. The tap's submitter (tap-submit.ts)
// writes each batch.

import type { NativeAddon } from './native.js';
import { TapGather } from './tap-gather.js';
import { SUBMIT_MAX, TapSubmitter } from './tap-submit.js';

const NO_HEAD = new Uint8Array(0);
/** Room for a batch of full-size Ethernet frames; bigger (GSO) frames flush earlier. */
const BATCH_BYTES = 128 * 1024;

export type WriteFailed = (errno: number) => void;

export class TapWriter {
  private readonly buf: Uint8Array;
  /** The batch itself: spans of `buf`, written by the tap's submitter. */
  private readonly batch: TapGather;
  private used = 0;
  private flushQueued = false;
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  /** `submitter`: the tap's, when it has one already; else the writer makes its own. */
  constructor(addon: NativeAddon, fd: number, onError: WriteFailed, maxFrame: number, submitter?: TapSubmitter) {
    this.buf = new Uint8Array(Math.max(BATCH_BYTES, maxFrame));
    this.batch = new TapGather(submitter ?? new TapSubmitter(addon, fd, onError), NO_HEAD);
  }

  get pending(): number {
    return this.batch.pending;
  }

  /** Frames dropped because their write failed, over the writer's life. */
  get dropped(): number {
    return this.batch.dropped;
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
    // A full batch goes out on its own at the next queue(); a full buffer must go out first.
    if (this.used + len > this.buf.length || this.batch.pending === SUBMIT_MAX) this.writeOut();
    this.buf.set(part, this.used);
    if (rest) this.buf.set(rest, this.used + part.length);
    this.batch.queue(this.buf, this.used, len);
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
    this.used = 0;
    return this.batch.flush();
  }

  /** A batch out before its time, its drops left for the next flush() to report. */
  private writeOut(): void {
    this.batch.writeOut();
    this.used = 0;
  }
}
