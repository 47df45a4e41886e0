// A synchronous xenstore client for an external xenstored (-xenstore connect=PATH).
//
// QEMU's xen-bus calls libxenstore synchronously from its main loop; vifd's device model does
// the same, so it stays one synchronous state machine whichever xenstore it talks to. The
// sockets live in a worker thread (one per daemon path, shared by its connections) running the
// asynchronous XsClient; a request is posted to it and the main thread sleeps in Atomics.wait
// until the reply is posted back, bounded by a timeout so a daemon that stops answering costs
// an EIO, not a hung server. Watch events come back asynchronously on a port and reach
// onWatchEvent from the event loop, as the embedded store delivers them.

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { Logger } from '../../../common/log.js';
import { SYNC_CALL_TIMEOUT, SyncCaller, SyncCallError } from '../../../common/sync-call.js';
import type { WatchCallback } from '../connection.js';
import { isXsErrorCode, XsError } from '../errors.js';
import type { XsHandle } from '../handle.js';
import type { BlockingEvent, BlockingMethod, BlockingOps, BlockingRequest, BlockingWorkerData } from './blocking-protocol.js';

export interface BlockingClientOptions {
  /** How long one request may block the caller (default 5 s). */
  timeoutMs?: number;
  /** How long a request waits for a dropped daemon to come back (default 1 s). */
  reconnectWaitMs?: number;
}

/** The worker of one daemon path and the connections multiplexed on it. */
class WorkerLink {
  private static readonly links = new Map<string, WorkerLink>();
  private readonly worker: Worker;
  private readonly caller: SyncCaller<BlockingOps>;
  private readonly replies: MessagePort;
  private readonly events: MessagePort;
  private nextConn = 1;
  readonly clients = new Map<number, XsBlockingClient>();

  static for(path: string, reconnectWaitMs: number): WorkerLink {
    let link = WorkerLink.links.get(path);
    if (!link) {
      link = new WorkerLink(path, reconnectWaitMs);
      WorkerLink.links.set(path, link);
    }
    return link;
  }

  private constructor(readonly path: string, reconnectWaitMs: number) {
    const replies = new MessageChannel();
    const events = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    const data: BlockingWorkerData = {
      path, flag, replyPort: replies.port2, eventPort: events.port2, reconnectWaitMs,
    };
    this.worker = new Worker(new URL('./blocking-worker.js', import.meta.url), {
      workerData: data, transferList: [replies.port2, events.port2],
    });
    this.worker.unref();
    this.replies = replies.port1;
    this.caller = new SyncCaller(this.worker, this.replies, flag, `xenstored at ${path}`);
    this.events = events.port1;
    this.events.on('message', (e: BlockingEvent) => this.clients.get(e.conn)?.deliver(e));
    this.events.unref();
  }

  allocateConn(): number {
    return this.nextConn++;
  }

  /** Posts one request and sleeps until its reply; replies to requests given up on are dropped. */
  call(body: BlockingRequest, timeoutMs: number, what: string): unknown {
    try {
      return this.caller.call(body.op, body, timeoutMs);
    } catch (err) {
      if (!(err instanceof SyncCallError)) throw err;
      if (err.code === SYNC_CALL_TIMEOUT) {
        throw new XsError('EIO', `${what} (xenstored at ${this.path} did not answer within ${timeoutMs} ms)`);
      }
      throw new XsError(err.code !== undefined && isXsErrorCode(err.code) ? err.code : 'EIO',
        `${what} (xenstored at ${this.path}: ${err.message})`);
    }
  }

  forget(conn: number): void {
    this.clients.delete(conn);
    if (this.clients.size > 0) return;
    WorkerLink.links.delete(this.path);
    this.replies.close();
    this.events.close();
    void this.worker.terminate();
  }
}

export class XsBlockingClient implements XsHandle {
  onWatchEvent: WatchCallback | null = null;
  private isClosed = false;
  private readonly timeoutMs: number;
  private readonly log: Logger;

  private constructor(private readonly link: WorkerLink, private readonly conn: number, timeoutMs: number) {
    this.timeoutMs = timeoutMs;
    this.log = new Logger(`xenstore ${link.path}`);
  }

  /** Connects (blocking); throws XsError EIO with the reason when the daemon is not there. */
  static connect(path: string, opts: BlockingClientOptions = {}): XsBlockingClient {
    const link = WorkerLink.for(path, opts.reconnectWaitMs ?? 1000);
    const conn = link.allocateConn();
    const client = new XsBlockingClient(link, conn, opts.timeoutMs ?? 5000);
    link.clients.set(conn, client);
    try {
      link.call({ op: 'open', conn }, client.timeoutMs, 'connect');
    } catch (err) {
      link.forget(conn);
      throw err;
    }
    return client;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** From the worker's event port: watch events and connection changes. */
  deliver(e: BlockingEvent): void {
    if (this.isClosed) return;
    if (e.kind === 'watch') this.onWatchEvent?.(e.path, e.token);
    else if (e.kind === 'disconnected') this.log.warn(`${e.reason}; reconnecting`);
    else this.log.info('reconnected; watches registered again');
  }

  private call(method: BlockingMethod, what: string, ...args: unknown[]): unknown {
    if (this.isClosed) throw new XsError('EIO', `${what}: connection closed`);
    return this.link.call({ op: 'call', conn: this.conn, method, args }, this.timeoutMs, what);
  }

  read(path: string, tx = 0): Buffer {
    const v = this.call('read', `read ${path}`, path, tx) as Uint8Array;
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }

  readString(path: string, tx = 0): string | undefined {
    try {
      return this.read(path, tx).toString('utf8');
    } catch (err) {
      if (err instanceof XsError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  write(path: string, value: Buffer | Uint8Array | string, tx = 0): void {
    this.call('write', `write ${path}`, path, value, tx);
  }

  readStrings(paths: readonly string[], tx = 0): Array<string | undefined> {
    return this.call('readStrings', `read ${paths.length} nodes`, [...paths], tx) as Array<string | undefined>;
  }

  writeAll(entries: ReadonlyArray<readonly [string, string]>, tx = 0): void {
    this.call('writeAll', `write ${entries.length} nodes`, entries.map(([p, v]) => [p, v]), tx);
  }

  mkdir(path: string, tx = 0): void {
    this.call('mkdir', `mkdir ${path}`, path, tx);
  }

  rm(path: string, tx = 0): void {
    this.call('rm', `rm ${path}`, path, tx);
  }

  directory(path: string, tx = 0): string[] {
    return this.call('directory', `directory ${path}`, path, tx) as string[];
  }

  getPerms(path: string, tx = 0): string[] {
    return this.call('getPerms', `get perms ${path}`, path, tx) as string[];
  }

  setPerms(path: string, perms: readonly string[], tx = 0): void {
    this.call('setPerms', `set perms ${path}`, path, [...perms], tx);
  }

  watch(path: string, token: string): void {
    this.call('watch', `watch ${path}`, path, token);
  }

  unwatch(path: string, token: string): void {
    this.call('unwatch', `unwatch ${path}`, path, token);
  }

  transactionStart(): number {
    return this.call('transactionStart', 'transaction start') as number;
  }

  transactionEnd(tx: number, commit: boolean): void {
    this.call('transactionEnd', `transaction ${commit ? 'commit' : 'abort'} ${tx}`, tx, commit);
  }

  getDomainPath(domid: number): string {
    return this.call('getDomainPath', `get domain path ${domid}`, domid) as string;
  }

  isDomainIntroduced(domid: number): boolean {
    return this.call('isDomainIntroduced', `is domain ${domid} introduced`, domid) as boolean;
  }

  close(): void {
    if (this.isClosed) return;
    try {
      this.link.call({ op: 'close', conn: this.conn }, this.timeoutMs, 'close');
    } catch {
      // The worker goes with the last connection anyway.
    }
    this.isClosed = true;
    this.link.forget(this.conn);
  }
}
