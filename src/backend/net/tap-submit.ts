// How a batch of frames reaches a tap: through an io_uring, one system call for all its writes
// (a system call costs ~190 ns on the machines we measure, an eighth of a small frame's whole
// cost), or, where the kernel refuses io_uring, one write per frame. Each frame is `head` (a
// virtio_net_hdr, or nothing) then memory[offsets[i], offsets[i] + lengths[i]). A frame whose
// write fails is dropped and counted, the others still go; a full queue (EAGAIN) is not an error
// to report, only a drop.

import { EAGAIN, type NativeAddon } from './native.js';

/** The most frames one write() call of a submitter takes: the batches' size. */
export const SUBMIT_MAX = 64;
/** What io_uring answers for a file that cannot do non-blocking writes its way (a FIFO). */
const EOPNOTSUPP = 95;

export class TapSubmitter {
  private readonly status = new Int32Array(1);
  private readonly errnos = new Int32Array(SUBMIT_MAX);
  /** Null: the kernel refused io_uring (or a ring failed); frames go one system call each. */
  private ring: unknown;

  constructor(private readonly addon: NativeAddon, private readonly fd: number,
    private readonly onError: (errno: number) => void, useRing = true) {
    this.ring = useRing ? addon.uringOpen(SUBMIT_MAX) : null;
  }

  get ringed(): boolean {
    return this.ring !== null;
  }

  /** Writes `count` (≤ SUBMIT_MAX) frames in order; returns how many were dropped. */
  write(memory: Uint8Array, head: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    if (count === 0) return 0;
    if (this.ring !== null) {
      try {
        return this.writeRing(memory, head, offsets, lengths, count);
      } catch (err) {
        // The ring is gone for good; this batch and the next go one system call each.
        this.onError((err as { errno?: number }).errno ?? 5);
        this.close();
      }
    }
    return this.writeEach(memory, head, offsets, lengths, count);
  }

  /** Idempotent. */
  close(): void {
    if (this.ring !== null) this.addon.uringClose(this.ring);
    this.ring = null;
  }

  private writeRing(memory: Uint8Array, head: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    const written = this.addon.uringWriteGather(this.ring, this.fd, head, memory, offsets, lengths, count, this.errnos);
    if (written === 0 && this.errnos[0] === EOPNOTSUPP) {
      // Nothing went, and nothing will this way: from now on, one system call per frame.
      this.close();
      return this.writeEach(memory, head, offsets, lengths, count);
    }
    if (written < count) {
      for (let i = 0; i < count; i++) {
        const errno = this.errnos[i]!;
        if (errno !== 0 && errno !== EAGAIN) this.onError(errno);
      }
    }
    return count - written;
  }

  /** One call per frame; the native loop stops at a failure, so the rest is tried again after it. */
  private writeEach(memory: Uint8Array, head: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    let at = 0;
    let dropped = 0;
    while (at < count) {
      at += this.addon.tapWriteGather(this.fd, head, memory, at === 0 ? offsets : offsets.subarray(at),
        at === 0 ? lengths : lengths.subarray(at), count - at, this.status);
      if (at === count) break;
      const errno = this.status[0]!;
      if (errno === EAGAIN) {
        // The tap's queue is full: what is left of the batch would meet the same.
        dropped += count - at;
        break;
      }
      this.onError(errno);
      dropped++;
      at++;
    }
    return dropped;
  }
}
