// The emulated Xen platform (what QEMU's xen-emulate mode provides): domains with memory and
// grant tables, event channels and the xenstore. Dom0, the backend domain, always exists. It
// fills the platform seam (backend-ops.ts) for the backends, as QEMU fills its backend ops
// from hw/i386/kvm/xen_*.c; the simulated guests and the tests use the rest of it directly.

import type { BackendPlatform, DatapathPlatform, DomainInfo, Domains, Handoff } from '../backend-ops.js';
import { domainPathOf } from '../paths.js';
import { XenError } from '../errors.js';
import { EmbeddedXenstore, type GuestXsConnection, type XenstoreAccess } from '../xenstore-access.js';
import { XenStore, withTransaction, type XsHandle } from '../xenstore/index.js';
import { Domain } from './domain.js';
import { EventChannels } from './event-channel.js';
import { EmulatedEvtchnHandle } from './evtchn-handle.js';
import { EmulatedGrants, type EmulatedMappingHandoff } from './grant-ops.js';
import type { GrantTable } from './grant-table.js';
import { EmulatedThreadLink } from './thread-link.js';

export const DOM0 = 0;

export class EmulatedPlatform implements BackendPlatform {
  readonly kind = 'emulated';
  readonly backendDomid = DOM0;
  /** Every domain's event channels (the guests' side included). */
  readonly channels = new EventChannels();
  /** Dom0's handle on them, for the backends. */
  readonly evtchn = new EmulatedEvtchnHandle(this.channels, DOM0);
  /** Dom0's grant operations on the guests' tables; zero-copy reads too, the guests running on this thread. */
  readonly grants = new EmulatedGrants(DOM0, (domid) => this.byDomid.get(domid)?.grants, { direct: true });
  readonly datapath: DatapathPlatform = { grants: this.grants, evtchn: this.evtchn, attach: (m) => this.attach(m) };
  readonly domains: Domains;
  readonly store: XenstoreAccess;
  /** The toolstack's privileged connection (dom0). */
  readonly xs: XsHandle;
  private readonly byDomid = new Map<number, Domain>();
  private readonly goneListeners = new Set<(domid: number) => void>();

  constructor(store: XenstoreAccess | XenStore = new XenStore()) {
    this.store = store instanceof XenStore ? new EmbeddedXenstore(store) : store;
    this.xs = this.store.privileged();
    this.addDomain(DOM0, 'Domain-0');
    this.domains = {
      list: () => this.guestDomids().map((domid): DomainInfo => ({ domid, name: this.byDomid.get(domid)!.name })),
      exists: (domid) => this.byDomid.has(domid),
      onGone: (listener) => {
        this.goneListeners.add(listener);
        return () => this.goneListeners.delete(listener);
      },
    };
  }

  /** The embedded store; an error when vifd uses an external xenstored. */
  get xenstore(): XenStore {
    const s = this.store.embedded;
    if (!s) throw new XenError('ENODEV', `no embedded xenstore: using the xenstored at ${this.store.description}`);
    return s;
  }

  /** A new privileged (dom0) xenstore connection, for a backend bus or a QMP watcher. */
  connectXenstore(): XsHandle {
    return this.store.privileged();
  }

  /** A new xenstore connection for a simulated guest's xenbus. */
  connectGuest(domid: number): GuestXsConnection {
    return this.store.guest(domid);
  }

  openThreadLink(): EmulatedThreadLink {
    return new EmulatedThreadLink(this.channels, DOM0);
  }

  close(): void {
    this.store.close();
  }

  /**
   * Creates a guest domain as libxl does: /local/domain/<id> owned by dom0 and readable by the
   * guest, with `device/` (and the other writable areas) owned by the guest.
   */
  createDomain(domid: number, name: string): Domain {
    if (this.byDomid.has(domid)) throw new XenError('EEXIST', `domain ${domid} already exists`);
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

  /** As `xl destroy`: its ports close, its xenstore goes, and the backends hear it is gone. */
  destroyDomain(domid: number): void {
    if (domid === DOM0 || !this.byDomid.has(domid)) throw new XenError('ESRCH', `no guest domain ${domid}`);
    this.channels.removeDomain(domid);
    this.store.releaseDomain(domid);
    try {
      this.xs.rm(domainPathOf(domid));
    } catch {
      // already gone with the domain's own nodes
    }
    this.byDomid.delete(domid);
    for (const listener of [...this.goneListeners]) listener(domid);
  }

  domain(domid: number): Domain {
    const d = this.byDomid.get(domid);
    if (!d) throw new XenError('ESRCH', `no domain ${domid}`);
    return d;
  }

  grantTable(domid: number): GrantTable {
    return this.domain(domid).grants;
  }

  guestDomids(): number[] {
    return [...this.byDomid.keys()].filter((d) => d !== DOM0).sort((a, b) => a - b);
  }

  /** A mapping's page, on this thread: the frame it was made for. */
  private attach(mapping: Handoff): Uint8Array {
    const m = mapping as EmulatedMappingHandoff;
    if (m.platform !== 'emulated') throw new TypeError(`a ${m.platform} platform's mapping given to the emulated platform`);
    return this.domain(m.table.owner).memory.page(m.frame);
  }

  private addDomain(domid: number, name: string): Domain {
    const dom = new Domain(domid, name);
    this.byDomid.set(domid, dom);
    this.channels.addDomain(domid);
    return dom;
  }
}
