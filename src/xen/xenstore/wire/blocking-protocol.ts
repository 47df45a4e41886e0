// The messages between a blocking xenstore client (main thread) and the worker that owns its
// sockets. Replies carry the request's sequence number, so a reply that comes after its caller
// gave up is recognised and dropped instead of answering the next request; after posting one
// the worker bumps a shared counter, which is what the main thread sleeps on.

import type { MessagePort } from 'node:worker_threads';

/** The methods of XsClient the main thread may call. */
export const BLOCKING_METHODS = [
  'read', 'write', 'mkdir', 'rm', 'directory', 'getPerms', 'setPerms', 'watch', 'unwatch',
  'transactionStart', 'transactionEnd', 'getDomainPath',
] as const;
export type BlockingMethod = (typeof BLOCKING_METHODS)[number];

export type BlockingRequest =
  | { seq: number; op: 'open'; conn: number }
  | { seq: number; op: 'close'; conn: number }
  | { seq: number; op: 'call'; conn: number; method: BlockingMethod; args: unknown[] };

export type BlockingReply =
  | { seq: number; ok: true; value: unknown }
  | { seq: number; ok: false; code: string; message: string };

export type BlockingEvent =
  | { conn: number; kind: 'watch'; path: string; token: string }
  | { conn: number; kind: 'disconnected'; reason: string }
  | { conn: number; kind: 'reconnected' };

export interface BlockingWorkerData {
  path: string;
  /** Int32 flag, bumped after each reply is posted: what the main thread sleeps on. */
  flag: SharedArrayBuffer;
  replyPort: MessagePort;
  eventPort: MessagePort;
  /** How long a request waits for the daemon to come back before failing with EIO. */
  reconnectWaitMs: number;
}
