// QEMU's -netdev stream (net/stream.c): frames over a stream socket, each preceded by its
// 4-byte big-endian length. As a server it listens and serves one peer at a time (further
// connections are refused while one is up); as a client it connects, and with reconnect-ms
// tries again after the peer goes. Connection changes are reported for QMP's
// NETDEV_STREAM_CONNECTED / NETDEV_STREAM_DISCONNECTED.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { Logger } from '../../common/log.js';
import type { FrameReceiver, NetClient } from './net-client.js';
import { addressText, inetPort, type NetSocketAddress, unixPath } from './socket-address.js';
import { encodeStreamFrame, StreamFrameDecoder } from './stream-framing.js';

export interface StreamOptions {
  addr: NetSocketAddress;
  server: boolean;
  /** Client only: wait this long and connect again after a failure or a disconnect; 0 never. */
  reconnectMs?: number;
}

export interface StreamEvents {
  connected(id: string, peer: NetSocketAddress): void;
  disconnected(id: string): void;
}

/** Most frames in flight towards a slow peer before new ones are dropped (QEMU's queue is bounded too). */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export class StreamNetClient implements NetClient {
  readonly type = 'stream';
  private receiver: FrameReceiver | null = null;
  private server: Server | null = null;
  private socket: Socket | null = null;
  private readonly decoder = new StreamFrameDecoder();
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  /** Failed connection attempts in a row: only the first is worth a warning. */
  private failures = 0;
  private info: string;
  private readonly log: Logger;
  txDropped = 0;

  private constructor(readonly id: string, private readonly opts: StreamOptions, private readonly events: StreamEvents) {
    this.log = new Logger(`stream ${id}`);
    this.info = opts.server ? 'listening' : `connect to ${addressText(opts.addr)}`;
  }

  /** A server is listening when this resolves; a client has started connecting. */
  static async open(id: string, opts: StreamOptions, events: StreamEvents): Promise<StreamNetClient> {
    const c = new StreamNetClient(id, opts, events);
    if (opts.server) await c.listen();
    else c.connectNow();
    return c;
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  setReceiver(fn: FrameReceiver | null): void {
    this.receiver = fn;
  }

  send(frame: Uint8Array): boolean {
    const s = this.socket;
    if (this.closed || !s || s.writableLength > MAX_PENDING_BYTES) {
      this.txDropped++;
      return false;
    }
    s.write(encodeStreamFrame(frame));
    return true;
  }

  describe(): string {
    return this.info;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.socket?.destroy();
    this.socket = null;
    if (this.server) {
      this.server.close();
      if (this.opts.addr.type === 'unix' && !this.opts.addr.abstract) removeSocketFile(this.opts.addr.path);
    }
  }

  private async listen(): Promise<void> {
    const a = this.opts.addr;
    if (a.type === 'unix' && !a.abstract) removeSocketFile(a.path);
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (a.type === 'unix') server.listen(unixPath(a), () => resolve());
      else server.listen(inetPort(a), a.host, () => resolve());
    }).catch((err: Error) => {
      server.close();
      throw new Error(`can't listen on ${addressText(a)}: ${err.message}`);
    });
    server.on('error', (err) => this.log.warn(`listener error: ${err.message}`));
    this.server = server;
  }

  private accept(socket: Socket): void {
    if (this.closed || this.socket) {
      // One peer at a time, as QEMU stops accepting while it is connected.
      socket.destroy();
      return;
    }
    const peer: NetSocketAddress = this.opts.addr.type === 'unix'
      ? { type: 'unix', path: '' }
      : { type: 'inet', host: socket.remoteAddress ?? '', port: String(socket.remotePort ?? 0) };
    this.info = this.opts.addr.type === 'unix' ? `connect from ${this.opts.addr.path}` : `connection from ${addressText(peer)}`;
    this.attach(socket, peer);
  }

  private connectNow(): void {
    this.retry = null;
    if (this.closed) return;
    const a = this.opts.addr;
    const socket = a.type === 'unix' ? connect(unixPath(a)) : connect(inetPort(a), a.host);
    socket.once('connect', () => {
      this.info = `connect to ${addressText(a)}`;
      this.attach(socket, a);
    });
    socket.once('error', (err) => {
      if (this.socket === socket) return; // reported by 'close'
      const line = `connecting to ${addressText(a)} failed: ${err.message}`;
      if (this.failures++ === 0) this.log.warn(line);
      else this.log.debug(line);
      socket.destroy();
      this.scheduleReconnect();
    });
  }

  private attach(socket: Socket, peer: NetSocketAddress): void {
    this.socket = socket;
    this.failures = 0;
    this.decoder.reset();
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      const r = this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      for (const f of r.frames) this.receiver?.(f);
      if (r.error !== null) {
        this.log.warn(`peer sent a bad frame (${r.error}); closing the connection`);
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.log.debug(`connection error: ${err.message}`));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.opts.server) this.info = 'listening';
      this.log.info('disconnected');
      if (!this.closed) this.events.disconnected(this.id);
      if (!this.opts.server) this.scheduleReconnect();
    });
    this.log.info(`connected (${this.info})`);
    this.events.connected(this.id, peer);
  }

  private scheduleReconnect(): void {
    const ms = this.opts.reconnectMs ?? 0;
    if (this.closed || ms <= 0 || this.retry) return;
    this.retry = setTimeout(() => this.connectNow(), ms);
    this.retry.unref();
  }
}

function removeSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // nothing there
  }
}
