// The in-process xenstore: one committed tree, the watch table, the domain records, and the
// connections through which everything else talks to it. Pure logic: no sockets, no timers
// except the deferred delivery of watch events (connection.ts).
//
// The toolstack-level methods here (introduceDomain, releaseDomain, ...) are what a privileged
// connection's INTRODUCE/RELEASE/... do, minus the privilege check.
//
// Initial tree, as on a freshly booted Xen host: cx's setup_structure() makes `/`, `/tool` and
// `/tool/xenstored` (all `n0`); xencommons then writes dom0's `name` and `domid`, which creates
// `/local`, `/local/domain` and `/local/domain/0`, also `n0`.

import { XsConnection } from './connection.js';
import { checkDomid, DomainTable } from './domains.js';
import { XsError } from './errors.js';
import { DirectView, NodeTree } from './node-tree.js';
import { opWrite, removeTree, runNodeOp, type NodeOp, type NodeOpResult, type OpContext, type StoreEvent } from './ops.js';
import { domainPath, INTRODUCE_DOMAIN, RELEASE_DOMAIN } from './path.js';
import { formatPerms, ownerOf, withoutDomain, type Accessor, type Perms } from './perms.js';
import { resolveQuotas, type Quotas } from './quota.js';
import { WatchTable } from './watches.js';

export interface XenStoreOptions {
  quotas?: Partial<Quotas>;
  /**
   * Called when an `onWatchEvent` callback throws. By default the error is rethrown from a
   * microtask, i.e. it becomes an uncaught exception: a throwing callback is a bug.
   */
  onWatchCallbackError?: (err: unknown, conn: XsConnection) => void;
}

export interface ConnectOptions {
  /** Defaults to true for dom0 and false for every other domain. */
  privileged?: boolean;
}

export interface StoreEntry {
  readonly path: string;
  readonly value: Buffer;
  readonly perms: string[];
}

const SYSTEM: Accessor = { domid: 0, privileged: true };

export class XenStore {
  readonly quotas: Quotas;
  /** Internal to the xenstore module: the committed nodes. */
  readonly tree = new NodeTree();
  /** Internal to the xenstore module. */
  readonly domains = new DomainTable();
  /** Internal to the xenstore module. */
  readonly watches: WatchTable;
  private readonly direct: DirectView;
  private readonly connections = new Set<XsConnection>();
  private readonly openTransactions = new Map<number, number>();
  private readonly onWatchCallbackError: (err: unknown, conn: XsConnection) => void;

  constructor(options: XenStoreOptions = {}) {
    this.quotas = resolveQuotas(options.quotas);
    this.watches = new WatchTable((path) => this.domains.specialPerms(path));
    this.direct = new DirectView(this.tree);
    this.onWatchCallbackError = options.onWatchCallbackError ?? ((err) => queueMicrotask(() => { throw err; }));
    const boot = this.contextFor(SYSTEM, false);
    runNodeOp(boot, this.direct, { kind: 'mkdir', path: '/tool/xenstored' });
    opWrite(boot, this.direct, '/local/domain/0/name', Buffer.from('Domain-0'));
    opWrite(boot, this.direct, '/local/domain/0/domid', Buffer.from('0'));
  }

  /**
   * A connection for `domid`. Unprivileged domains must be introduced first: in Xen their
   * xenstore ring only exists from INTRODUCE on, and RELEASE closes it again.
   */
  connect(domid: number, options: ConnectOptions = {}): XsConnection {
    checkDomid(domid);
    const privileged = options.privileged ?? domid === 0;
    if (!privileged && !this.domains.isIntroduced(domid)) {
      throw new XsError('ENOENT', `connect: domain ${domid} is not introduced`);
    }
    const conn = new XsConnection(this, domid, privileged);
    this.connections.add(conn);
    return conn;
  }

  /** INTRODUCE: fires `@introduceDomain` unless the domain was known already (or is dom0). */
  introduceDomain(domid: number): void {
    if (this.domains.introduce(domid)) this.fire([{ path: INTRODUCE_DOMAIN, exact: false, perms: [] }]);
  }

  /**
   * RELEASE (domain death): closes the domain's connections (so it hears nothing of its own
   * end), deletes every node it owns with their subtrees (watchers hear about each removal, as
   * with cx), strips it from the other nodes' permission lists (XSA-322), then fires
   * `@releaseDomain`.
   */
  releaseDomain(domid: number): void {
    this.domains.checkReleasable(domid);
    for (const conn of [...this.connections]) {
      if (conn.domid === domid && !conn.privileged) conn.closeBecause(`domain ${domid} was released`);
    }
    const owned: string[] = [];
    const isOwned = (path: string, perms: Perms): boolean => path !== '/' && ownerOf(perms) === domid;
    for (const [path, node] of this.tree.walk((p, n) => isOwned(p, n.perms))) {
      if (isOwned(path, node.perms)) owned.push(path);
    }
    const ctx = this.contextFor(SYSTEM, true);
    for (const path of owned) removeTree(ctx, this.direct, path, false);
    const stripped: Array<[string, Perms]> = [];
    for (const [path, node] of this.tree.walk()) {
      const perms = withoutDomain(node.perms, domid);
      if (perms) stripped.push([path, perms]);
    }
    for (const [path, perms] of stripped) this.tree.modify(path, (node) => { node.perms = perms; });
    this.domains.release(domid);
    this.fire([{ path: RELEASE_DOMAIN, exact: false, perms: [] }]);
  }

  isDomainIntroduced(domid: number): boolean {
    checkDomid(domid);
    return this.domains.isIntroduced(domid);
  }

  /** RESUME: nothing to resume in an emulation, but the checks are cx's. */
  resumeDomain(domid: number): void {
    this.domains.checkReleasable(domid);
  }

  /** SET_TARGET: `domid` (a device-model domain) gets the rights of `target` from now on. */
  setTarget(domid: number, target: number): void {
    this.domains.setTarget(domid, target);
  }

  getDomainPath(domid: number): string {
    checkDomid(domid);
    return domainPath(domid);
  }

  /** Every committed node, parents before children, children in directory order. */
  entries(): StoreEntry[] {
    return [...this.tree.walk()].map(([path, node]) => ({ path, value: Buffer.from(node.value), perms: formatPerms(node.perms) }));
  }

  /** `xenstore-ls -f -p` style text, for debugging and test failure messages. */
  dump(): string {
    return this.entries()
      .map((e) => `${e.path} = ${JSON.stringify(e.value.toString('latin1'))}  (${e.perms.join(',')})`)
      .join('\n');
  }

  /** Resolves once no connection has watch events waiting (callbacks may queue more; they are waited for too). */
  async whenIdle(): Promise<void> {
    while ([...this.connections].some((c) => c.pendingEventCount > 0)) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  // ---- internal to the xenstore module (connection.ts) ----

  contextFor(who: Accessor, withEvents: boolean): OpContext {
    return {
      domid: who.domid,
      privileged: who.privileged,
      target: who.target,
      quotas: this.quotas,
      emit: withEvents ? (event: StoreEvent) => this.watches.fire(event) : undefined,
    };
  }

  runDirect(who: Accessor, op: NodeOp): NodeOpResult {
    return runNodeOp(this.contextFor(who, true), this.direct, op);
  }

  fire(events: readonly StoreEvent[]): void {
    for (const event of events) this.watches.fire(event);
  }

  openTransactionCount(domid: number): number {
    return this.openTransactions.get(domid) ?? 0;
  }

  transactionOpened(domid: number): void {
    this.openTransactions.set(domid, this.openTransactionCount(domid) + 1);
  }

  transactionClosed(domid: number): void {
    const n = this.openTransactionCount(domid) - 1;
    if (n <= 0) this.openTransactions.delete(domid);
    else this.openTransactions.set(domid, n);
  }

  forget(conn: XsConnection): void {
    this.connections.delete(conn);
  }

  reportWatchCallbackError(err: unknown, conn: XsConnection): void {
    this.onWatchCallbackError(err, conn);
  }
}
