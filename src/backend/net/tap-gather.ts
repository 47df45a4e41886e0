// Frames for a tap that stay where they lie (a guest's granted pages, or a writer's buffer)
// until they are written: a batch of (offset, length) pairs into one memory, each frame after
// the same head (a tap's plain virtio_net_hdr, or nothing), handed to the tap's submitter
// (tap-submit.ts) at once. The owner flushes before the memory may change; nothing here copies
// a frame.
//
// A quarter of a ring's worth of packets per batch: past this a writer's packed buffer outgrows
// the CPU's cache and full-size frames go out slower than with smaller batches (measured), for
// no fewer system calls.

import { SUBMIT_MAX, type TapSubmitter } from './tap-submit.js';

export class TapGather {
  private readonly offsets = new Uint32Array(SUBMIT_MAX);
  private readonly lengths = new Uint32Array(SUBMIT_MAX);
  private memory: Uint8Array | null = null;
  private count = 0;
  /** Frames dropped because their write failed, over the batch's life. */
  dropped = 0;
  private unreported = 0;

  constructor(private readonly submitter: TapSubmitter, private readonly head: Uint8Array) {}

  get pending(): number {
    return this.count;
  }

  /** Holds memory[at, at + len) for the next batch; a batch on other memory goes out first. */
  queue(memory: Uint8Array, at: number, len: number): void {
    if (this.count === SUBMIT_MAX || (this.memory !== memory && this.count > 0)) this.writeOut();
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

  /** Writes what is held now; its drops are reported by the next flush(). */
  writeOut(): void {
    this.unreported += this.writeHeld();
  }

  private writeHeld(): number {
    const count = this.count;
    if (count === 0 || !this.memory) return 0;
    this.count = 0;
    const dropped = this.submitter.write(this.memory, this.head, this.offsets, this.lengths, count);
    this.dropped += dropped;
    return dropped;
  }
}
