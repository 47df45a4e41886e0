// Frames for a tap that stay where they lie (a guest's granted pages) until they are written:
// a batch of (offset, length) pairs into one memory, written by one native call with writev(),
// each frame after the same head (a tap's plain virtio_net_hdr, or nothing). The owner flushes
// before the memory may change; nothing here copies a frame.

import { EAGAIN, type NativeAddon } from './native.js';

/** As the copying batch (tap-writer.ts): a quarter of a ring's worth. */
const BATCH_FRAMES = 64;

export class TapGather {
  private readonly offsets = new Uint32Array(BATCH_FRAMES);
  private readonly lengths = new Uint32Array(BATCH_FRAMES);
  private readonly status = new Int32Array(1);
  private memory: Uint8Array | null = null;
  private count = 0;
  /** Frames dropped because their write failed, over the batch's life. */
  dropped = 0;
  private unreported = 0;

  constructor(private readonly addon: NativeAddon, private readonly fd: number, private readonly head: Uint8Array,
    private readonly onError: (errno: number) => void) {}

  get pending(): number {
    return this.count;
  }

  /** Holds memory[at, at + len) for the next batch; a batch on other memory goes out first. */
  queue(memory: Uint8Array, at: number, len: number): void {
    if (this.count === BATCH_FRAMES || (this.memory !== memory && this.count > 0)) this.unreported += this.writeHeld();
    this.memory = memory;
    this.offsets[this.count] = at;
    this.lengths[this.count] = len;
    this.count++;
  }

  /** Writes what is held; returns how many frames were dropped since the last flush(). */
  flush(): number {
    const dropped = this.unreported + this.writeHeld();
    this.unreported = 0;
    return dropped;
  }

  /** As the copying batch: a failed frame is dropped and the next tried; EAGAIN drops the rest. */
  private writeHeld(): number {
    const count = this.count;
    if (count === 0 || !this.memory) return 0;
    this.count = 0;
    let at = 0;
    let dropped = 0;
    while (at < count) {
      at += at === 0
        ? this.addon.tapWriteGather(this.fd, this.head, this.memory, this.offsets, this.lengths, count, this.status)
        : this.addon.tapWriteGather(this.fd, this.head, this.memory, this.offsets.subarray(at), this.lengths.subarray(at),
          count - at, this.status);
      if (at === count) break;
      const errno = this.status[0]!;
      if (errno === EAGAIN) {
        dropped += count - at;
        break;
      }
      this.onError(errno);
      dropped++;
      at++;
    }
    this.dropped += dropped;
    return dropped;
  }
}
