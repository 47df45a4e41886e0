// The messages between a blocking xenstore client (main thread) and the worker that owns its
// sockets: requests go as synchronous calls (common/sync-call.ts: sequence numbers, a shared
// counter the main thread sleeps on), watch events and connection changes come back on a port.

import type { MessagePort } from 'node:worker_threads';

/** The methods of XsClient the main thread may call. */
export const BLOCKING_METHODS = [
  'read', 'write', 'mkdir', 'rm', 'directory', 'getPerms', 'setPerms', 'watch', 'unwatch',
  'transactionStart', 'transactionEnd', 'getDomainPath', 'isDomainIntroduced', 'readStrings', 'writeAll',
] as const;
export type BlockingMethod = (typeof BLOCKING_METHODS)[number];

/** A request's op and args, sent and answered as synchronous calls (common/sync-call.ts). */
export type BlockingRequest =
  | { op: 'open'; conn: number }
  | { op: 'close'; conn: number }
  | { op: 'call'; conn: number; method: BlockingMethod; args: unknown[] };

/** The worker's operations: what each request carries and answers (a call answers what XsClient's method does). */
export type BlockingOps = {
  open: { args: Extract<BlockingRequest, { op: 'open' }>; result: void };
  close: { args: Extract<BlockingRequest, { op: 'close' }>; result: void };
  call: { args: Extract<BlockingRequest, { op: 'call' }>; result: unknown };
};

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
