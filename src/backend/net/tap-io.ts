// A tap's frame I/O, apart from the interface it belongs to: frames read a wake-up's worth at a
// time (tap-reader.ts) and written a batch at a time (tap-writer.ts), each with its 10-byte
// virtio_net_hdr when the tap has vnet_hdr. The tap client uses one on the main thread; a
// datapath thread makes its own on the same fd while the tap is lent to it. It never closes
// the fd: the tap client owns it.

import { Logger } from '../../common/log.js';
import {
  isPlainVnetHdr, PLAIN_VNET_HDR, readVnetHdr, VNET_HDR_LEN, type VirtioNetHdr, writeVnetHdr,
} from '../../protocol/virtio-net-hdr.js';
import { native, nextFrameAt } from './native.js';
import type { DatapathPeer, FrameReceiver } from './net-client.js';
import { TapGather } from './tap-gather.js';
import { TapSubmitter } from './tap-submit.js';
import { TapReader } from './tap-reader.js';
import { TapWriter } from './tap-writer.js';

/** A GSO frame: 64 KiB of IP packet, its Ethernet header (and a VLAN tag) and the vnet header. */
const MAX_FRAME = 65536 + 32;
const MAX_READ_ERRORS_IN_A_ROW = 1000;

export class TapIo implements DatapathPeer {
  private reader: TapReader | null = null;
  private readonly writer: TapWriter;
  /** Frames written from where they lie; in order with the writer's, one of the two holds frames at a time. */
  private readonly gather: TapGather;
  /** Both batches' way to the kernel: an io_uring where the kernel has one for us. */
  private readonly submitter: TapSubmitter;
  private receiver: FrameReceiver | null = null;
  /** The header of the frame being queued (the writer copies it next to the frame). */
  private readonly hbuf = new Uint8Array(VNET_HDR_LEN);
  /** A plain frame's header, encoded once: most frames carry it. */
  private readonly plainHdr = new Uint8Array(VNET_HDR_LEN);
  /** Drops of batches that went out because the other kind of frame came; reported by flush(). */
  private switchDrops = 0;
  /** Frames refused before reaching the writer (too big). */
  private refused = 0;
  private stopped = false;
  /** setReceiving(false): the poll is stopped and frames wait in the kernel's queue. */
  private paused = false;
  private readErrors = 0;

  constructor(private readonly fd: number, readonly vnetHdr: boolean, private readonly log: Logger) {
    const failed = (errno: number): void => this.log.debug(`write failed: errno ${errno}`);
    this.submitter = new TapSubmitter(native(), fd, failed);
    this.writer = new TapWriter(native(), fd, failed, VNET_HDR_LEN + MAX_FRAME, this.submitter);
    this.gather = new TapGather(this.submitter, vnetHdr ? this.plainHdr : new Uint8Array(0));
    this.reader = this.startReading();
  }

  setReceiver(fn: FrameReceiver | null): void {
    this.receiver = fn;
  }

  /** Frames whose write failed, or that could not be written at all. */
  get txDropped(): number {
    return this.writer.dropped + this.gather.dropped + this.refused;
  }

  /** Held for the next batch: true unless it cannot go; a failed write shows in flush(). */
  send(frame: Uint8Array, hdr?: VirtioNetHdr): boolean {
    if (this.stopped) return false;
    const total = (this.vnetHdr ? VNET_HDR_LEN : 0) + frame.length;
    if (total > this.writer.maxFrame) return this.refuse(`frame of ${frame.length} bytes`);
    if (this.gather.pending > 0) this.switchDrops += this.gather.flush();
    if (this.vnetHdr) {
      let head = this.plainHdr;
      if (hdr) {
        writeVnetHdr(this.hbuf, 0, hdr);
        head = this.hbuf;
      }
      this.writer.queue(head, frame);
    } else {
      this.writer.queue(frame);
    }
    return true;
  }

  sendGuest(memory: Uint8Array, at: number, len: number): boolean {
    if (this.stopped) return false;
    if (len > MAX_FRAME) return this.refuse(`frame of ${len} bytes`);
    if (this.writer.pending > 0) this.switchDrops += this.writer.flush();
    this.gather.queue(memory, at, len);
    return true;
  }

  flush(): number {
    const dropped = this.switchDrops + this.writer.flush() + this.gather.flush();
    this.switchDrops = 0;
    return dropped;
  }

  setReceiving(on: boolean): void {
    if (this.stopped || on === !this.paused) return;
    this.paused = !on;
    // A stopped poll is closed for good (pollStop), so waking takes a fresh one on the same fd.
    if (on) {
      this.reader = this.startReading();
    } else {
      this.reader?.stop();
      this.reader = null;
    }
  }

  /** Writes what is held and stops reading, for good; the fd stays open. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.flush();
    this.submitter.close();
    this.stopped = true;
    this.reader?.stop();
    this.reader = null;
  }

  private refuse(why: string): false {
    this.refused++;
    this.log.debug(`write dropped: ${why}`);
    return false;
  }

  private startReading(): TapReader {
    return new TapReader(native(), this.fd, MAX_FRAME, (buf, lengths, count) => this.deliver(buf, lengths, count),
      (errno) => this.readFailed(errno));
  }

  /**
   * The poll is level-triggered: an fd that stays readable only to fail every read would wake
   * the loop for ever. After a run of failures the tap stops reading and says why.
   */
  private readFailed(errno: number): void {
    this.log.debug(`read failed: errno ${errno}`);
    if (++this.readErrors < MAX_READ_ERRORS_IN_A_ROW) return;
    this.log.error(`${MAX_READ_ERRORS_IN_A_ROW} reads in a row failed (errno ${errno}): no longer reading this tap`);
    this.reader?.stop();
  }

  /**
   * One wake-up's frames to the receiver, each lent as a view of the read buffer (a receiver
   * that keeps one copies it) with its vnet header if it says anything, all but the last marked
   * `more` so the receiver can do its per-batch work once. With a vnet header the frame's data
   * lies at NET_IP_ALIGN modulo 8, as netback puts it in a guest's page: copies go by words.
   */
  private deliver(buf: Uint8Array, lengths: Uint32Array, count: number): void {
    const from = this.vnetHdr ? VNET_HDR_LEN : 0;
    let held: Uint8Array | null = null;
    let heldHdr: VirtioNetHdr | undefined;
    let at = 0;
    for (let i = 0; i < count && !this.stopped; i++) {
      const len = lengths[i]!;
      if (len > from) {
        if (held) this.receiver?.(held, heldHdr, true);
        // Most frames' headers say nothing: only the others are decoded.
        const plain = !this.vnetHdr || (buf[at] === 0 && buf[at + 1] === 0);
        const hdr = plain ? PLAIN_VNET_HDR : readVnetHdr(buf.subarray(at, at + VNET_HDR_LEN));
        heldHdr = isPlainVnetHdr(hdr) ? undefined : hdr;
        held = new Uint8Array(buf.buffer, buf.byteOffset + at + from, len - from);
      }
      at = nextFrameAt(at, len);
    }
    if (count > 0) this.readErrors = 0;
    if (held && !this.stopped) this.receiver?.(held, heldHdr, false);
  }
}
