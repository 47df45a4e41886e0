// Conveniences for xenstore users (the backend, the simulated guests). The per-node helpers
// (readString) are methods of every XsHandle; what needs more than one request is here.

import { isXsError, XsError } from './errors.js';
import type { XsHandle } from './handle.js';
import { joinPath } from './path.js';

/** How often withTransaction() tries before giving up; conflicts resolve in a retry or two. */
export const DEFAULT_TRANSACTION_RETRIES = 32;

/**
 * Runs `fn` in a transaction and commits it, starting over on EAGAIN as QEMU's xen-bus does.
 * Any error thrown by `fn` aborts the transaction and propagates. `fn` must be synchronous and
 * may run several times, so it should have no effects outside the store.
 */
export function withTransaction<T>(
  conn: XsHandle,
  fn: (tx: number) => T,
  maxAttempts = DEFAULT_TRANSACTION_RETRIES,
): T {
  let lastConflict: XsError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const tx = conn.transactionStart();
    let result: T;
    try {
      result = fn(tx);
      if (result instanceof Promise) throw new TypeError('withTransaction: the callback must be synchronous');
    } catch (err) {
      if (!conn.closed) {
        try {
          conn.transactionEnd(tx, false);
        } catch {
          // Already gone (the callback ended it, or reset the watches): nothing to abort.
        }
      }
      throw err;
    }
    try {
      conn.transactionEnd(tx, true);
      return result;
    } catch (err) {
      if (!isXsError(err, 'EAGAIN')) throw err;
      lastConflict = err;
    }
  }
  throw new XsError('EAGAIN', `transaction still conflicting after ${maxAttempts} attempts: ${lastConflict?.context ?? ''}`);
}

/** Writes several keys below `dir` (in `tx` if given); values are written as text. */
export function writeKeys(conn: XsHandle, dir: string, keys: Readonly<Record<string, string | number>>, tx?: number): void {
  conn.writeAll(Object.entries(keys).map(([key, value]) => [joinPath(dir, key), String(value)] as const), tx);
}

/** `keys` of `dir` in one pipelined round trip: each value, or undefined where the node does not exist. */
export function readKeys<K extends string>(conn: XsHandle, dir: string, keys: readonly K[], tx?: number): Record<K, string | undefined> {
  const values = conn.readStrings(keys.map((k) => joinPath(dir, k)), tx);
  return Object.fromEntries(keys.map((k, i) => [k, values[i]])) as Record<K, string | undefined>;
}

/** DIRECTORY, or [] if the node does not exist; other errors are thrown. */
export function directoryOrEmpty(conn: XsHandle, path: string, tx?: number): string[] {
  try {
    return conn.directory(path, tx);
  } catch (err) {
    if (isXsError(err, 'ENOENT')) return [];
    throw err;
  }
}

/** Does the node exist (and may we read it)? EACCES and other errors are thrown. */
export function exists(conn: XsHandle, path: string, tx?: number): boolean {
  try {
    conn.getPerms(path, tx);
    return true;
  } catch (err) {
    if (isXsError(err, 'ENOENT')) return false;
    throw err;
  }
}
