// Per-domain quotas (xenstored's -E/-S/-W/-A/-Q options, docs/man/xenstored.8). They bind unprivileged connections only, as in cx;
// dom0 and other privileged callers are never limited (path length aside, which binds everyone).
//
// Which errno each overrun reports, and why (cx 4.17 source, tools/xenstore/xenstored_*.c):
//   nodes owned by a domain   ENOSPC   create_node(): "domain_nbentry(conn) >= quota" (also at commit)
//   entry size                ENOSPC   write_node_raw(): record size >= quota. The reference sheet
//                                      says E2BIG; that is qemu's choice, cx's source says ENOSPC.
//   watches                   E2BIG    do_watch(): "domain_watch(conn) > quota" returns E2BIG in every
//                                      cx version (the sheet's ENOSPC is wrong); qemu agrees.
//   open transactions         ENOSPC   do_transaction_start()
//   permissions per node      ENOSPC   do_set_perms()
//   nodes per transaction     ENOSPC   access_node(); the transaction is doomed: its commit fails
//                                      with ENOMEM, as cx's `trans->fail` does.
//   path length               EINVAL   is_valid_nodename()
// Each limit is "at most N": the (N+1)th fails. cx's own comparisons let one extra watch and one
// extra transaction through (`>` instead of `>=`); we do not copy that off-by-one.

import { XsError } from './errors.js';

export interface Quotas {
  /** Nodes a domain may own (`-E`). */
  readonly nodesPerDomain: number;
  /** Size of one node record as cx stores it (`-S`), see `entrySize`. */
  readonly entrySize: number;
  /** Watches per domain, across its connections (`-W`). */
  readonly watchesPerDomain: number;
  /** Open transactions per domain (`-t`). */
  readonly transactionsPerDomain: number;
  /** Entries in one permission list (`-A`). */
  readonly permsPerNode: number;
  /** Distinct nodes one transaction may touch (`-Q transaction-nodes=`). */
  readonly nodesPerTransaction: number;
  /** Characters below `/local/domain/<id>/` (or of the whole path), for everybody (`-M`). */
  readonly pathMax: number;
}

export const DEFAULT_QUOTAS: Quotas = Object.freeze({
  nodesPerDomain: 1000,
  entrySize: 2048,
  watchesPerDomain: 128,
  transactionsPerDomain: 10,
  permsPerNode: 5,
  nodesPerTransaction: 1024,
  pathMax: 2048,
});

export function resolveQuotas(overrides: Partial<Quotas> | undefined): Quotas {
  const q = { ...DEFAULT_QUOTAS, ...overrides };
  for (const [name, value] of Object.entries(q)) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`xenstore quota ${name} must be a non-negative integer, got ${value}`);
  }
  return Object.freeze(q);
}

/**
 * The size cx charges a node with: its tdb record, i.e. a 24-byte header (u64 generation and
 * three u32 counts, padded), 8 bytes per permission entry, the value, and the NUL-terminated
 * names of its children. So a 1-entry leaf can hold a value of at most 2015 bytes under the
 * default quota, and a directory's children count against it too.
 */
export function entrySize(valueLength: number, permCount: number, childBytes: number): number {
  return 24 + 8 * permCount + valueLength + childBytes;
}

/** Bytes the name adds to its parent's child list. */
export function childBytesOf(name: string): number {
  return Buffer.byteLength(name) + 1;
}

export function checkEntrySize(quotas: Quotas, size: number, path: string): void {
  if (size >= quotas.entrySize) {
    throw new XsError('ENOSPC', `node ${path} would be ${size} bytes, quota is below ${quotas.entrySize}`);
  }
}

export function checkNodeQuota(quotas: Quotas, owned: number, adding: number, domid: number): void {
  if (owned + adding > quotas.nodesPerDomain) {
    throw new XsError('ENOSPC', `domain ${domid} owns ${owned} nodes, quota is ${quotas.nodesPerDomain}`);
  }
}

export function checkPermsQuota(quotas: Quotas, count: number): void {
  if (count > quotas.permsPerNode) {
    throw new XsError('ENOSPC', `${count} permission entries, quota is ${quotas.permsPerNode}`);
  }
}

export function checkWatchQuota(quotas: Quotas, count: number, domid: number): void {
  if (count >= quotas.watchesPerDomain) {
    throw new XsError('E2BIG', `domain ${domid} has ${count} watches, quota is ${quotas.watchesPerDomain}`);
  }
}

export function checkTransactionQuota(quotas: Quotas, count: number, domid: number): void {
  if (count >= quotas.transactionsPerDomain) {
    throw new XsError('ENOSPC', `domain ${domid} has ${count} open transactions, quota is ${quotas.transactionsPerDomain}`);
  }
}
