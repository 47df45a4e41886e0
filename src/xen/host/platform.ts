// A real Xen, from its dom0 (QEMU's -accel xen; what QEMU fills its backend ops with from
// libxenevtchn, libxengnttab and libxenstore, hw/xen/xen-operations.c): dom0's xenstored over
// its socket, grants through /dev/xen/gntdev, event channels through /dev/xen/evtchn, and the
// hypervisor's domains as xenstored knows them. One vifd serves any number of domains.

import { Logger } from '../../common/log.js';
import type { BackendPlatform, DatapathPlatform } from '../backend-ops.js';
import type { XsHandle } from '../xenstore/index.js';
import { ExternalXenstore } from '../xenstore-access.js';
import { HostDomains } from './domains.js';
import { HostEvtchn } from './evtchn.js';
import { Gntdev } from './gntdev.js';
import { HostThreadLink } from './thread-link.js';

export interface HostPlatformOptions {
  /** dom0's xenstored socket. */
  xenstored: string;
}

const log = new Logger('xen');

function reportUpcallError(err: unknown, port: number): void {
  log.error(`upcall on event channel ${port} failed: ${(err as Error).stack ?? String(err)}`);
}

export class HostPlatform implements BackendPlatform {
  readonly kind = 'host';
  readonly backendDomid = 0;
  readonly grants: Gntdev;
  readonly evtchn: HostEvtchn;
  readonly datapath: DatapathPlatform;
  readonly domains: HostDomains;
  readonly store: ExternalXenstore;

  /** Opens everything now, so a dom0 that lacks something fails at start-up saying what. */
  constructor(opts: HostPlatformOptions) {
    this.store = new ExternalXenstore(opts.xenstored);
    const opened: Array<{ close(): void }> = [this.store];
    try {
      this.grants = Gntdev.open();
      opened.push(this.grants);
      this.evtchn = HostEvtchn.open(reportUpcallError);
      opened.push(this.evtchn);
      this.domains = new HostDomains(this.store.privileged());
    } catch (err) {
      for (const o of opened.reverse()) o.close();
      throw err;
    }
    this.datapath = { grants: this.grants, evtchn: this.evtchn, attach: (m) => this.grants.attach(m) };
  }

  connectXenstore(): XsHandle {
    return this.store.privileged();
  }

  openThreadLink(): HostThreadLink {
    return new HostThreadLink(this.grants, reportUpcallError);
  }

  close(): void {
    this.evtchn.close();
    this.grants.close();
    this.domains.close();
    this.store.close();
  }
}
