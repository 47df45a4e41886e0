// Test helpers for the xenstore wire socket: a store served on a private socket, and a raw
// client that sends exact bytes and collects what comes back (replies and watch events in the
// order they arrived).

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenStore } from '../../src/xen/xenstore/index.js';
import { encodeMessage, FrameDecoder, XsMsgType, type XsMessage } from '../../src/xen/xenstore/wire/codec.js';
import { XenstoreSocketServer } from '../../src/xen/xenstore/wire/server.js';

export interface ServedStore {
  store: XenStore;
  server: XenstoreSocketServer;
  path: string;
  stop(): Promise<void>;
}

export async function serveStore(store = new XenStore(), outputLimit?: number): Promise<ServedStore> {
  const dir = mkdtempSync(join(tmpdir(), 'vifd-xs-'));
  const path = join(dir, 'xenstored.sock');
  const server = await XenstoreSocketServer.listen(store, { path, ...(outputLimit ? { outputLimit } : {}) });
  return {
    store, server, path,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ToolResult { code: number; stdout: string; stderr: string }

/** Runs a Xen tool against `socket` (XENSTORED_PATH), asynchronously: the server shares our event loop. */
export function runTool(socket: string, cmd: string, args: string[], timeoutMs = 20000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, XENSTORED_PATH: socket }, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}

export class RawXsClient {
  readonly received: XsMessage[] = [];
  ended = false;
  private readonly decoder = new FrameDecoder();
  private waiters: Array<() => void> = [];
  private nextReq = 1;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const r of this.decoder.push(chunk)) if (r.kind === 'message') this.received.push(r.message);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => { /* seen as 'close' */ });
  }

  static connect(path: string): Promise<RawXsClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new RawXsClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `pred` holds on what was received (or rejects after `ms`). */
  async until(pred: () => boolean, ms = 3000, what = 'a reply'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${this.describe()}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(type: number, payload: string | Buffer, txId = 0, reqId = this.nextReq++): number {
    this.writeRaw(encodeMessage({ type, reqId, txId, payload: typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload }));
    return reqId;
  }

  /** Sends and waits for the reply with that req_id (events before it stay in `received`). */
  async request(type: number, payload: string | Buffer, txId = 0): Promise<XsMessage> {
    const reqId = this.send(type, payload, txId);
    const find = () => this.received.find((m) => m.type !== XsMsgType.WATCH_EVENT && m.reqId === reqId);
    await this.until(() => find() !== undefined || this.ended, 3000, `reply to req ${reqId}`);
    const r = find();
    if (!r) throw new Error(`connection closed before the reply to req ${reqId}`);
    return r;
  }

  /** `OK`, `ERROR EINVAL`, `EVENT /p tok`, ... with NULs as `|`. */
  static show(m: XsMessage): string {
    const text = m.payload.toString('latin1').replace(/\0/g, '|');
    if (m.type === XsMsgType.ERROR) return `ERROR ${text}`;
    if (m.type === XsMsgType.WATCH_EVENT) return `EVENT ${text}`;
    return text;
  }

  describe(): string {
    return JSON.stringify(this.received.map(RawXsClient.show));
  }

  close(): void {
    this.socket.destroy();
  }
}
