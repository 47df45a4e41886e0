// A Linux tap as a NetClient: TUNSETIFF through the addon, readiness through a uv_poll, and
// non-blocking reads drained until EAGAIN (bounded per wake-up so one busy tap cannot starve
// the event loop). With vnet_hdr every frame carries a 10-byte virtio_net_hdr both ways: the
// guest's partial checksums and GSO frames go out as they are, and the kernel hands over such
// frames only once told which ones the guest takes (setOffloads, TUNSETOFFLOAD).

import { Logger } from '../../common/log.js';
import {
  isPlainVnetHdr, PLAIN_VNET_HDR, readVnetHdr, VNET_HDR_LEN, type VirtioNetHdr, writeVnetHdr,
} from '../../protocol/virtio-net-hdr.js';
import { EAGAIN, native, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 } from './native.js';
import type { FrameReceiver, NetClient, PeerOffloads } from './net-client.js';
import { isScript, launchScript } from './scripts.js';

/** A GSO frame: 64 KiB of IP packet, its Ethernet header (and a VLAN tag) and the vnet header. */
const MAX_FRAME = 65536 + 32;
const READS_PER_WAKEUP = 64;
const MAX_READ_ERRORS_IN_A_ROW = 1000;

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
  private poll: unknown;
  private receiver: FrameReceiver | null = null;
  private readonly buf = new Uint8Array(MAX_FRAME);
  private readonly wbuf = new Uint8Array(MAX_FRAME);
  readonly vnetHdr: boolean;
  private closed = false;
  /** setReceiving(false): the poll is stopped and frames wait in the kernel's queue. */
  private paused = false;
  private readErrors = 0;
  private readonly log: Logger;
  txDropped = 0;

  constructor(readonly id: string, private readonly opts: TapOptions) {
    const n = native();
    const handle = n.tapOpen(opts.ifname, opts.vnetHdr ?? false);
    this.fd = handle.fd;
    this.ifname = handle.ifname;
    this.vnetHdr = opts.vnetHdr ?? false;
    this.log = new Logger(`tap ${this.ifname}`);
    try {
      // A tap reopened by name keeps the offloads its last user set: start from none.
      if (this.vnetHdr) n.tapSetOffload(this.fd, 0);
      if (opts.up ?? true) n.linkSetUp(this.ifname, true);
      this.poll = n.pollStart(this.fd, () => this.drain());
    } catch (err) {
      n.close(this.fd);
      throw err;
    }
  }

  setReceiver(fn: FrameReceiver | null): void {
    this.receiver = fn;
  }

  send(frame: Uint8Array, hdr?: VirtioNetHdr): boolean {
    if (this.closed) return false;
    let out = frame;
    if (this.vnetHdr) {
      // One write of header and frame, through a buffer kept for it (write() copies it out).
      if (VNET_HDR_LEN + frame.length > this.wbuf.length) return this.dropTx(`frame of ${frame.length} bytes`);
      writeVnetHdr(this.wbuf, 0, hdr ?? PLAIN_VNET_HDR);
      this.wbuf.set(frame, VNET_HDR_LEN);
      out = this.wbuf.subarray(0, VNET_HDR_LEN + frame.length);
    }
    const n = native().tapWrite(this.fd, out);
    if (n < 0) {
      this.txDropped++;
      if (n !== -EAGAIN) this.log.debug(`write failed: errno ${-n}`);
      return false;
    }
    return true;
  }

  private dropTx(why: string): false {
    this.txDropped++;
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
    if (on) this.poll = native().pollStart(this.fd, () => this.drain());
    else native().pollStop(this.poll);
  }

  /**
   * The poll is level-triggered: an fd that stays readable only to fail every read would wake
   * the loop for ever. After a run of failures the tap stops reading and says why.
   */
  private readFailed(errno: number): void {
    this.log.debug(`read failed: errno ${errno}`);
    if (++this.readErrors < MAX_READ_ERRORS_IN_A_ROW) return;
    this.log.error(`${MAX_READ_ERRORS_IN_A_ROW} reads in a row failed (errno ${errno}): no longer reading this tap`);
    native().pollStop(this.poll);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const n = native();
    n.pollStop(this.poll);
    // As QEMU's tap_cleanup: the down script runs while the interface still exists.
    if (isScript(this.opts.downscript)) {
      const status = launchScript(this.opts.downscript, this.ifname);
      if (status !== null) this.log.warn(`network script ${this.opts.downscript} failed with status ${status}`);
    }
    n.close(this.fd);
  }

  private drain(): void {
    const n = native();
    for (let i = 0; i < READS_PER_WAKEUP && !this.closed && !this.paused; i++) {
      const len = n.tapRead(this.fd, this.buf);
      if (len <= 0) {
        if (len < 0 && len !== -EAGAIN) this.readFailed(-len);
        return;
      }
      this.readErrors = 0;
      const from = this.vnetHdr ? VNET_HDR_LEN : 0;
      if (len <= from) continue;
      const hdr = this.vnetHdr ? readVnetHdr(this.buf) : PLAIN_VNET_HDR;
      // The receiver may keep the frame (queued for the guest), so it gets its own copy.
      this.receiver?.(this.buf.slice(from, len), isPlainVnetHdr(hdr) ? undefined : hdr);
    }
  }
}
