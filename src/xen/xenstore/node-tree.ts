// The committed tree: nodes in a Map keyed by absolute path, each with its value, permission list,
// generation and ordered child names; per-owner node counts for the quota; a global generation
// counter (cx: every modification gives the node a fresh, never reused number, and a parent is
// modified whenever its child list changes).
//
// Open transactions read a snapshot without copying the tree: they register as observers, and
// before a node that existed at their start changes for the first time, they keep a copy of it.
// Nodes created later need no record: their generation is newer than the transaction, which
// therefore treats them as absent. A transaction so sees the tree as it was at its start, and
// the cost is one copy per pre-existing node that changes while transactions are open.
//
// Operations never touch the tree directly; they go through a `View` (below), so the same code
// serves the committed tree (`DirectView`) and a transaction's overlay (`TxView`, transaction.ts).

import { XsError } from './errors.js';
import { baseName, joinPath, parentPath } from './path.js';
import { DEFAULT_ROOT_PERMS, ownerOf, type Perms } from './perms.js';
import { childBytesOf } from './quota.js';

export interface Node {
  value: Buffer;
  perms: Perms;
  generation: number;
  /** Child names in creation order, which is the order DIRECTORY reports (as cx). */
  children: Set<string>;
  /** Bytes of the NUL-terminated child list, for the entry-size quota and DIRECTORY_PART. */
  childBytes: number;
}

export interface ReadonlyNode {
  readonly value: Buffer;
  readonly perms: Perms;
  readonly generation: number;
  readonly children: ReadonlySet<string>;
  readonly childBytes: number;
}

/** Generation recorded for "the node did not exist" (cx's NO_GENERATION). */
export const NO_GENERATION = -1;

export const EMPTY_VALUE: Buffer = Buffer.alloc(0);

export function cloneNode(node: ReadonlyNode): Node {
  // Values and permission lists are never mutated in place, so they can be shared.
  return {
    value: node.value,
    perms: node.perms,
    generation: node.generation,
    children: new Set(node.children),
    childBytes: node.childBytes,
  };
}

export interface TreeObserver {
  /**
   * `path` is about to change. `current` is the live node (do not keep it), `preimage()` a
   * private copy of it (null: it does not exist), made at most once per change.
   */
  beforeChange(path: string, current: ReadonlyNode | undefined, preimage: () => ReadonlyNode | null): void;
}

export class NodeTree {
  private readonly nodes = new Map<string, Node>();
  private readonly owned = new Map<number, number>();
  private readonly observers = new Set<TreeObserver>();
  private lastGeneration = 0;

  constructor(rootPerms: Perms = DEFAULT_ROOT_PERMS) {
    this.put('/', { value: EMPTY_VALUE, perms: rootPerms, generation: this.nextGeneration(), children: new Set(), childBytes: 0 });
  }

  get(path: string): ReadonlyNode | undefined {
    return this.nodes.get(path);
  }

  get size(): number {
    return this.nodes.size;
  }

  nextGeneration(): number {
    return ++this.lastGeneration;
  }

  /** Nodes whose permission list names `domid` as owner. */
  ownedBy(domid: number): number {
    return this.owned.get(domid) ?? 0;
  }

  addObserver(observer: TreeObserver): void {
    this.observers.add(observer);
  }

  removeObserver(observer: TreeObserver): void {
    this.observers.delete(observer);
  }

  private notify(path: string): void {
    if (this.observers.size === 0) return;
    const current = this.nodes.get(path);
    let preimage: ReadonlyNode | null | undefined;
    const capture = (): ReadonlyNode | null => {
      if (preimage === undefined) preimage = current ? cloneNode(current) : null;
      return preimage;
    };
    for (const observer of this.observers) observer.beforeChange(path, current, capture);
  }

  /** The generation of the latest change; anything newer happened after this moment. */
  get generation(): number {
    return this.lastGeneration;
  }

  private count(domid: number, delta: number): void {
    const n = (this.owned.get(domid) ?? 0) + delta;
    if (n === 0) this.owned.delete(domid);
    else this.owned.set(domid, n);
  }

  /**
   * Installs `node` at `path`, or removes what is there (null). Owner counts follow; keeping the
   * parent's child list consistent is the caller's business.
   */
  put(path: string, node: Node | null): void {
    this.notify(path);
    const old = this.nodes.get(path);
    if (old) this.count(ownerOf(old.perms), -1);
    if (node) {
      this.nodes.set(path, node);
      this.count(ownerOf(node.perms), +1);
    } else {
      this.nodes.delete(path);
    }
  }

  /** Changes an existing node in place and gives it a new generation. */
  modify(path: string, change: (node: Node) => void): void {
    const node = this.nodes.get(path);
    if (!node) throw new XsError('EIO', `internal: modifying missing node ${path}`);
    this.notify(path);
    const owner = ownerOf(node.perms);
    change(node);
    node.generation = this.nextGeneration();
    const newOwner = ownerOf(node.perms);
    if (newOwner !== owner) {
      this.count(owner, -1);
      this.count(newOwner, +1);
    }
  }

  /** Pre-order walk in child order; `skip(path, node)` returning true prunes that subtree. */
  *walk(skip?: (path: string, node: ReadonlyNode) => boolean, from = '/'): Generator<[string, ReadonlyNode]> {
    const start = this.nodes.get(from);
    if (!start) return;
    const stack: Array<[string, Node]> = [[from, start]];
    while (stack.length > 0) {
      const [path, node] = stack.pop()!;
      yield [path, node];
      if (skip?.(path, node)) continue;
      const names = [...node.children];
      for (let i = names.length - 1; i >= 0; i--) {
        const childPath = joinPath(path, names[i]!);
        const child = this.nodes.get(childPath);
        if (child) stack.push([childPath, child]);
      }
    }
  }
}

/**
 * What operations see of the store. `get` is every lookup an operation makes (permission checks
 * of ancestors included); `observe` marks the target of a read-type request, whose generation a
 * transaction checks at commit. Mutations assume the caller checked existence and permissions.
 */
export interface View {
  get(path: string): ReadonlyNode | undefined;
  observe(path: string): void;
  /** The parent must exist, `path` must not. */
  create(path: string, value: Buffer, perms: Perms): void;
  setValue(path: string, value: Buffer): void;
  setPerms(path: string, perms: Perms): void;
  /** Leaves only: subtrees are removed bottom-up by the caller, which fires their events. */
  remove(path: string): void;
  ownedBy(domid: number): number;
}

/** The committed tree itself, for requests outside transactions. */
export class DirectView implements View {
  constructor(private readonly tree: NodeTree) {}

  get(path: string): ReadonlyNode | undefined {
    return this.tree.get(path);
  }

  observe(): void {
    // Outside a transaction nothing is checked later.
  }

  create(path: string, value: Buffer, perms: Perms): void {
    const name = baseName(path);
    this.tree.modify(parentPath(path), (parent) => {
      parent.children.add(name);
      parent.childBytes += childBytesOf(name);
    });
    this.tree.put(path, { value, perms, generation: this.tree.nextGeneration(), children: new Set(), childBytes: 0 });
  }

  setValue(path: string, value: Buffer): void {
    this.tree.modify(path, (node) => { node.value = value; });
  }

  setPerms(path: string, perms: Perms): void {
    this.tree.modify(path, (node) => { node.perms = perms; });
  }

  remove(path: string): void {
    const name = baseName(path);
    this.tree.modify(parentPath(path), (parent) => {
      if (parent.children.delete(name)) parent.childBytes -= childBytesOf(name);
    });
    this.tree.put(path, null);
  }

  ownedBy(domid: number): number {
    return this.tree.ownedBy(domid);
  }
}
