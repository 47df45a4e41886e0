// A Linux tap as a NetClient: TUNSETIFF through the addon, its frames read and written by a
// TapIo (tap-io.ts). With vnet_hdr every frame carries a 10-byte virtio_net_hdr both ways: the
// guest's partial checksums and GSO frames go out as they are, and the kernel hands over such
// frames only once told which ones the guest takes (setOffloads, TUNSETOFFLOAD). The frame I/O
// can be lent to a datapath thread (lendIo) and taken back; the interface stays here.

import { Logger } from '../../common/log.js';
import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';
import { native, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 } from './native.js';
import type { FrameReceiver, LentTap, NetClient, PeerOffloads } from './net-client.js';
import { isScript, launchScript } from './scripts.js';
import { TapIo } from './tap-io.js';

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
  /** Null while the I/O is lent to a datapath thread. */
  private io: TapIo | null;
  private receiver: FrameReceiver | null = null;
  private receiving = true;
  readonly vnetHdr: boolean;
  /** Drops counted by the TapIos this tap had before the current one. */
  private droppedBefore = 0;
  private closed = false;
  private readonly log: Logger;

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
      this.io = new TapIo(this.fd, this.vnetHdr, this.log);
    } catch (err) {
      n.close(this.fd);
      throw err;
    }
  }

  setReceiver(fn: FrameReceiver | null): void {
    this.receiver = fn;
    this.io?.setReceiver(fn);
  }

  /** Frames whose write failed, or that could not be written at all. */
  get txDropped(): number {
    return this.droppedBefore + (this.io?.txDropped ?? 0);
  }

  /** Held for the next batch: true unless it cannot go; a failed write shows in flush(). */
  send(frame: Uint8Array, hdr?: VirtioNetHdr): boolean {
    return !this.closed && this.io !== null && this.io.send(frame, hdr);
  }

  sendGuest(memory: Uint8Array, at: number, len: number): boolean {
    return !this.closed && this.io !== null && this.io.sendGuest(memory, at, len);
  }

  flush(): number {
    return this.io?.flush() ?? 0;
  }

  setReceiving(on: boolean): void {
    this.receiving = on;
    this.io?.setReceiving(on);
  }

  lendIo(): LentTap {
    if (this.closed) throw new Error(`tap ${this.ifname} is closed`);
    this.retireIo();
    return { fd: this.fd, ifname: this.ifname, vnetHdr: this.vnetHdr };
  }

  reclaimIo(): void {
    if (this.closed || this.io) return;
    this.io = new TapIo(this.fd, this.vnetHdr, this.log);
    this.io.setReceiver(this.receiver);
    this.io.setReceiving(this.receiving);
  }

  private retireIo(): void {
    if (!this.io) return;
    this.io.stop();
    this.droppedBefore += this.io.txDropped;
    this.io = null;
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

  close(): void {
    if (this.closed) return;
    this.retireIo();
    this.closed = true;
    // As QEMU's tap_cleanup: the down script runs while the interface still exists.
    if (isScript(this.opts.downscript)) {
      const status = launchScript(this.opts.downscript, this.ifname);
      if (status !== null) this.log.warn(`network script ${this.opts.downscript} failed with status ${status}`);
    }
    native().close(this.fd);
  }
}
