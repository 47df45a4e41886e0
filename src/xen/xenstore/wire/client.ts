// An asynchronous xenstore client over the wire protocol: what a dom0 process uses to talk to a
// xenstored (vifd's own socket, or a real one). The only other file of the module that imports
// `net`.
//
// * Requests are pipelined and matched to replies by req_id (replies come in order anyway); an
//   ERROR reply rejects with an XsError carrying the daemon's code.
// * Watch events arrive as 'watch' events, interleaved with replies as the daemon sends them.
// * DIRECTORY falls back to DIRECTORY_PART when the listing is too big for one reply (E2BIG),
//   restarting if the directory's generation changes between chunks, as libxenstore does.
// * withTransaction() retries on EAGAIN, as QEMU's xen-bus and libxl do.
// * Reconnection: when the connection drops (the daemon restarted), requests in flight fail
//   with EIO — their transactions are gone with the connection —, the client reconnects with
//   a growing delay, and registers its watches again (each fires once more, as on any WATCH;
//   watchers must treat an event as "look again", which is the protocol's contract anyway).
//
//   CONNECTED ──socket closed──► RECONNECTING ──connected──► CONNECTED (watches re-registered)
//       │                             │
//       └────────── close() ──────────┴──► CLOSED (requests fail with EIO)

import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { isXsErrorCode, XsError } from '../errors.js';
import { DEFAULT_TRANSACTION_RETRIES } from '../helpers.js';
import { encodeMessage, FrameDecoder, nulTerminated, XsMsgType as T, type XsMessage } from './codec.js';

export interface XsClientOptions {
  /** Reconnect after the connection drops (default true). */
  reconnect?: boolean;
  /** First reconnection delay; it doubles up to maxReconnectDelayMs. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

export interface XsClientEvents {
  watch: [path: string, token: string];
  /** The connection dropped; requests in flight failed. */
  disconnected: [reason: string];
  /** Connected again, watches registered again. */
  reconnected: [];
}

type ClientState = 'CONNECTED' | 'RECONNECTING' | 'CLOSED';

interface Pending {
  resolve: (m: XsMessage) => void;
  reject: (e: XsError) => void;
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export class XsClient extends EventEmitter<XsClientEvents> {
  private state: ClientState = 'CONNECTED';
  private decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<string, { path: string; token: string }>();
  private nextReqId = 1;
  private reconnectTimer: NodeJS.Timeout | null = null;

  private constructor(readonly path: string, private socket: Socket, private readonly opts: Required<XsClientOptions>) {
    super();
    this.attach(socket);
  }

  static async connect(path: string, options: XsClientOptions = {}): Promise<XsClient> {
    const opts: Required<XsClientOptions> = {
      reconnect: options.reconnect ?? true,
      reconnectDelayMs: options.reconnectDelayMs ?? 50,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 2000,
    };
    return new XsClient(path, await openSocket(path), opts);
  }

  get connected(): boolean {
    return this.state === 'CONNECTED';
  }

  // ---- requests ----

  /** One request; resolves with the reply payload, rejects with the daemon's XsError. */
  request(type: number, payload: Buffer, tx = 0): Promise<Buffer> {
    if (this.state !== 'CONNECTED') {
      return Promise.reject(new XsError('EIO', this.state === 'CLOSED' ? 'client closed' : 'not connected (reconnecting)'));
    }
    const reqId = this.nextReqId;
    this.nextReqId = (this.nextReqId % 0xffffffff) + 1;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(reqId, {
        resolve: (m) => (m.type === T.ERROR ? reject(errorOf(m)) : resolve(m.payload)),
        reject,
      });
      this.socket.write(encodeMessage({ type, reqId, txId: tx, payload }));
    });
  }

  async read(path: string, tx = 0): Promise<Buffer> {
    return this.request(T.READ, nulTerminated(path), tx);
  }

  /** The value as UTF-8, or undefined if the node does not exist. */
  async readString(path: string, tx = 0): Promise<string | undefined> {
    try {
      return (await this.read(path, tx)).toString('utf8');
    } catch (err) {
      if (err instanceof XsError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(path: string, value: string | Buffer, tx = 0): Promise<void> {
    await this.request(T.WRITE, Buffer.concat([nulTerminated(path), typeof value === 'string' ? Buffer.from(value) : value]), tx);
  }

  async mkdir(path: string, tx = 0): Promise<void> {
    await this.request(T.MKDIR, nulTerminated(path), tx);
  }

  async rm(path: string, tx = 0): Promise<void> {
    await this.request(T.RM, nulTerminated(path), tx);
  }

  async getDomainPath(domid: number): Promise<string> {
    const reply = await this.request(T.GET_DOMAIN_PATH, nulTerminated(String(domid)));
    return reply.toString('utf8').replace(/\0+$/, '');
  }

  /** Pipelined reads: each value as UTF-8, undefined where the node does not exist. */
  async readStrings(paths: readonly string[], tx = 0): Promise<Array<string | undefined>> {
    return Promise.all(paths.map(async (p) => {
      try {
        return (await this.read(p, tx)).toString('utf8');
      } catch (err) {
        if (err instanceof XsError && err.code === 'ENOENT') return undefined;
        throw err;
      }
    }));
  }

  /** Pipelined writes; the first failure rejects (the others still get their replies). */
  async writeAll(entries: ReadonlyArray<readonly [string, string]>, tx = 0): Promise<void> {
    await Promise.all(entries.map(([p, v]) => this.write(p, v, tx)));
  }

  /** "T" or "F", as xenstored answers (docs/misc/xenstore.txt). */
  async isDomainIntroduced(domid: number): Promise<boolean> {
    const reply = await this.request(T.IS_DOMAIN_INTRODUCED, nulTerminated(String(domid)));
    return reply.toString('utf8').replace(/\0+$/, '') === 'T';
  }

  async getPerms(path: string, tx = 0): Promise<string[]> {
    return strings(await this.request(T.GET_PERMS, nulTerminated(path), tx));
  }

  async setPerms(path: string, perms: readonly string[], tx = 0): Promise<void> {
    await this.request(T.SET_PERMS, nulTerminated(path, ...perms), tx);
  }

  async directory(path: string, tx = 0): Promise<string[]> {
    try {
      return strings(await this.request(T.DIRECTORY, nulTerminated(path), tx));
    } catch (err) {
      if (!(err instanceof XsError) || err.code !== 'E2BIG') throw err;
      return this.directoryInParts(path, tx);
    }
  }

  private async directoryInParts(path: string, tx: number): Promise<string[]> {
    for (let attempt = 0; attempt < DEFAULT_TRANSACTION_RETRIES; attempt++) {
      let generation: string | undefined;
      const chunks: Buffer[] = [];
      let offset = 0;
      for (;;) {
        const reply = await this.request(T.DIRECTORY_PART, nulTerminated(path, String(offset)), tx);
        const nul = reply.indexOf(0);
        const gen = reply.toString('latin1', 0, nul);
        if (generation !== undefined && gen !== generation) break;
        generation = gen;
        const chunk = reply.subarray(nul + 1);
        // The last chunk ends with an extra NUL (an empty name).
        const last = chunk.length === 1 || (chunk.length >= 2 && chunk[chunk.length - 2] === 0 && chunk[chunk.length - 1] === 0);
        if (last) {
          chunks.push(chunk.subarray(0, chunk.length - 1));
          return strings(Buffer.concat(chunks));
        }
        chunks.push(chunk);
        offset += chunk.length;
      }
    }
    throw new XsError('EAGAIN', `directory ${path} kept changing while it was read in parts`);
  }

  // ---- watches ----

  async watch(path: string, token: string): Promise<void> {
    await this.request(T.WATCH, nulTerminated(path, token));
    this.watches.set(`${path}\0${token}`, { path, token });
  }

  async unwatch(path: string, token: string): Promise<void> {
    this.watches.delete(`${path}\0${token}`);
    await this.request(T.UNWATCH, nulTerminated(path, token));
  }

  // ---- transactions ----

  async transactionStart(): Promise<number> {
    const reply = await this.request(T.TRANSACTION_START, Buffer.from([0]));
    return Number(reply.toString('latin1', 0, reply.indexOf(0)));
  }

  async transactionEnd(tx: number, commit: boolean): Promise<void> {
    await this.request(T.TRANSACTION_END, nulTerminated(commit ? 'T' : 'F'), tx);
  }

  /** Runs `fn` in a transaction and commits, starting over on EAGAIN; other errors abort it. */
  async withTransaction<R>(fn: (tx: number) => Promise<R>, maxAttempts = DEFAULT_TRANSACTION_RETRIES): Promise<R> {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const tx = await this.transactionStart();
      let result: R;
      try {
        result = await fn(tx);
      } catch (err) {
        await this.transactionEnd(tx, false).catch(() => undefined);
        throw err;
      }
      try {
        await this.transactionEnd(tx, true);
        return result;
      } catch (err) {
        if (!(err instanceof XsError) || err.code !== 'EAGAIN') throw err;
      }
    }
    throw new XsError('EAGAIN', `transaction still conflicting after ${maxAttempts} attempts`);
  }

  // ---- connection ----

  close(): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.failPending('client closed');
    this.socket.destroy();
  }

  private attach(socket: Socket): void {
    this.decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const r of this.decoder.push(chunk)) {
        if (r.kind === 'error') {
          socket.destroy();
          return;
        }
        this.dispatch(r.message);
      }
    });
    socket.on('error', () => { /* 'close' follows */ });
    socket.on('close', () => {
      if (socket !== this.socket || this.state !== 'CONNECTED') return;
      this.failPending('connection lost');
      this.emit('disconnected', 'connection lost');
      if (this.opts.reconnect) this.scheduleReconnect(this.opts.reconnectDelayMs);
      else this.state = 'CLOSED';
    });
  }

  private dispatch(m: XsMessage): void {
    if (m.type === T.WATCH_EVENT) {
      const [path, token] = strings(m.payload);
      if (path !== undefined && token !== undefined) this.emit('watch', path, token);
      return;
    }
    const p = this.pending.get(m.reqId);
    if (!p) return;
    this.pending.delete(m.reqId);
    p.resolve(m);
  }

  private failPending(why: string): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(new XsError('EIO', why));
  }

  private scheduleReconnect(delay: number): void {
    this.state = 'RECONNECTING';
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      openSocket(this.path).then(async (socket) => {
        if (this.state === 'CLOSED') {
          socket.destroy();
          return;
        }
        this.socket = socket;
        this.attach(socket);
        this.state = 'CONNECTED';
        for (const w of [...this.watches.values()]) {
          await this.request(T.WATCH, nulTerminated(w.path, w.token)).catch(() => undefined);
        }
        if (this.state === 'CONNECTED') this.emit('reconnected');
      }, () => {
        if (this.state !== 'CLOSED') this.scheduleReconnect(Math.min(delay * 2, this.opts.maxReconnectDelayMs));
      });
    }, delay);
  }
}

function errorOf(m: XsMessage): XsError {
  const name = m.payload.toString('latin1').replace(/\0+$/, '');
  // libxenstore maps names it does not know (ox's EQUOTA) to EINVAL.
  return new XsError(isXsErrorCode(name) ? name : 'EINVAL', `xenstored answered ${name}`);
}

/** NUL-terminated strings; a missing final NUL still yields the last string. */
function strings(payload: Buffer): string[] {
  if (payload.length === 0) return [];
  const text = payload.toString('latin1');
  const parts = text.split('\0');
  if (text.endsWith('\0')) parts.pop();
  return parts;
}
