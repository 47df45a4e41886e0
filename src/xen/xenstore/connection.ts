// A connection to the in-process xenstore: one method per xenstore message type, with the same
// semantics and error codes (XsError.code is the ERROR payload the wire server sends), so the
// wire server is a codec on top of this class. `tx` is the header's tx_id: 0 or omitted means
// none, an unknown one is ENOENT.
//
//   DIRECTORY      directory()         WRITE          write()          WATCH            watch()
//   READ           read()              MKDIR          mkdir()          UNWATCH          unwatch()
//   GET_PERMS      getPerms()          RM             rm()             RESET_WATCHES    resetWatches()
//   SET_PERMS      setPerms()          DIRECTORY_PART directoryPart()  TRANSACTION_START/END
//   GET_DOMAIN_PATH getDomainPath()    INTRODUCE / RELEASE / IS_DOMAIN_INTRODUCED / RESUME /
//   SET_TARGET: introduce() / release() / isDomainIntroduced() / resume() / setTarget(),
//   privileged only (EACCES otherwise).
// Left to the wire server: payload parsing and the 4096-byte payload limit (a DIRECTORY reply
// that does not fit is E2BIG there), CONTROL, GET/SET_FEATURE and GET/SET_QUOTA (ENOSYS).
//
// Watch event delivery is asynchronous and ordered. Events are queued per connection when the
// change happens (recipients and permissions are decided then) and handed to `onWatchEvent`
// from a later macrotask (setImmediate), never inside the call that caused them; this includes
// the initial event of watch(). So a callback may freely use the store, as QEMU defers watch
// handling to its main loop. Events of a transaction are queued when it commits, never before.
// With no callback set at delivery time the event is dropped. A wire server that wants cx's
// ordering (events before the reply that caused them) calls deliverPendingEvents() itself.

import { withXsContext, XsError } from './errors.js';
import type { DirectoryPart, NodeOp, NodeOpResult } from './ops.js';
import { isSpecialPath, printable, resolveNodePath, resolveWatchPath, domainPath } from './path.js';
import { formatPerms, parsePerms, type Perms } from './perms.js';
import { checkPermsQuota, checkTransactionQuota, checkWatchQuota } from './quota.js';
import type { XenStore } from './store.js';
import { Transaction } from './transaction.js';
import type { WatchSubscriber } from './watches.js';
import type { XsHandle } from './handle.js';

export type WatchCallback = (path: string, token: string) => void;

const TX_ID_MAX = 0xffffffff;

function checkNoNul(text: string, what: string): void {
  if (text.includes('\0')) throw new XsError('EINVAL', `${what} contains a NUL byte`);
}

export class XsConnection implements WatchSubscriber, XsHandle {
  /** Set by the owner; called once per delivered event. */
  onWatchEvent: WatchCallback | null = null;
  private readonly transactions = new Map<number, Transaction>();
  private nextTransactionId = 1;
  private pending: Array<[string, string]> = [];
  private deliveryScheduled = false;
  private delivering = false;
  private closedBecause: string | undefined;

  /** Use XenStore.connect(). */
  constructor(private readonly store: XenStore, readonly domid: number, readonly privileged: boolean) {}

  /** The domain this one acts for (SET_TARGET), if any. */
  get target(): number | undefined {
    return this.store.domains.targetOf(this.domid);
  }

  get closed(): boolean {
    return this.closedBecause !== undefined;
  }

  get pendingEventCount(): number {
    return this.pending.length;
  }

  get openTransactionCount(): number {
    return this.transactions.size;
  }

  /** Is `tx` one of this connection's open transactions? (The wire server checks it first, as cx.) */
  hasTransaction(tx: number): boolean {
    return this.transactions.has(tx);
  }

  private describe(what: string, tx?: number): string {
    return `dom${this.domid}${tx ? ` tx ${tx}` : ''} ${what}`;
  }

  private ensureOpen(): void {
    if (this.closedBecause !== undefined) throw new XsError('EIO', `connection closed (${this.closedBecause})`);
  }

  private transaction(tx: number): Transaction {
    const t = this.transactions.get(tx);
    if (!t) throw new XsError('ENOENT', `no transaction ${tx}`);
    return t;
  }

  /**
   * Runs one node request. Like cx, an unknown transaction is reported before anything about
   * the path or the arguments (`make` parses those).
   */
  private request(what: string, path: string, tx: number | undefined, make: (absolute: string) => NodeOp): NodeOpResult {
    return withXsContext(() => this.describe(`${what} ${printable(path)}`, tx), () => {
      this.ensureOpen();
      const t = tx ? this.transaction(tx) : undefined;
      checkNoNul(path, 'path');
      const op = make(resolveNodePath(path, this.domid, this.store.quotas.pathMax));
      if (!t) return this.store.runDirect(this, op);
      return t.run(this.store.contextFor(this, false), op);
    });
  }

  // ---- node requests ----

  read(path: string, tx?: number): Buffer {
    return Buffer.from(this.request('read', path, tx, (p) => ({ kind: 'read', path: p })) as Buffer);
  }

  /** The value as UTF-8, or undefined if the node does not exist (any other error is thrown). */
  readString(path: string, tx?: number): string | undefined {
    try {
      return this.read(path, tx).toString('utf8');
    } catch (err) {
      if (err instanceof XsError && err.code === 'ENOENT' && !this.closed) return undefined;
      throw err;
    }
  }

  readStrings(paths: readonly string[], tx?: number): Array<string | undefined> {
    return paths.map((p) => this.readString(p, tx));
  }

  writeAll(entries: ReadonlyArray<readonly [string, string]>, tx?: number): void {
    for (const [path, value] of entries) this.write(path, value, tx);
  }

  /** The value as a decimal integer, undefined if the node does not exist; EINVAL if it is not one. */
  readInt(path: string, tx?: number): number | undefined {
    const text = this.readString(path, tx);
    if (text === undefined) return undefined;
    const trimmed = text.trim();
    const value = Number(trimmed);
    if (!/^-?[0-9]+$/.test(trimmed) || !Number.isSafeInteger(value)) {
      throw new XsError('EINVAL', `${this.describe(`read ${printable(path)}`, tx)}: '${printable(text)}' is not an integer`);
    }
    return value;
  }

  write(path: string, value: Buffer | Uint8Array | string, tx?: number): void {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    this.request('write', path, tx, (p) => ({ kind: 'write', path: p, value: bytes }));
  }

  mkdir(path: string, tx?: number): void {
    this.request('mkdir', path, tx, (p) => ({ kind: 'mkdir', path: p }));
  }

  rm(path: string, tx?: number): void {
    this.request('rm', path, tx, (p) => ({ kind: 'rm', path: p }));
  }

  directory(path: string, tx?: number): string[] {
    return this.request('directory', path, tx, (p) => ({ kind: 'directory', path: p })) as string[];
  }

  /** DIRECTORY_PART; `offset` is a byte offset into the NUL-separated child list. */
  directoryPart(path: string, offset: number, tx?: number): DirectoryPart {
    return this.request('directory part', path, tx, (p) => {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new XsError('EINVAL', `invalid offset ${offset}`);
      return { kind: 'directoryPart', path: p, offset };
    }) as DirectoryPart;
  }

  getPerms(path: string, tx?: number): string[] {
    return formatPerms(this.request('get perms', path, tx, (p) => ({ kind: 'getPerms', path: p })) as Perms);
  }

  /**
   * SET_PERMS, e.g. setPerms(p, ['n1', 'r0']). On `@introduceDomain`/`@releaseDomain` it sets
   * the special list at once, whatever `tx` says (as cx).
   */
  setPerms(path: string, perms: readonly string[], tx?: number): void {
    const parse = (): Perms => {
      perms.forEach((p) => checkNoNul(p, 'permission'));
      return parsePerms(perms);
    };
    if (!isSpecialPath(path)) {
      this.request('set perms', path, tx, (p) => ({ kind: 'setPerms', path: p, perms: parse() }));
      return;
    }
    const label = `set perms ${printable(path)}`;
    withXsContext(() => this.describe(label, tx), () => {
      this.ensureOpen();
      if (tx) this.transaction(tx);
      const parsed = parse();
      if (!this.privileged) checkPermsQuota(this.store.quotas, parsed.length);
      this.store.domains.setSpecialPerms(this, path, parsed);
    });
  }

  // ---- watches ----

  /** WATCH; the initial event (path as given) is queued like any other. */
  watch(path: string, token: string): void {
    const label = `watch ${printable(path)}`;
    withXsContext(() => this.describe(label), () => {
      this.ensureOpen();
      checkNoNul(path, 'path');
      checkNoNul(token, 'token');
      const where = resolveWatchPath(path, this.domid, this.store.quotas.pathMax);
      if (!this.privileged) checkWatchQuota(this.store.quotas, this.store.watches.countForDomain(this.domid), this.domid);
      this.store.watches.add(this, where, token);
    });
  }

  unwatch(path: string, token: string): void {
    const label = `unwatch ${printable(path)}`;
    withXsContext(() => this.describe(label), () => {
      this.ensureOpen();
      // cx 4.17 canonicalizes without validating: an invalid path is simply not found.
      const absolute = path.startsWith('/') || path.startsWith('@') ? path : `${domainPath(this.domid)}/${path}`;
      this.store.watches.remove(this, absolute, token);
    });
  }

  /** RESET_WATCHES: drops every watch and, as cx 4.17 does, every open transaction. */
  resetWatches(): void {
    withXsContext(() => this.describe('reset watches'), () => {
      this.ensureOpen();
      this.store.watches.removeAll(this);
      this.dropTransactions();
    });
  }

  // ---- transactions ----

  /** TRANSACTION_START; `tx` is the header's tx_id, which must be 0 (EBUSY inside a transaction). */
  transactionStart(tx = 0): number {
    return withXsContext(() => this.describe('transaction start', tx), () => {
      this.ensureOpen();
      if (tx !== 0) {
        this.transaction(tx);
        throw new XsError('EBUSY', 'transactions do not nest');
      }
      const quotas = this.store.quotas;
      if (!this.privileged) {
        checkTransactionQuota(quotas, this.store.openTransactionCount(this.domid), this.domid);
      }
      const id = this.allocateTransactionId();
      const limit = this.privileged ? Infinity : quotas.nodesPerTransaction;
      this.transactions.set(id, new Transaction(this.store.tree, id, limit));
      this.store.transactionOpened(this.domid);
      return id;
    });
  }

  private allocateTransactionId(): number {
    for (;;) {
      const id = this.nextTransactionId;
      this.nextTransactionId = id >= TX_ID_MAX ? 1 : id + 1;
      if (!this.transactions.has(id)) return id;
    }
  }

  /** TRANSACTION_END: commit (EAGAIN on conflict, the transaction is gone either way) or abort. */
  transactionEnd(tx: number, commit: boolean): void {
    withXsContext(() => this.describe(commit ? 'transaction commit' : 'transaction abort', tx), () => {
      this.ensureOpen();
      const t = this.transaction(tx);
      this.forgetTransaction(t);
      if (commit) this.store.fire(t.commit(this.store.contextFor(this, false)));
    });
  }

  private forgetTransaction(t: Transaction): void {
    t.dispose();
    this.transactions.delete(t.id);
    this.store.transactionClosed(this.domid);
  }

  private dropTransactions(): void {
    for (const t of [...this.transactions.values()]) this.forgetTransaction(t);
  }

  // ---- domains ----

  getDomainPath(domid: number): string {
    return withXsContext(() => this.describe('get domain path'), () => {
      this.ensureOpen();
      return this.store.getDomainPath(domid);
    });
  }

  private privilegedOnly<T>(what: string, fn: () => T): T {
    return withXsContext(() => this.describe(what), () => {
      this.ensureOpen();
      if (!this.privileged) throw new XsError('EACCES', 'privileged request');
      return fn();
    });
  }

  introduce(domid: number): void {
    this.privilegedOnly('introduce', () => this.store.introduceDomain(domid));
  }

  release(domid: number): void {
    this.privilegedOnly('release', () => this.store.releaseDomain(domid));
  }

  isDomainIntroduced(domid: number): boolean {
    return this.privilegedOnly('is domain introduced', () => this.store.isDomainIntroduced(domid));
  }

  resume(domid: number): void {
    this.privilegedOnly('resume', () => this.store.resumeDomain(domid));
  }

  setTarget(domid: number, target: number): void {
    this.privilegedOnly('set target', () => this.store.setTarget(domid, target));
  }

  // ---- watch event delivery ----

  enqueueWatchEvent(path: string, token: string): void {
    if (this.closed) return;
    this.pending.push([path, token]);
    if (!this.deliveryScheduled) {
      this.deliveryScheduled = true;
      setImmediate(() => {
        this.deliveryScheduled = false;
        this.deliverPendingEvents();
      });
    }
  }

  /**
   * Delivers the events queued so far, in order. Events that callbacks cause meanwhile wait for
   * the next round, so a callback that keeps changing what it watches cannot starve the event
   * loop. Re-entrant calls (from a callback) do nothing.
   */
  deliverPendingEvents(): void {
    if (this.delivering) return;
    this.delivering = true;
    const batch = this.pending;
    this.pending = [];
    try {
      for (let i = 0; i < batch.length && !this.closed; i++) {
        const [path, token] = batch[i]!;
        const callback = this.onWatchEvent;
        if (!callback) continue;
        try {
          callback(path, token);
        } catch (err) {
          this.store.reportWatchCallbackError(err, this);
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  // ---- lifetime ----

  /** Drops watches, open transactions and undelivered events. Idempotent. */
  close(): void {
    this.closeBecause('closed by its owner');
  }

  /** Internal to the xenstore module (domain release). */
  closeBecause(reason: string): void {
    if (this.closed) return;
    this.closedBecause = reason;
    this.store.watches.removeAll(this);
    this.dropTransactions();
    this.pending = [];
    this.store.forget(this);
  }
}
