// The emulated Xen platform (what QEMU's xen-emulate mode provides): domains with memory and
// grant tables, event channels and the xenstore. Dom0, the backend domain, always exists.

import { domainPathOf } from '../paths.js';
import { Domain } from './domain.js';
import { XenError } from '../errors.js';
import { EventChannels } from './event-channel.js';
import type { GrantTable } from './grant-table.js';
import { EmbeddedXenstore, type GuestXsConnection, type XenstoreAccess } from '../xenstore-access.js';
import { XenStore, withTransaction, type XsHandle } from '../xenstore/index.js';

export const DOM0 = 0;

export class XenPlatform {
  readonly evtchn = new EventChannels();
  readonly store: XenstoreAccess;
  /** The toolstack's privileged connection (dom0). */
  readonly xs: XsHandle;
  private readonly domains = new Map<number, Domain>();

  constructor(store: XenstoreAccess | XenStore = new XenStore()) {
    this.store = store instanceof XenStore ? new EmbeddedXenstore(store) : store;
    this.xs = this.store.privileged();
    this.addDomain(DOM0, 'Domain-0');
  }

  /** The embedded store; an error when vifd uses an external xenstored. */
  get xenstore(): XenStore {
    const s = this.store.embedded;
    if (!s) throw new XenError('ENODEV', `no embedded xenstore: using the xenstored at ${this.store.description}`);
    return s;
  }

  /** A new privileged (dom0) xenstore connection, for a backend bus or a QMP watcher. */
  connectPrivileged(): XsHandle {
    return this.store.privileged();
  }

  /** A new xenstore connection for a simulated guest's xenbus. */
  connectGuest(domid: number): GuestXsConnection {
    return this.store.guest(domid);
  }

  close(): void {
    this.store.close();
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
    this.store.introduceDomain(domid);
    return dom;
  }

  destroyDomain(domid: number): void {
    if (domid === DOM0 || !this.domains.has(domid)) throw new XenError('ESRCH', `no guest domain ${domid}`);
    this.evtchn.removeDomain(domid);
    this.store.releaseDomain(domid);
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
