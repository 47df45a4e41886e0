// The worker behind the blocking xenstore client: it owns one XsClient (socket, reconnection,
// DIRECTORY_PART fallback) per blocking connection and answers the main thread's requests.
//
// What a dropped connection means for a request:
// * a transaction opened before it is gone with it: requests in it answer EAGAIN, so the
//   caller's transaction loop starts over on the new connection (as after any conflict);
// * a request outside a transaction waits (bounded) for the reconnection and is sent again.

import { parentPort, workerData } from 'node:worker_threads';
import { serveSyncCalls, type SyncHandlers, type SyncRequest } from '../../../common/sync-call.js';
import { errorCode } from '../../../common/errors.js';
import { XsError } from '../errors.js';
import { XsClient } from './client.js';
import type { BlockingEvent, BlockingOps, BlockingWorkerData } from './blocking-protocol.js';
import { BLOCKING_METHODS } from './blocking-protocol.js';

const data = workerData as BlockingWorkerData;

interface Conn {
  client: XsClient;
  /** Bumped on every disconnection; a transaction belongs to the epoch it started in. */
  epoch: number;
  txEpoch: Map<number, number>;
}

const conns = new Map<number, Conn>();

function post(event: BlockingEvent): void {
  data.eventPort.postMessage(event);
}

/** oxenstored listens with a backlog of 1: a connect that meets EAGAIN is tried again. */
async function connectPatiently(): Promise<XsClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await XsClient.connect(data.path);
    } catch (err) {
      if (errorCode(err) !== 'EAGAIN' || attempt >= 200) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function open(id: number): Promise<void> {
  const client = await connectPatiently();
  const conn: Conn = { client, epoch: 0, txEpoch: new Map() };
  client.on('watch', (path, token) => post({ conn: id, kind: 'watch', path, token }));
  client.on('disconnected', (reason) => {
    conn.epoch++;
    conn.txEpoch.clear();
    post({ conn: id, kind: 'disconnected', reason });
  });
  client.on('reconnected', () => post({ conn: id, kind: 'reconnected' }));
  conns.set(id, conn);
}

function reconnected(client: XsClient): Promise<boolean> {
  if (client.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('reconnected', done);
      resolve(false);
    }, data.reconnectWaitMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('reconnected', done);
  });
}

function txOf(method: string, args: unknown[]): number {
  if (method === 'transactionEnd') return args[0] as number;
  if (method === 'watch' || method === 'unwatch' || method === 'transactionStart' || method === 'getDomainPath' ||
    method === 'isDomainIntroduced') return 0;
  const tx = args[method === 'write' || method === 'setPerms' ? 2 : 1];
  return typeof tx === 'number' ? tx : 0;
}

async function call(conn: Conn, method: (typeof BLOCKING_METHODS)[number], args: unknown[]): Promise<unknown> {
  const tx = txOf(method, args);
  for (let attempt = 0; ; attempt++) {
    if (tx !== 0 && conn.txEpoch.get(tx) !== conn.epoch) {
      throw new XsError('EAGAIN', `transaction ${tx} was lost with the connection to xenstored`);
    }
    const epoch = conn.epoch;
    try {
      const fn = conn.client[method] as (...a: unknown[]) => Promise<unknown>;
      const value = await fn.apply(conn.client, args);
      if (method === 'transactionStart') conn.txEpoch.set(value as number, epoch);
      if (method === 'transactionEnd') conn.txEpoch.delete(tx);
      return value;
    } catch (err) {
      const lost = err instanceof XsError && err.code === 'EIO' && (epoch !== conn.epoch || !conn.client.connected);
      if (!lost || attempt > 0) throw err;
      if (tx !== 0) throw new XsError('EAGAIN', `transaction ${tx} was lost with the connection to xenstored`);
      if (!(await reconnected(conn.client))) throw err;
    }
  }
}

function connOf(id: number): Conn {
  const conn = conns.get(id);
  if (!conn) throw new XsError('EIO', 'connection closed');
  return conn;
}

const handlers: SyncHandlers<BlockingOps> = {
  open: (req) => open(req.conn),
  close: (req) => {
    const conn = connOf(req.conn);
    conns.delete(req.conn);
    conn.client.close();
  },
  call: (req) => {
    const conn = connOf(req.conn);
    if (!BLOCKING_METHODS.includes(req.method)) throw new XsError('EINVAL', `no such request ${String(req.method)}`);
    return call(conn, req.method, req.args);
  },
};

serveSyncCalls<BlockingOps>(parentPort! as { on(event: 'message', fn: (r: SyncRequest) => void): unknown }, data.replyPort,
  data.flag, handlers,
  // Only the daemon's own answers keep their code; a socket failure is EIO with its reason.
  (err) => {
    const xs = err instanceof XsError;
    return { code: xs ? err.code : 'EIO', message: xs ? err.context : err instanceof Error ? err.message : String(err) };
  });
