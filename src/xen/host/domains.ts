// The domains of a real Xen as dom0's xenstored knows them: /local/domain/<id> (with its name)
// for the list, XS_IS_DOMAIN_INTRODUCED for whether one still exists, and the special watches
// @introduceDomain and @releaseDomain, which xenstored fires when a domain is introduced and
// when one dies or shuts down (docs/misc/xenstore.txt). A domain that was known and that
// xenstored no longer has is gone: destroyed, crashed, or shut down and torn down by xl.

import type { DomainInfo, Domains } from '../backend-ops.js';
import { DOMID_FIRST_RESERVED, type XsHandle } from '../xenstore/index.js';

const TOKEN = 'vifd-domains';
const BACKEND_DOMID = 0;

export class HostDomains implements Domains {
  private readonly listeners = new Set<(domid: number) => void>();
  private known = new Set<number>();

  /** `xs`: a connection of its own (its watch events are this object's). */
  constructor(private readonly xs: XsHandle) {
    xs.onWatchEvent = (_path, token) => {
      if (token === TOKEN) this.recheck();
    };
    xs.watch('@introduceDomain', TOKEN);
    xs.watch('@releaseDomain', TOKEN);
    this.known = new Set(this.ids());
  }

  list(): DomainInfo[] {
    return this.ids().map((domid) => ({ domid, name: this.xs.readString(`/local/domain/${domid}/name`) ?? null }));
  }

  exists(domid: number): boolean {
    return Number.isInteger(domid) && domid >= 0 && domid < DOMID_FIRST_RESERVED && this.xs.isDomainIntroduced(domid);
  }

  onGone(listener: (domid: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.xs.close();
  }

  /** Guest domids under /local/domain, lowest first. */
  private ids(): number[] {
    let names: string[];
    try {
      names = this.xs.directory('/local/domain');
    } catch {
      return [];
    }
    return names.filter((n) => /^\d+$/.test(n)).map(Number).filter((d) => d !== BACKEND_DOMID).sort((a, b) => a - b);
  }

  /** After either watch: new domains become known, known ones xenstored no longer has are gone. */
  private recheck(): void {
    for (const domid of this.ids()) this.known.add(domid);
    for (const domid of [...this.known]) {
      let alive: boolean;
      try {
        alive = this.exists(domid);
      } catch {
        continue; // xenstored unreachable: ask again at the next event
      }
      if (alive) continue;
      this.known.delete(domid);
      for (const listener of [...this.listeners]) listener(domid);
    }
  }
}
