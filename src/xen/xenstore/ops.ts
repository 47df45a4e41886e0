// The semantics of the node requests (READ, WRITE, MKDIR, RM, DIRECTORY, DIRECTORY_PART,
// GET_PERMS, SET_PERMS), written once against a `View` so that requests inside and outside
// transactions behave identically. Paths arrive absolute and validated. The rules are cx 4.17's
// do_*() handlers (tools/xenstore/xenstored_core.c; docs/misc/xenstore.txt):
//
// * A request on an existing node needs the permission it asks for, else EACCES. For a missing
//   node the nearest existing ancestor decides: ENOENT if the caller holds the asked permission
//   there, EACCES otherwise, so nobody learns what exists where they may not look.
// * WRITE/MKDIR create missing ancestors, copying the parent's permission list; an unprivileged
//   creator becomes the owner. Only the named node gets a watch event.
// * MKDIR of an existing node is OK (value kept) but still needs write permission on it.
// * RM of a missing node is OK if its parent exists. RM of `/` is EINVAL. Removed descendants
//   fire "exact" events (only watches placed exactly on them), children before parents; the
//   removed node itself fires for watches on it and above.

import { XsError } from './errors.js';
import { EMPTY_VALUE, type ReadonlyNode, type View } from './node-tree.js';
import { ancestorsOf, baseName, joinPath, parentPath } from './path.js';
import {
  accessFor, inheritPerms, ownerOf, permsEqual, PERM_OWNER, PERM_READ, PERM_WRITE, type Accessor, type Perms,
} from './perms.js';
import {
  checkEntrySize, checkNodeQuota, checkPermsQuota, childBytesOf, entrySize, type Quotas,
} from './quota.js';

/** Largest payload of one xenstore message. */
export const XENSTORE_PAYLOAD_MAX = 4096;

/** A change watchers may hear about; `perms` are the lists that make it visible to a reader. */
export interface StoreEvent {
  readonly path: string;
  /** Only watches placed exactly on `path` fire (descendants of a removed subtree). */
  readonly exact: boolean;
  readonly perms: ReadonlyArray<Perms | undefined>;
}

export interface OpContext extends Accessor {
  readonly quotas: Quotas;
  /** Absent while a transaction runs: its events come from the replay at commit. */
  readonly emit?: ((event: StoreEvent) => void) | undefined;
}

export interface DirectoryPart {
  /** Generation of the directory node; a caller restarts if it changes between chunks. */
  readonly generation: number;
  /**
   * Bytes of the NUL-separated child list from the requested offset, cut so that
   * `${generation}\0` + chunk fits one message. The final chunk ends with an extra NUL.
   */
  readonly chunk: Buffer;
  readonly complete: boolean;
}

/** One request as a transaction logs it, so that commit can replay it. */
export type NodeOp =
  | { readonly kind: 'read'; readonly path: string }
  | { readonly kind: 'directory'; readonly path: string }
  | { readonly kind: 'directoryPart'; readonly path: string; readonly offset: number }
  | { readonly kind: 'getPerms'; readonly path: string }
  | { readonly kind: 'write'; readonly path: string; readonly value: Buffer }
  | { readonly kind: 'mkdir'; readonly path: string }
  | { readonly kind: 'rm'; readonly path: string }
  | { readonly kind: 'setPerms'; readonly path: string; readonly perms: Perms };

export type NodeOpResult = Buffer | string[] | DirectoryPart | Perms | undefined;

export function runNodeOp(ctx: OpContext, view: View, op: NodeOp): NodeOpResult {
  switch (op.kind) {
    case 'read': return opRead(ctx, view, op.path);
    case 'directory': return opDirectory(ctx, view, op.path);
    case 'directoryPart': return opDirectoryPart(ctx, view, op.path, op.offset);
    case 'getPerms': return opGetPerms(ctx, view, op.path);
    case 'write': return opWrite(ctx, view, op.path, op.value);
    case 'mkdir': return opMkdir(ctx, view, op.path);
    case 'rm': return opRm(ctx, view, op.path);
    case 'setPerms': return opSetPerms(ctx, view, op.path, op.perms);
  }
}

/** Would `op` answer the same thing twice? (DIRECTORY_PART generations are not compared.) */
export function sameResult(op: NodeOp, a: NodeOpResult, b: NodeOpResult): boolean {
  switch (op.kind) {
    case 'read': return (a as Buffer).equals(b as Buffer);
    case 'directory': {
      const x = a as string[];
      const y = b as string[];
      return x.length === y.length && x.every((name, i) => name === y[i]);
    }
    case 'directoryPart': return (a as DirectoryPart).chunk.equals((b as DirectoryPart).chunk);
    case 'getPerms': return permsEqual(a as Perms, b as Perms);
    default: return true;
  }
}

function isLimited(ctx: OpContext): boolean {
  return !ctx.privileged;
}

/** cx's errno_from_parents(): what a failed request on a missing node may be told. */
function errnoForMissing(ctx: OpContext, view: View, path: string, need: number): 'ENOENT' | 'EACCES' {
  for (const ancestor of ancestorsOf(path)) {
    const node = view.get(ancestor);
    if (node) return (accessFor(ctx, node.perms) & need) !== 0 ? 'ENOENT' : 'EACCES';
  }
  return 'EACCES';
}

/** The node, if it exists and the caller holds every bit of `need` on it. */
function lookup(ctx: OpContext, view: View, path: string, need: number): ReadonlyNode {
  const node = view.get(path);
  if (!node) throw new XsError(errnoForMissing(ctx, view, path, need), '');
  if ((accessFor(ctx, node.perms) & need) !== need) throw new XsError('EACCES', '');
  return node;
}

function parentPermsOf(view: View, path: string): Perms | undefined {
  return path === '/' ? undefined : view.get(parentPath(path))?.perms;
}

function emitChange(ctx: OpContext, view: View, path: string, exact: boolean, ...perms: Perms[]): void {
  if (!ctx.emit) return;
  ctx.emit({ path, exact, perms: [...perms, parentPermsOf(view, path)] });
}

export function opRead(ctx: OpContext, view: View, path: string): Buffer {
  view.observe(path);
  return lookup(ctx, view, path, PERM_READ).value;
}

export function opDirectory(ctx: OpContext, view: View, path: string): string[] {
  view.observe(path);
  return [...lookup(ctx, view, path, PERM_READ).children];
}

export function opGetPerms(ctx: OpContext, view: View, path: string): Perms {
  view.observe(path);
  return lookup(ctx, view, path, PERM_READ).perms;
}

/** cx's do_directory_part(): the offset counts bytes and may fall inside a name. */
export function opDirectoryPart(ctx: OpContext, view: View, path: string, offset: number): DirectoryPart {
  view.observe(path);
  const node = lookup(ctx, view, path, PERM_READ);
  const generation = node.generation;
  const list = Buffer.from([...node.children].map((name) => `${name}\0`).join(''), 'latin1');
  if (offset >= list.length) return { generation, chunk: Buffer.from([0]), complete: true };
  const maxLength = XENSTORE_PAYLOAD_MAX - (String(generation).length + 1) - 1;
  let length = 0;
  while (offset + length < list.length) {
    const nul = list.indexOf(0, offset + length);
    const next = nul - (offset + length) + 1;
    if (length + next > maxLength) break;
    length += next;
  }
  const complete = offset + length === list.length;
  const part = list.subarray(offset, offset + length);
  return { generation, chunk: complete ? Buffer.concat([part, Buffer.from([0])]) : Buffer.from(part), complete };
}

export function opWrite(ctx: OpContext, view: View, path: string, value: Buffer): undefined {
  const node = view.get(path);
  if (!node) {
    createNodes(ctx, view, path, value);
    return undefined;
  }
  if ((accessFor(ctx, node.perms) & PERM_WRITE) === 0) throw new XsError('EACCES', '');
  if (isLimited(ctx)) checkEntrySize(ctx.quotas, entrySize(value.length, node.perms.length, node.childBytes), path);
  view.setValue(path, value);
  emitChange(ctx, view, path, false, node.perms);
  return undefined;
}

export function opMkdir(ctx: OpContext, view: View, path: string): undefined {
  const node = view.get(path);
  if (!node) {
    createNodes(ctx, view, path, EMPTY_VALUE);
    return undefined;
  }
  if ((accessFor(ctx, node.perms) & PERM_WRITE) === 0) throw new XsError('EACCES', '');
  return undefined;
}

/**
 * Creates `path` and its missing ancestors. Every check comes before the first change, so a
 * failed request leaves nothing behind.
 */
function createNodes(ctx: OpContext, view: View, path: string, value: Buffer): void {
  const missing = [path];
  let anchorPath = parentPath(path);
  let anchor = view.get(anchorPath);
  while (!anchor) {
    missing.push(anchorPath);
    anchorPath = parentPath(anchorPath);
    anchor = view.get(anchorPath);
  }
  if ((accessFor(ctx, anchor.perms) & PERM_WRITE) === 0) throw new XsError('EACCES', '');
  missing.reverse();
  const perms = inheritPerms(anchor.perms, ctx);
  if (isLimited(ctx)) {
    const q = ctx.quotas;
    checkNodeQuota(q, view.ownedBy(ctx.domid), missing.length, ctx.domid);
    checkEntrySize(q, entrySize(anchor.value.length, anchor.perms.length,
      anchor.childBytes + childBytesOf(baseName(missing[0]!))), anchorPath);
    missing.forEach((p, i) => {
      const last = i === missing.length - 1;
      const childBytes = last ? 0 : childBytesOf(baseName(missing[i + 1]!));
      checkEntrySize(q, entrySize(last ? value.length : 0, perms.length, childBytes), p);
    });
  }
  for (const p of missing) view.create(p, p === path ? value : EMPTY_VALUE, perms);
  emitChange(ctx, view, path, false, perms);
}

export function opRm(ctx: OpContext, view: View, path: string): undefined {
  const node = view.get(path);
  if (!node) {
    const code = errnoForMissing(ctx, view, path, PERM_WRITE);
    if (code === 'ENOENT' && view.get(parentPath(path))) return undefined;
    throw new XsError(code, '');
  }
  if ((accessFor(ctx, node.perms) & PERM_WRITE) === 0) throw new XsError('EACCES', '');
  if (path === '/') throw new XsError('EINVAL', 'the root cannot be removed');
  removeTree(ctx, view, path, false);
  return undefined;
}

/** Removes a subtree regardless of the permissions inside it (as cx does), firing its events. */
export function removeTree(ctx: OpContext, view: View, path: string, exact: boolean): void {
  const node = view.get(path);
  if (!node) return;
  for (const name of [...node.children]) removeTree(ctx, view, joinPath(path, name), true);
  emitChange(ctx, view, path, exact, node.perms);
  view.remove(path);
}

export function opSetPerms(ctx: OpContext, view: View, path: string, perms: Perms): undefined {
  if (isLimited(ctx)) checkPermsQuota(ctx.quotas, perms.length);
  const node = lookup(ctx, view, path, PERM_WRITE | PERM_OWNER);
  if (isLimited(ctx) && ownerOf(perms) !== ownerOf(node.perms)) {
    throw new XsError('EPERM', 'only a privileged caller may change the owner');
  }
  if (isLimited(ctx)) checkEntrySize(ctx.quotas, entrySize(node.value.length, perms.length, node.childBytes), path);
  const old = node.perms;
  view.setPerms(path, perms);
  // A watcher that just lost access still hears about it: the old list counts too.
  emitChange(ctx, view, path, false, old, perms);
  return undefined;
}
