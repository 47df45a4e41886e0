// What the backends, the toolstack side and QMP need from a xenstore connection: the requests
// of a privileged dom0 client, synchronous as libxenstore's are for QEMU's xen-bus. Two things
// provide it: the embedded store's in-process XsConnection, and the blocking wire client that
// talks to an external xenstored (-xenstore connect=PATH).

import type { WatchCallback } from './connection.js';

export interface XsHandle {
  /** Called once per delivered watch event, always from the event loop (never re-entrantly). */
  onWatchEvent: WatchCallback | null;
  readonly closed: boolean;
  read(path: string, tx?: number): Buffer;
  /** The value as UTF-8, or undefined if the node does not exist. */
  readString(path: string, tx?: number): string | undefined;
  write(path: string, value: Buffer | Uint8Array | string, tx?: number): void;
  /**
   * Several reads at once, each value as UTF-8 or undefined where the node does not exist: one
   * round trip's wait for all of them over a socket (the requests are pipelined).
   */
  readStrings(paths: readonly string[], tx?: number): Array<string | undefined>;
  /** Several writes at once, pipelined as readStrings' reads are; the first failure is thrown. */
  writeAll(entries: ReadonlyArray<readonly [string, string]>, tx?: number): void;
  mkdir(path: string, tx?: number): void;
  rm(path: string, tx?: number): void;
  directory(path: string, tx?: number): string[];
  getPerms(path: string, tx?: number): string[];
  setPerms(path: string, perms: readonly string[], tx?: number): void;
  watch(path: string, token: string): void;
  unwatch(path: string, token: string): void;
  transactionStart(): number;
  /** Commit (EAGAIN on conflict; the transaction is gone either way) or abort. */
  transactionEnd(tx: number, commit: boolean): void;
  getDomainPath(domid: number): string;
  /** XS_IS_DOMAIN_INTRODUCED: whether xenstored knows the domain (a dead one it has released is not). */
  isDomainIntroduced(domid: number): boolean;
  close(): void;
}
