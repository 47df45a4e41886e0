// Domains as xenstored knows them: which are introduced (have a live xenstore ring), which act
// for another (SET_TARGET), and the permission lists of the `@introduceDomain`/`@releaseDomain`
// pseudo nodes. The store (store.ts) orchestrates what introduce and release do to the tree and to
// connections; this file only keeps the records and validates domain ids.
//
// cx rules kept here (xenstored_domain.c, 4.17):
// * dom0 is always introduced; introducing it again, or any domain twice, is OK and silent.
// * RELEASE/RESUME of dom0 is EINVAL, of a domain that is not introduced ENOENT.
// * SET_TARGET needs both domains introduced (ENOENT otherwise).
// * The special nodes start as `n0`: only privileged watchers hear their events until dom0
//   grants read. SET_PERMS on them needs write+owner on the current list; any other `@` name is
//   EINVAL. They cannot be read, written or listed (EINVAL, see path.ts).

import { XsError } from './errors.js';
import { INTRODUCE_DOMAIN, printable, RELEASE_DOMAIN } from './path.js';
import { accessFor, DOMID_MAX, PERM_OWNER, PERM_WRITE, type Accessor, type Perms } from './perms.js';

/** DOMID_FIRST_RESERVED: ids from here on (DOMID_SELF, DOMID_IO, ...) never name a real domain. */
export const DOMID_FIRST_RESERVED = 0x7ff0;

/** Validates a domain id given to the store. */
export function checkDomid(domid: number, limit = DOMID_MAX): void {
  if (!Number.isInteger(domid) || domid < 0 || domid > limit) {
    throw new XsError('EINVAL', `invalid domain id ${printable(String(domid))}`);
  }
}

export class DomainTable {
  private readonly introduced = new Set<number>([0]);
  private readonly targets = new Map<number, number>();
  private readonly special = new Map<string, Perms>([
    [INTRODUCE_DOMAIN, [{ letter: 'n', domid: 0 }]],
    [RELEASE_DOMAIN, [{ letter: 'n', domid: 0 }]],
  ]);

  isIntroduced(domid: number): boolean {
    return this.introduced.has(domid);
  }

  /** All introduced domains, dom0 first. */
  list(): number[] {
    return [...this.introduced].sort((a, b) => a - b);
  }

  /** Records the introduction; true if the domain is new (and `@introduceDomain` should fire). */
  introduce(domid: number): boolean {
    checkDomid(domid, DOMID_FIRST_RESERVED - 1);
    if (this.introduced.has(domid)) return false;
    this.introduced.add(domid);
    return true;
  }

  /** Checks that `domid` may be released or resumed (an introduced domU). */
  checkReleasable(domid: number): void {
    checkDomid(domid);
    if (domid === 0) throw new XsError('EINVAL', 'dom0 cannot be released or resumed');
    if (!this.introduced.has(domid)) throw new XsError('ENOENT', `domain ${domid} is not introduced`);
  }

  /** Forgets the domain, and every SET_TARGET relation it took part in. */
  release(domid: number): void {
    this.introduced.delete(domid);
    this.targets.delete(domid);
    for (const [actor, target] of this.targets) if (target === domid) this.targets.delete(actor);
  }

  setTarget(domid: number, target: number): void {
    checkDomid(domid);
    checkDomid(target);
    for (const d of [domid, target]) {
      if (!this.introduced.has(d)) throw new XsError('ENOENT', `domain ${d} is not introduced`);
    }
    this.targets.set(domid, target);
  }

  targetOf(domid: number): number | undefined {
    return this.targets.get(domid);
  }

  specialPerms(path: string): Perms | undefined {
    return this.special.get(path);
  }

  setSpecialPerms(who: Accessor, path: string, perms: Perms): void {
    const current = this.special.get(path);
    if (!current) throw new XsError('EINVAL', `${printable(path)} is not a special node`);
    const need = PERM_WRITE | PERM_OWNER;
    if ((accessFor(who, current) & need) !== need) throw new XsError('EACCES', '');
    this.special.set(path, perms);
  }
}
