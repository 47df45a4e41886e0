// A Linux tap as a NetClient: TUNSETIFF through the addon, frames read a wake-up's worth at a
// time (tap-reader.ts) and written a batch at a time (tap-writer.ts). With vnet_hdr every frame
// carries a 10-byte virtio_net_hdr both ways: the guest's partial checksums and GSO frames go
// out as they are, and the kernel hands over such frames only once told which ones the guest
// takes (setOffloads, TUNSETOFFLOAD).

import { FrameSlab } from '../../common/frame-slab.js';
import { Logger } from '../../common/log.js';
import { NET_IP_ALIGN } from '../../protocol/netif.js';
import {
  isPlainVnetHdr, PLAIN_VNET_HDR, readVnetHdr, VNET_HDR_LEN, type VirtioNetHdr, writeVnetHdr,
} from '../../protocol/virtio-net-hdr.js';
import { native, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 } from './native.js';
import type { FrameReceiver, NetClient, PeerOffloads } from './net-client.js';
import { isScript, launchScript } from './scripts.js';
import { TapReader } from './tap-reader.js';
import { TapWriter } from './tap-writer.js';

/** A GSO frame: 64 KiB of IP packet, its Ethernet header (and a VLAN tag) and the vnet header. */
const MAX_FRAME = 65536 + 32;
const MAX_READ_ERRORS_IN_A_ROW = 1000;
/**
 * Received frames start where netback will put them in a guest's page (NET_IP_ALIGN, then whole
 * pages), modulo 8: the copies into guest memory then go word by word (see common/frame-slab.ts).
 */
const GUEST_DATA_SKEW = NET_IP_ALIGN;

export interface TapOptions {
  id: string;
  ifname: string;
  vnetHdr?: boolean;
  /** Bring the interface up once created, as Xen's vif-bridge script does. */
  up?: boolean;
  /** Run with the interface name when it goes away (netdev_del, exit). */
  downscript?: string;
  /** What `info network` shows after ifname= (QEMU: `script=...,downscript=...`). */
  info?: string;
}

export class TapNetClient implements NetClient {
  readonly type = 'tap';
  readonly ifname: string;
  private readonly fd: number;
  private reader: TapReader | null = null;
  private readonly writer: TapWriter;
  private receiver: FrameReceiver | null = null;
  readonly vnetHdr: boolean;
  /** The header of the frame being queued (the writer copies it next to the frame). */
  private readonly hbuf = new Uint8Array(VNET_HDR_LEN);
  /** A plain frame's header, encoded once: most frames carry it. */
  private readonly plainHdr = new Uint8Array(VNET_HDR_LEN);
  /** Frames refused before reaching the writer (too big). */
  private refused = 0;
  private closed = false;
  /** setReceiving(false): the poll is stopped and frames wait in the kernel's queue. */
  private paused = false;
  private readErrors = 0;
  /** Received frames are copied out of the read buffer into frames carved from slabs. */
  private readonly rxFrames = new FrameSlab();
  private readonly log: Logger;

  constructor(readonly id: string, private readonly opts: TapOptions) {
    const n = native();
    const handle = n.tapOpen(opts.ifname, opts.vnetHdr ?? false);
    this.fd = handle.fd;
    this.ifname = handle.ifname;
    this.vnetHdr = opts.vnetHdr ?? false;
    this.log = new Logger(`tap ${this.ifname}`);
    this.writer = new TapWriter(n, this.fd, (errno) => this.log.debug(`write failed: errno ${errno}`),
      VNET_HDR_LEN + MAX_FRAME);
    try {
      // A tap reopened by name keeps the offloads its last user set: start from none.
      if (this.vnetHdr) n.tapSetOffload(this.fd, 0);
      if (opts.up ?? true) n.linkSetUp(this.ifname, true);
      this.reader = this.startReading();
    } catch (err) {
      n.close(this.fd);
      throw err;
    }
  }

  setReceiver(fn: FrameReceiver | null): void {
    this.receiver = fn;
  }

  /** Frames whose write failed, or that could not be written at all. */
  get txDropped(): number {
    return this.writer.dropped + this.refused;
  }

  /** Held for the next batch: true unless it cannot go; a failed write shows in flush(). */
  send(frame: Uint8Array, hdr?: VirtioNetHdr): boolean {
    if (this.closed) return false;
    const total = (this.vnetHdr ? VNET_HDR_LEN : 0) + frame.length;
    if (total > this.writer.maxFrame) return this.refuse(`frame of ${frame.length} bytes`);
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

  flush(): number {
    return this.writer.flush();
  }

  private refuse(why: string): false {
    this.refused++;
    this.log.debug(`write dropped: ${why}`);
    return false;
  }

  setOffloads(o: PeerOffloads): void {
    if (this.closed || !this.vnetHdr) return;
    const flags = (o.csum ? TUN_F_CSUM : 0) | (o.tso4 ? TUN_F_TSO4 : 0) | (o.tso6 ? TUN_F_TSO6 : 0);
    try {
      native().tapSetOffload(this.fd, flags);
      this.log.info(`offloads${o.csum ? ' csum' : ''}${o.tso4 ? ' tso4' : ''}${o.tso6 ? ' tso6' : ''}${flags ? '' : ' none'}`);
    } catch (err) {
      this.log.warn(`setting offloads 0x${flags.toString(16)} failed: ${(err as Error).message}`);
    }
  }

  describe(): string {
    return `ifname=${this.ifname}${this.opts.info ? `,${this.opts.info}` : ''}`;
  }

  setCarrier(on: boolean): void {
    if (this.closed) return;
    try {
      native().tapSetCarrier(this.fd, on);
      this.log.info(`carrier ${on ? 'on' : 'off'}`);
    } catch (err) {
      this.log.warn(`setting the carrier ${on ? 'on' : 'off'} failed: ${(err as Error).message}`);
    }
  }

  setReceiving(on: boolean): void {
    if (this.closed || on === !this.paused) return;
    this.paused = !on;
    // A stopped poll is closed for good (pollStop), so waking takes a fresh one on the same fd.
    if (on) {
      this.reader = this.startReading();
    } else {
      this.reader?.stop();
      this.reader = null;
    }
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

  close(): void {
    if (this.closed) return;
    this.writer.flush();
    this.closed = true;
    const n = native();
    this.reader?.stop();
    // As QEMU's tap_cleanup: the down script runs while the interface still exists.
    if (isScript(this.opts.downscript)) {
      const status = launchScript(this.opts.downscript, this.ifname);
      if (status !== null) this.log.warn(`network script ${this.opts.downscript} failed with status ${status}`);
    }
    n.close(this.fd);
  }

  /**
   * One wake-up's frames to the receiver, each its own copy (it may keep them) with its vnet
   * header if it says anything, all but the last marked `more` so the receiver can do its
   * per-batch work once.
   */
  private deliver(buf: Uint8Array, lengths: Uint32Array, count: number): void {
    const from = this.vnetHdr ? VNET_HDR_LEN : 0;
    let held: Uint8Array | null = null;
    let heldHdr: VirtioNetHdr | undefined;
    let at = 0;
    for (let i = 0; i < count && !this.closed; i++) {
      const len = lengths[i]!;
      if (len > from) {
        if (held) this.receiver?.(held, heldHdr, true);
        // Most frames' headers say nothing: only the others are decoded.
        const plain = !this.vnetHdr || (buf[at] === 0 && buf[at + 1] === 0);
        const hdr = plain ? PLAIN_VNET_HDR : readVnetHdr(buf.subarray(at, at + VNET_HDR_LEN));
        heldHdr = isPlainVnetHdr(hdr) ? undefined : hdr;
        held = this.rxFrames.alloc(len - from, GUEST_DATA_SKEW);
        held.set(buf.subarray(at + from, at + len));
      }
      at += len;
    }
    if (count > 0) this.readErrors = 0;
    if (held && !this.closed) this.receiver?.(held, heldHdr, false);
  }
}
