// Transactions: snapshot reads, private writes, and an all-or-nothing commit.
//
// A transaction reads the tree as it was when it started (node-tree.ts explains the snapshot)
// plus its own writes, which live in an overlay of copied nodes; nobody else sees them.
//
// Commit, in order:
//   1. A doomed transaction (it exceeded the nodes-per-transaction quota) fails with ENOMEM,
//      like cx's `trans->fail`.
//   2. Conflict check: EAGAIN if any node that a read-type request (READ, DIRECTORY,
//      DIRECTORY_PART, GET_PERMS) looked at has changed generation since the transaction started
//      (a node that did not exist must still not exist): reads come from the snapshot taken at
//      the start. Nodes the transaction only wrote are not checked, so blind writes do not
//      conflict: the later commit wins.
//   3. Replay: the logged requests run again, in order, on a fresh overlay over today's tree.
//      If any answers differently than it did inside the transaction (a node it wrote lost its
//      write permission, a quota filled up meanwhile, ...) the commit fails: ENOSPC if the replay
//      hit a quota (cx checks node quotas at commit too), EAGAIN otherwise. This is what makes
//      blind writes safe: everything the transaction was told is still true at its commit.
//   4. The replay's overlay replaces the committed nodes; its watch events (exactly those the
//      requests would have fired outside a transaction, one per node) go out.
// So the committed history always equals running each transaction's requests serially at its
// commit point, which the property test checks.
//
// C xenstored 4.17 (tools/xenstore/xenstored_transaction.c) differs in what it compares: it
// records each node's generation at the transaction's first access to it, reading the live
// tree then, and its own internal reads count as accesses (a write reads its node first), so
// nodes a transaction only wrote are checked too. Its commit fires the watch events its
// requests queued (queue_watches), one per request as outside a transaction, as here.

import { XsError, type XsErrorCode } from './errors.js';
import {
  cloneNode, NO_GENERATION, type Node, type NodeTree, type ReadonlyNode, type TreeObserver, type View,
} from './node-tree.js';
import { runNodeOp, sameResult, type NodeOp, type NodeOpResult, type OpContext, type StoreEvent } from './ops.js';
import { baseName, parentPath } from './path.js';
import { ownerOf, type Perms } from './perms.js';
import { childBytesOf } from './quota.js';

/** A transaction's private view: overlay first, then its snapshot, then the live tree. */
export class TxView implements View, TreeObserver {
  /** Nodes this view changed (null: removed), in the order first changed. */
  readonly overlay = new Map<string, Node | null>();
  /** Generation of every path at its first access (NO_GENERATION: absent). */
  readonly base = new Map<string, number>();
  /** Paths read-type requests looked at; their generation is checked at commit. */
  readonly observed = new Set<string>();
  /** Nodes as they were at the start, for those changed (or removed) since. */
  private readonly snapshot = new Map<string, ReadonlyNode>();
  private readonly ownedDelta = new Map<number, number>();

  /**
   * `startGeneration`: nodes newer than this did not exist for the view (Infinity: the view
   * follows the live tree, as the commit replay does). `accessLimit` counts distinct paths
   * touched; `onLimit` is told before ENOSPC is thrown.
   */
  constructor(
    private readonly tree: NodeTree,
    private readonly startGeneration = Infinity,
    private readonly accessLimit = Infinity,
    private readonly onLimit?: () => void,
  ) {}

  beforeChange(path: string, current: ReadonlyNode | undefined, preimage: () => ReadonlyNode | null): void {
    // A node newer than the start was absent then, and the generation check in baseNode() says
    // so already; only the first change of a node that existed at the start needs a copy.
    if (!current || current.generation > this.startGeneration) return;
    if (this.snapshot.has(path) || this.overlay.has(path)) return;
    this.snapshot.set(path, preimage()!);
  }

  private baseNode(path: string): ReadonlyNode | undefined {
    const kept = this.snapshot.get(path);
    if (kept) return kept;
    const live = this.tree.get(path);
    return live && live.generation <= this.startGeneration ? live : undefined;
  }

  private access(path: string): void {
    if (this.base.has(path)) return;
    if (this.base.size >= this.accessLimit) {
      this.onLimit?.();
      throw new XsError('ENOSPC', `transaction touches more than ${this.accessLimit} nodes`);
    }
    this.base.set(path, this.baseNode(path)?.generation ?? NO_GENERATION);
  }

  get(path: string): ReadonlyNode | undefined {
    this.access(path);
    const own = this.overlay.get(path);
    if (own !== undefined) return own ?? undefined;
    return this.baseNode(path);
  }

  observe(path: string): void {
    this.access(path);
    this.observed.add(path);
  }

  private writable(path: string): Node {
    const own = this.overlay.get(path);
    if (own) return own;
    const current = this.get(path);
    if (!current) throw new XsError('EIO', `internal: modifying missing node ${path} in a transaction`);
    const copy = cloneNode(current);
    this.overlay.set(path, copy);
    return copy;
  }

  private count(domid: number, delta: number): void {
    this.ownedDelta.set(domid, (this.ownedDelta.get(domid) ?? 0) + delta);
  }

  create(path: string, value: Buffer, perms: Perms): void {
    const parent = this.writable(parentPath(path));
    const name = baseName(path);
    parent.children.add(name);
    parent.childBytes += childBytesOf(name);
    parent.generation = this.tree.nextGeneration();
    this.access(path);
    this.overlay.set(path, { value, perms, generation: this.tree.nextGeneration(), children: new Set(), childBytes: 0 });
    this.count(ownerOf(perms), +1);
  }

  setValue(path: string, value: Buffer): void {
    const node = this.writable(path);
    node.value = value;
    node.generation = this.tree.nextGeneration();
  }

  setPerms(path: string, perms: Perms): void {
    const node = this.writable(path);
    this.count(ownerOf(node.perms), -1);
    this.count(ownerOf(perms), +1);
    node.perms = perms;
    node.generation = this.tree.nextGeneration();
  }

  remove(path: string): void {
    const node = this.get(path);
    if (!node) return;
    const parent = this.writable(parentPath(path));
    const name = baseName(path);
    if (parent.children.delete(name)) parent.childBytes -= childBytesOf(name);
    parent.generation = this.tree.nextGeneration();
    this.count(ownerOf(node.perms), -1);
    this.overlay.set(path, null);
  }

  ownedBy(domid: number): number {
    return this.tree.ownedBy(domid) + (this.ownedDelta.get(domid) ?? 0);
  }

  /** Makes the overlay the committed state. Nothing may have changed since the overlay was built. */
  applyTo(tree: NodeTree): void {
    for (const [path, node] of this.overlay) {
      if (node) {
        node.generation = tree.nextGeneration();
        tree.put(path, node);
      } else if (tree.get(path)) {
        tree.put(path, null);
      }
    }
  }
}

interface Outcome {
  readonly code: XsErrorCode | undefined;
  readonly result: NodeOpResult;
  readonly error?: XsError;
}

interface LoggedOp {
  readonly op: NodeOp;
  readonly outcome: Outcome;
}

function outcomeOf(ctx: OpContext, view: View, op: NodeOp): Outcome {
  try {
    return { code: undefined, result: runNodeOp(ctx, view, op) };
  } catch (err) {
    if (err instanceof XsError) return { code: err.code, result: undefined, error: err };
    throw err;
  }
}

/** Merges events per node, as cx's queue_watches(): one event, "exact" only if every one was. */
function mergeEvents(events: readonly StoreEvent[]): StoreEvent[] {
  const byPath = new Map<string, StoreEvent>();
  for (const e of events) {
    const seen = byPath.get(e.path);
    byPath.set(e.path, seen
      ? { path: e.path, exact: seen.exact && e.exact, perms: [...seen.perms, ...e.perms] }
      : e);
  }
  return [...byPath.values()];
}

export class Transaction {
  private readonly view: TxView;
  private readonly log: LoggedOp[] = [];
  private doomed = false;

  constructor(private readonly tree: NodeTree, readonly id: number, accessLimit: number) {
    this.view = new TxView(tree, tree.generation, accessLimit, () => { this.doomed = true; });
    tree.addObserver(this.view);
  }

  /** Runs a request inside the transaction; its answer is remembered for the replay. */
  run(ctx: OpContext, op: NodeOp): NodeOpResult {
    const quiet: OpContext = { ...ctx, emit: undefined };
    const outcome = outcomeOf(quiet, this.view, op);
    this.log.push({ op, outcome });
    if (outcome.error) throw outcome.error;
    return outcome.result;
  }

  /** Stops following the tree; the transaction is over either way. */
  dispose(): void {
    this.tree.removeObserver(this.view);
  }

  /**
   * Commits (see the top of this file) and returns the watch events to fire. Throws EAGAIN,
   * ENOSPC or ENOMEM without changing anything. `ctx` is the owner's context as of now.
   */
  commit(ctx: OpContext): StoreEvent[] {
    this.dispose();
    if (this.doomed) throw new XsError('ENOMEM', 'the transaction exceeded the nodes-per-transaction quota');
    for (const path of this.view.observed) {
      const now = this.tree.get(path)?.generation ?? NO_GENERATION;
      if (now !== this.view.base.get(path)) {
        throw new XsError('EAGAIN', `${path} changed since it was read`);
      }
    }
    const events: StoreEvent[] = [];
    const replayCtx: OpContext = { ...ctx, emit: (e) => events.push(e) };
    const replay = new TxView(this.tree);
    for (const { op, outcome } of this.log) {
      const again = outcomeOf(replayCtx, replay, op);
      const same = again.code === outcome.code
        && (again.code !== undefined || sameResult(op, outcome.result, again.result));
      if (!same) {
        const code = again.code === 'ENOSPC' ? 'ENOSPC' : 'EAGAIN';
        throw new XsError(code, `${op.kind} ${op.path} would now answer `
          + `${again.code ?? 'OK'} instead of ${outcome.code ?? 'OK'}`);
      }
    }
    replay.applyTo(this.tree);
    return mergeEvents(events);
  }
}
