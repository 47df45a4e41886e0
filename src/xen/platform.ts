// The emulated Xen platform (what QEMU's xen-emulate mode provides): domains with memory and
// grant tables, event channels and the xenstore. Dom0, the backend domain, always exists.

import { domainPathOf } from './paths.js';
import { Domain } from './domain.js';
import { XenError } from './errors.js';
import { EventChannels } from './event-channel.js';
import type { GrantTable } from './grant-table.js';
import { XenStore, withTransaction, type XsConnection } from './xenstore/index.js';

export const DOM0 = 0;

export class XenPlatform {
  readonly evtchn = new EventChannels();
  readonly xenstore: XenStore;
  /** The toolstack's privileged connection (dom0). */
  readonly xs: XsConnection;
  private readonly domains = new Map<number, Domain>();

  constructor(xenstore = new XenStore()) {
    this.xenstore = xenstore;
    this.xs = xenstore.connect(DOM0, { privileged: true });
    this.addDomain(DOM0, 'Domain-0');
  }

  /**
   * Creates a guest domain as libxl does: /local/domain/<id> owned by dom0 and readable by the
   * guest, with `device/` (and the other writable areas) owned by the guest.
   */
  createDomain(domid: number, name: string): Domain {
    if (this.domains.has(domid)) throw new XenError('EEXIST', `domain ${domid} already exists`);
    const dom = this.addDomain(domid, name);
    const base = domainPathOf(domid);
    withTransaction(this.xs, (tx) => {
      this.xs.mkdir(base, tx);
      this.xs.setPerms(base, ['n0', `r${domid}`], tx);
      this.xs.write(`${base}/name`, name, tx);
      this.xs.write(`${base}/domid`, String(domid), tx);
      for (const area of ['device', 'data', 'control', 'error']) {
        this.xs.mkdir(`${base}/${area}`, tx);
        this.xs.setPerms(`${base}/${area}`, [`n${domid}`], tx);
      }
    });
    this.xenstore.introduceDomain(domid);
    return dom;
  }

  destroyDomain(domid: number): void {
    if (domid === DOM0 || !this.domains.has(domid)) throw new XenError('ESRCH', `no guest domain ${domid}`);
    this.evtchn.removeDomain(domid);
    this.xenstore.releaseDomain(domid);
    try {
      this.xs.rm(domainPathOf(domid));
    } catch {
      // already gone with the domain's own nodes
    }
    this.domains.delete(domid);
  }

  domain(domid: number): Domain {
    const d = this.domains.get(domid);
    if (!d) throw new XenError('ESRCH', `no domain ${domid}`);
    return d;
  }

  grantTable(domid: number): GrantTable {
    return this.domain(domid).grants;
  }

  guestDomids(): number[] {
    return [...this.domains.keys()].filter((d) => d !== DOM0).sort((a, b) => a - b);
  }

  private addDomain(domid: number, name: string): Domain {
    const dom = new Domain(domid, name);
    this.domains.set(domid, dom);
    this.evtchn.addDomain(domid);
    return dom;
  }
}
