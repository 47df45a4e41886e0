// A Linux tap as a NetClient: TUNSETIFF through the addon, readiness through a uv_poll, and
// non-blocking reads drained until EAGAIN (bounded per wake-up so one busy tap cannot starve
// the event loop).

import { Logger } from '../../common/log.js';
import { EAGAIN, native } from './native.js';
import type { FrameReceiver, NetClient } from './net-client.js';

const MAX_FRAME = 65536;
const READS_PER_WAKEUP = 64;

export interface TapOptions {
  id: string;
  ifname: string;
  vnetHdr?: boolean;
  /** Bring the interface up once created, as Xen's vif-bridge script does. */
  up?: boolean;
}

export class TapNetClient implements NetClient {
  readonly type = 'tap';
  readonly ifname: string;
  private readonly fd: number;
  private poll: unknown;
  private receiver: FrameReceiver | null = null;
  private readonly buf = new Uint8Array(MAX_FRAME);
  private closed = false;
  private readonly log: Logger;
  txDropped = 0;

  constructor(readonly id: string, opts: TapOptions) {
    const n = native();
    const handle = n.tapOpen(opts.ifname, opts.vnetHdr ?? false);
    this.fd = handle.fd;
    this.ifname = handle.ifname;
    this.log = new Logger(`tap ${this.ifname}`);
    try {
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

  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    const n = native().tapWrite(this.fd, frame);
    if (n < 0) {
      this.txDropped++;
      if (n !== -EAGAIN) this.log.debug(`write failed: errno ${-n}`);
      return false;
    }
    return true;
  }

  describe(): string {
    return `type=tap,ifname=${this.ifname}`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const n = native();
    n.pollStop(this.poll);
    n.close(this.fd);
  }

  private drain(): void {
    const n = native();
    for (let i = 0; i < READS_PER_WAKEUP && !this.closed; i++) {
      const len = n.tapRead(this.fd, this.buf);
      if (len <= 0) {
        if (len < 0 && len !== -EAGAIN) this.log.debug(`read failed: errno ${-len}`);
        return;
      }
      // The receiver may keep the frame (queued for the guest), so it gets its own copy.
      this.receiver?.(this.buf.slice(0, len));
    }
  }
}
