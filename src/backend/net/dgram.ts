// QEMU's -netdev dgram (net/dgram.c): every frame is one datagram, no header, sent to `remote`
// and received on `local`. inet uses Node's UDP sockets; unix datagram sockets, which Node
// lacks, come from the addon and are drained like a tap.

import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { Logger } from '../../common/log.js';
import { EAGAIN, native } from './native.js';
import type { FrameReceiver, NetClient } from './net-client.js';
import { inetPort, type InetAddress, type NetSocketAddress, type UnixAddress } from './socket-address.js';

const MAX_FRAME = 65536;
const READS_PER_WAKEUP = 64;

export interface DgramOptions {
  local?: NetSocketAddress;
  remote: NetSocketAddress;
}

export abstract class DgramNetClient implements NetClient {
  readonly type = 'dgram';
  protected receiver: FrameReceiver | null = null;
  protected closed = false;
  protected readonly log: Logger;
  txDropped = 0;

  protected constructor(readonly id: string) {
    this.log = new Logger(`dgram ${id}`);
  }

  /** Opens the socket; errors carry QEMU-like context (`can't bind ip=...`). */
  static async open(id: string, opts: DgramOptions): Promise<DgramNetClient> {
    if (opts.local && opts.local.type !== opts.remote.type) throw new Error('local and remote address types must be the same');
    if (opts.remote.type === 'inet') return InetDgram.create(id, opts.local as InetAddress | undefined, opts.remote);
    return UnixDgram.create(id, opts.local as UnixAddress | undefined, opts.remote);
  }

  setReceiver(fn: FrameReceiver | null): void {
    this.receiver = fn;
  }

  abstract send(frame: Uint8Array): boolean;
  abstract describe(): string;
  abstract close(): void;
}

class InetDgram extends DgramNetClient {
  private constructor(id: string, private readonly socket: Socket, private readonly local: string,
    private readonly remote: InetAddress) {
    super(id);
    socket.on('message', (msg) => {
      if (!this.closed) this.receiver?.(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength).slice());
    });
    socket.on('error', (err) => this.log.warn(`socket error: ${err.message}`));
  }

  static async create(id: string, local: InetAddress | undefined, remote: InetAddress): Promise<InetDgram> {
    inetPort(remote); // checked before anything is opened
    const socket = createSocket({ type: isIPv6(remote.host) || remote.ipv6 ? 'udp6' : 'udp4', reuseAddr: true });
    const host = local?.host ?? undefined;
    const port = local ? inetPort(local) : 0;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new Error(`can't bind ip=${host ?? '0.0.0.0'} to socket: ${err.message}`)));
      socket.bind(port, host, () => resolve());
    }).catch((err: unknown) => {
      socket.close();
      throw err;
    });
    socket.removeAllListeners('error');
    const a = socket.address();
    return new InetDgram(id, socket, `${a.address}:${a.port}`, remote);
  }

  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    // The socket sends later and the frame is only borrowed (NetClient.send): a copy goes.
    this.socket.send(frame.slice(), inetPort(this.remote), this.remote.host, (err) => {
      if (err) this.txDropped++;
    });
    return true;
  }

  describe(): string {
    return `udp=${this.local}/${this.remote.host}:${this.remote.port}`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

class UnixDgram extends DgramNetClient {
  private readonly poll: unknown;
  private readonly buf = new Uint8Array(MAX_FRAME);

  private constructor(id: string, private readonly fd: number, private readonly local: UnixAddress | undefined,
    private readonly remote: UnixAddress) {
    super(id);
    this.poll = native().pollStart(fd, () => this.drain());
  }

  static create(id: string, local: UnixAddress | undefined, remote: UnixAddress): UnixDgram {
    // As QEMU: a stale socket file at the local path is replaced.
    if (local) removeStaleSocket(local.path);
    let fd: number;
    try {
      fd = native().unixDgramOpen(local ? local.path : null);
    } catch (err) {
      throw new Error(`can't create datagram socket${local ? ` on ${local.path}` : ''}: ${(err as Error).message}`);
    }
    return new UnixDgram(id, fd, local, remote);
  }

  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    const n = native().unixDgramSend(this.fd, this.remote.path, frame);
    if (n < 0) {
      this.txDropped++;
      if (n !== -EAGAIN) this.log.debug(`sendto ${this.remote.path} failed: errno ${-n}`);
      return false;
    }
    return true;
  }

  describe(): string {
    return `udp=${this.local?.path ?? ''}:${this.remote.path}`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const n = native();
    n.pollStop(this.poll);
    n.close(this.fd);
    if (this.local) removeStaleSocket(this.local.path);
  }

  private drain(): void {
    const n = native();
    for (let i = 0; i < READS_PER_WAKEUP && !this.closed; i++) {
      const len = n.tapRead(this.fd, this.buf);
      if (len <= 0) return;
      this.receiver?.(this.buf.slice(0, len));
    }
  }
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // nothing there
  }
}
