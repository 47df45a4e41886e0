// Node permissions: the `n0 r1 w2 b3` lists and who may do what with them (docs/misc/xenstore.txt,
// "permissions"; C xenstored's perm_for_conn() in tools/xenstore/xenstored_core.c).
// Entry 0 names the owner and, with its letter, the access of every domain not listed later.
// Privileged connections and the owner get everything; otherwise the first later entry naming
// the caller (or the domain it is the device model of, SET_TARGET) decides.

import { XsError } from './errors.js';
import { printable } from './path.js';

export type PermLetter = 'n' | 'r' | 'w' | 'b';

export interface Perm {
  readonly letter: PermLetter;
  readonly domid: number;
}

/** At least one entry; treated as immutable everywhere (nodes share lists). */
export type Perms = readonly Perm[];

export const PERM_READ = 1;
export const PERM_WRITE = 2;
/** Only owners (and privileged callers) hold it; SET_PERMS needs it. */
export const PERM_OWNER = 4;
const PERM_ALL = PERM_READ | PERM_WRITE | PERM_OWNER;

const LETTER_BITS: Readonly<Record<PermLetter, number>> = {
  n: 0, r: PERM_READ, w: PERM_WRITE, b: PERM_READ | PERM_WRITE,
};

/** domid_t is 16 bits wide. */
export const DOMID_MAX = 0xffff;

/** Who is asking: what a permission check needs to know about a connection. */
export interface Accessor {
  readonly domid: number;
  readonly privileged: boolean;
  /** The domain this one acts for (SET_TARGET, device-model stub domains). */
  readonly target?: number | undefined;
}

const PERM_RE = /^([nrwb])(0|[1-9][0-9]{0,4})$/;

/**
 * Parses one entry. Stricter than cx (which takes any letter then `atoi()`s the rest, so `r`
 * means `r0`): a malformed entry is EINVAL rather than a silent grant to dom0.
 */
export function parsePerm(text: string): Perm {
  const m = PERM_RE.exec(text);
  const domid = m ? Number(m[2]) : NaN;
  if (!m || domid > DOMID_MAX) throw new XsError('EINVAL', `invalid permission '${printable(text)}'`);
  return { letter: m[1] as PermLetter, domid };
}

export function parsePerms(texts: readonly string[]): Perms {
  if (texts.length === 0) throw new XsError('EINVAL', 'a permission list needs at least the owner entry');
  return texts.map(parsePerm);
}

export function formatPerm(perm: Perm): string {
  return `${perm.letter}${perm.domid}`;
}

export function formatPerms(perms: Perms): string[] {
  return perms.map(formatPerm);
}

export function ownerOf(perms: Perms): number {
  return perms[0]!.domid;
}

/** The PERM_* bits `who` holds on a node with `perms`. */
export function accessFor(who: Accessor, perms: Perms): number {
  if (who.privileged) return PERM_ALL;
  const owner = ownerOf(perms);
  if (owner === who.domid || (who.target !== undefined && owner === who.target)) return PERM_ALL;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if (p.domid === who.domid || (who.target !== undefined && p.domid === who.target)) {
      return LETTER_BITS[p.letter];
    }
  }
  return LETTER_BITS[perms[0]!.letter];
}

export function canRead(who: Accessor, perms: Perms): boolean {
  return (accessFor(who, perms) & PERM_READ) !== 0;
}

/**
 * Nodes created implicitly copy their parent's list; an unprivileged creator becomes the owner
 * (so a guest always owns what it makes, and its node quota counts it).
 */
export function inheritPerms(parent: Perms, creator: Accessor): Perms {
  if (creator.privileged || ownerOf(parent) === creator.domid) return parent;
  return [{ letter: parent[0]!.letter, domid: creator.domid }, ...parent.slice(1)];
}

export function permsEqual(a: Perms, b: Perms): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((p, i) => p.letter === b[i]!.letter && p.domid === b[i]!.domid);
}

/**
 * The list without the non-owner entries naming `domid`, or undefined if there are none. A
 * released domain must not hand its rights to the next domain that gets its id (XSA-322); cx
 * marks such entries ignored, we drop them.
 */
export function withoutDomain(perms: Perms, domid: number): Perms | undefined {
  if (!perms.some((p, i) => i > 0 && p.domid === domid)) return undefined;
  return perms.filter((p, i) => i === 0 || p.domid !== domid);
}

export const DEFAULT_ROOT_PERMS: Perms = [{ letter: 'n', domid: 0 }];
