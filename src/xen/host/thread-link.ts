// A datapath thread's link to a real Xen, both ends. Its event channel fd is opened here and
// its ports bound here (binding is the control side's), but the thread reads the fd, runs the
// upcalls and notifies through it. Grant copies and mapped rings need no crossing: the gntdev
// fd and the mappings belong to the process, so the thread uses the same fd and attaches the
// mapped pages by their address.

import type { DatapathPlatform, EvtchnBinder, Handoff, ThreadLink } from '../backend-ops.js';
import { HostEvtchn } from './evtchn.js';
import { Gntdev } from './gntdev.js';

export interface HostThreadHandoff extends Handoff {
  readonly platform: 'host';
  readonly evtchnFd: number;
  readonly gntdevFd: number;
}

/** The platform's end. */
export class HostThreadLink implements ThreadLink {
  readonly evtchn: EvtchnBinder;
  readonly handoff: HostThreadHandoff;
  private readonly handle: HostEvtchn;

  constructor(gntdev: Gntdev, reportError: (err: unknown, port: number) => void) {
    // Bound here, served there: this end never sets upcalls, so it never reads the fd.
    this.handle = HostEvtchn.open(reportError);
    this.evtchn = this.handle;
    this.handoff = { platform: 'host', evtchnFd: this.handle.fd, gntdevFd: gntdev.fd };
  }

  /** Only once the thread has let go of the fd (the thread is gone). */
  close(): void {
    this.handle.close();
  }
}

/** The datapath thread's end. */
export class HostThreadDatapath implements DatapathPlatform {
  readonly grants: Gntdev;
  readonly evtchn: HostEvtchn;

  constructor(h: HostThreadHandoff, reportError: (err: unknown, port: number) => void) {
    this.grants = new Gntdev(h.gntdevFd);
    this.evtchn = new HostEvtchn(h.evtchnFd, false, reportError);
  }

  attach(mapping: Handoff): Uint8Array {
    return this.grants.attach(mapping);
  }

  close(): void {
    this.evtchn.close();
  }
}
