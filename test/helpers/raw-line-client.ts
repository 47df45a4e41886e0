// A QMP connection seen as bytes out and CRLF lines in, nothing parsed: for tests that compare
// the server's replies byte for byte (QEMU prints `inf`, which no JSON parser reads).

import { connect, type Socket } from 'node:net';

export class RawLineClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      let nl: number;
      while ((nl = this.buf.indexOf(0x0a)) >= 0) {
        this.lines.push(this.buf.subarray(0, nl + 1).toString('latin1'));
        this.buf = this.buf.subarray(nl + 1);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(path: string): Promise<RawLineClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => resolve(s));
      s.once('error', reject);
    });
    return new RawLineClient(socket);
  }

  /** Resolves once the bytes are handed to the kernel (large writes take a while). */
  write(bytes: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Half-closes: the server sees end of input. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get pending(): number {
    return this.lines.length;
  }

  /** The next line with its CRLF; throws on timeout or when the connection closed first. */
  async line(timeoutMs = 10000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed while waiting for a line');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.lines.shift()!;
  }

  /** Waits `ms` and returns whatever lines arrived (for "no reply yet" checks). */
  async drain(ms: number): Promise<string[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.lines.splice(0);
  }

  async waitClosed(timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
