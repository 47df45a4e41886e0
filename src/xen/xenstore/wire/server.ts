// The xenstore wire protocol on a unix stream socket, as xenstored serves it (`-xenstore
// socket=PATH`). The only file of the xenstore module that imports `net`.
//
// Every socket connection is its own privileged dom0 XsConnection, as in xenstored: its own
// watches and transactions, relative paths below /local/domain/0. A session decodes requests,
// answers each one in order, and interleaves watch events:
//
//   client ──bytes──► FrameDecoder ──request──► handleRequest(conn) ──reply──┐
//                                                   │                       │
//                                  events the request caused on this conn   │
//                                                   ▼                       ▼
//   client ◄──────────────── WATCH_EVENT ... WATCH_EVENT, then the reply ◄──┘
//
// Ordering is cx's: the events a request causes on its own connection leave before its reply
// (deliverPendingEvents right before writing it), except WATCH, whose reply precedes its initial
// event. Events caused by other connections leave from a later turn of the event loop.
//
// Protocol violations (a payload over 4096 bytes) drop the connection, as cx does; nothing a
// client sends can reach other connections or the process. A client that stops reading gets its
// socket paused (we stop reading its requests) and is dropped once its unread output passes
// OUTPUT_LIMIT, so a stuck watcher cannot eat the daemon's memory.

import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { Logger } from '../../../common/log.js';
import { listenUnix, removeStaleSocket } from '../../../common/unix-socket.js';
import type { XsConnection } from '../connection.js';
import type { XenStore } from '../store.js';
import { encodeMessage, FrameDecoder, msgTypeName, XsMsgType, type XsMessage } from './codec.js';
import { handleRequest } from './requests.js';

/** Unread output after which a client is considered stuck and dropped. */
export const OUTPUT_LIMIT = 16 * 1024 * 1024;

export interface WireTransport {
  /** Queues bytes; false when the peer is not keeping up (stop feeding requests). */
  write(bytes: Buffer): boolean;
  /** Bytes queued but not yet taken by the peer. */
  readonly queuedBytes: number;
  /** Drops the connection at once. */
  destroy(reason: string): void;
}

/** One client's conversation: decoding, replies in order, interleaved watch events. */
export class WireSession {
  private readonly decoder = new FrameDecoder();
  private closed = false;

  constructor(readonly conn: XsConnection, private readonly transport: WireTransport, private readonly log: Logger,
    private readonly outputLimit = OUTPUT_LIMIT) {
    conn.onWatchEvent = (path, token) => {
      this.send({
        type: XsMsgType.WATCH_EVENT, reqId: 0, txId: 0,
        payload: Buffer.from(`${path}\0${token}\0`, 'latin1'),
      });
    };
  }

  /** Feeds received bytes; returns false if the peer should stop sending for now. */
  receive(chunk: Buffer): boolean {
    if (this.closed) return false;
    for (const result of this.decoder.push(chunk)) {
      if (result.kind === 'error') {
        this.drop(`${result.error.message} (${result.error.code})`);
        return false;
      }
      this.answer(result.message);
      if (this.closed) return false;
    }
    return this.transport.queuedBytes < this.outputLimit / 2;
  }

  private answer(request: XsMessage): void {
    const reply = handleRequest(this.conn, request, (err) => {
      this.log.error(`${msgTypeName(request.type)} failed internally: ${(err as Error).stack ?? String(err)}`);
    });
    if (this.log.enabled('debug')) {
      this.log.debug(`${msgTypeName(request.type)} req ${request.reqId} tx ${request.txId} -> ${msgTypeName(reply.type)}`
        + (reply.type === XsMsgType.ERROR ? ` ${reply.payload.toString('latin1', 0, reply.payload.length - 1)}` : ''));
    }
    if (request.type === XsMsgType.WATCH && reply.type === XsMsgType.WATCH) {
      this.send(reply);
      this.conn.deliverPendingEvents();
    } else {
      this.conn.deliverPendingEvents();
      this.send(reply);
    }
  }

  private send(msg: XsMessage): void {
    if (this.closed) return;
    this.transport.write(encodeMessage(msg));
    if (this.transport.queuedBytes > this.outputLimit) this.drop(`client is not reading (${this.transport.queuedBytes} bytes unread)`);
  }

  private drop(reason: string): void {
    if (this.closed) return;
    this.log.warn(`dropping connection: ${reason}`);
    this.close();
    this.transport.destroy(reason);
  }

  /** The peer went away: watches and open transactions go with it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.onWatchEvent = null;
    this.conn.close();
  }
}

export interface XenstoreSocketOptions {
  path: string;
  /** Unread output after which a client is dropped (default OUTPUT_LIMIT). */
  outputLimit?: number;
}

export class XenstoreSocketServer {
  private readonly server: Server;
  private readonly sessions = new Map<Socket, WireSession>();
  private nextId = 1;
  private closing = false;
  private readonly log = new Logger('xenstored');

  private constructor(private readonly store: XenStore, readonly path: string, private readonly outputLimit: number) {
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Listens on `path` (mode 0600: a connection has dom0's rights). A stale socket file is replaced. */
  static async listen(store: XenStore, opts: XenstoreSocketOptions): Promise<XenstoreSocketServer> {
    const s = new XenstoreSocketServer(store, opts.path, opts.outputLimit ?? OUTPUT_LIMIT);
    await listenUnix(s.server, opts.path);
    chmodSync(opts.path, 0o600);
    return s;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Drops every client and stops listening. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const [socket, session] of this.sessions) {
      session.close();
      socket.destroy();
    }
    this.sessions.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    removeStaleSocket(this.path);
  }

  private accept(socket: Socket): void {
    const log = this.log.child(`conn ${this.nextId++}`);
    let conn: XsConnection;
    try {
      conn = this.store.connect(0, { privileged: true });
    } catch (err) {
      log.error(`cannot open a store connection: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    // Messages written in one turn of the event loop (events, then a reply; a burst of
    // pipelined replies) leave in one write.
    let corked = false;
    const session = new WireSession(conn, {
      write: (bytes) => {
        if (socket.destroyed) return false;
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(() => {
            corked = false;
            socket.uncork();
          });
        }
        return socket.write(bytes);
      },
      get queuedBytes() { return socket.writableLength; },
      destroy: () => socket.destroy(),
    }, log, this.outputLimit);
    this.sessions.set(socket, session);
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      if (!session.receive(chunk)) {
        socket.pause();
        if (!socket.destroyed) socket.once('drain', () => socket.resume());
      }
    });
    socket.on('error', (err) => log.debug(`socket error: ${err.message}`));
    socket.on('close', () => {
      this.sessions.delete(socket);
      session.close();
    });
  }
}
