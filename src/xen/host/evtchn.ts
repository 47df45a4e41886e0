// Event channels on a real Xen, through /dev/xen/evtchn as libxenevtchn uses it: ports bound
// on an fd (IOCTL_EVTCHN_BIND_INTERDOMAIN) are delivered to that fd only; the event loop hears
// the fd readable, reads the pending ports, runs each port's upcall, then writes the ports
// back to unmask them (as QEMU's xen-bus handler does: handle, then unmask). Notifies go
// through the fd the port is bound on. A datapath thread gets an fd of its own, bound from the
// platform's thread and read on the datapath's.

import type { EvtchnHandle, Upcall } from '../backend-ops.js';
import { errorCode } from '../../common/errors.js';
import { XenError, type XenErrorCode } from '../errors.js';
import { nativeXen } from './native-xen.js';

export const EVTCHN_PATH = '/dev/xen/evtchn';

/** Pending ports read per system call. */
const PENDING_BATCH = 64;

export class HostEvtchn implements EvtchnHandle {
  private readonly upcalls = new Map<number, Upcall>();
  private readonly pending = new Uint32Array(PENDING_BATCH);
  private poll: unknown = null;
  private closed = false;

  /**
   * `owned`: close() closes the fd. `reportError` hears of an upcall that threw (the others go
   * on, and its port is unmasked all the same).
   */
  constructor(readonly fd: number, private readonly owned: boolean,
    private readonly reportError: (err: unknown, port: number) => void) {}

  static open(reportError: (err: unknown, port: number) => void, path = EVTCHN_PATH): HostEvtchn {
    try {
      return new HostEvtchn(nativeXen().xenDevOpen(path, true), true, reportError);
    } catch (err) {
      throw new XenError('ENODEV', `cannot open ${path} (is this a Xen dom0 with xen-evtchn loaded?): ${(err as Error).message}`,
        { cause: err });
    }
  }

  bindInterdomain(domid: number, remotePort: number): number {
    try {
      return nativeXen().evtchnBindInterdomain(this.fd, domid, remotePort);
    } catch (err) {
      // The kernel answers ESRCH for a domain that is gone, EINVAL for a port it cannot bind.
      const code: XenErrorCode = errorCode(err) === 'ESRCH' ? 'ESRCH' : 'EINVAL';
      throw new XenError(code, `evtchn: bind to port ${remotePort} of domain ${domid}: ${(err as Error).message}`, { cause: err });
    }
  }

  unbind(port: number): void {
    this.upcalls.delete(port);
    this.pollIfNeeded();
    try {
      nativeXen().evtchnUnbind(this.fd, port);
    } catch (err) {
      // A port already closed: nothing left to unbind.
      if (errorCode(err) !== 'ENOTCONN') throw err;
    }
  }

  setUpcall(port: number, upcall: Upcall | null): void {
    if (upcall) this.upcalls.set(port, upcall);
    else this.upcalls.delete(port);
    this.pollIfNeeded();
  }

  notify(port: number): void {
    nativeXen().evtchnNotify(this.fd, port);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.upcalls.clear();
    this.pollIfNeeded();
    if (this.owned) nativeXen().close(this.fd);
  }

  /** The fd is watched while some port has an upcall, so an idle handle keeps no loop alive. */
  private pollIfNeeded(): void {
    const want = this.upcalls.size > 0 && !this.closed;
    if (want && this.poll === null) {
      this.poll = nativeXen().pollStart(this.fd, () => this.drain());
    } else if (!want && this.poll !== null) {
      nativeXen().pollStop(this.poll);
      this.poll = null;
    }
  }

  private drain(): void {
    const x = nativeXen();
    const ports = this.pending;
    for (;;) {
      const n = x.evtchnPending(this.fd, ports);
      for (let i = 0; i < n; i++) {
        const port = ports[i]!;
        const upcall = this.upcalls.get(port);
        if (!upcall) continue;
        try {
          upcall(port);
        } catch (err) {
          this.reportError(err, port);
        }
      }
      if (this.closed) return;
      x.evtchnUnmask(this.fd, ports, n);
      if (n < ports.length) return;
    }
  }
}
