// A QMP client over a unix socket: replies and events kept apart, raw reply lines available.
// Tests, benchmarks and tools use it; it is a client, so unlike the server core it owns its socket.

import { connect, type Socket } from 'node:net';

export type QmpMessage = Record<string, unknown>;

export class QmpClient {
  private buf = '';
  private readonly lines: string[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly events: QmpMessage[] = [];
  private closed = false;
  greeting: QmpMessage = {};

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      // A message is one line, except from a -qmp-pretty monitor, where it spans several.
      let from = 0;
      let nl: number;
      while ((nl = this.buf.indexOf('\n', from)) >= 0) {
        const text = this.buf.slice(0, nl + 1);
        let msg: QmpMessage;
        try {
          msg = JSON.parse(text) as QmpMessage;
        } catch {
          from = nl + 1;
          continue;
        }
        this.buf = this.buf.slice(nl + 1);
        from = 0;
        if ('event' in msg) this.events.push(msg);
        else this.lines.push(text);
        this.wake();
      }
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects, reads the greeting and (unless told not to) negotiates. */
  static async connect(path: string, opts: { negotiate?: boolean } = {}): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => resolve(s));
      s.once('error', reject);
    });
    const c = new QmpClient(socket);
    c.greeting = JSON.parse(await c.nextLine()) as QmpMessage;
    if (opts.negotiate ?? true) await c.execute('qmp_capabilities');
    return c;
  }

  /** Sends bytes as they are and returns nothing; pair with nextLine(). */
  send(text: string | Uint8Array): void {
    this.socket.write(text);
  }

  async execute(command: string, args?: QmpMessage, id?: unknown): Promise<QmpMessage> {
    const msg: QmpMessage = { execute: command };
    if (args) msg['arguments'] = args;
    if (id !== undefined) msg['id'] = id;
    this.send(JSON.stringify(msg));
    return JSON.parse(await this.nextLine()) as QmpMessage;
  }

  /** The next non-event line exactly as received (with its CRLF). */
  async nextLine(timeoutMs = 10000): Promise<string> {
    await this.until(() => this.lines.length > 0 || this.closed, timeoutMs, 'a reply');
    const line = this.lines.shift();
    if (line === undefined) throw new Error('connection closed before a reply');
    return line;
  }

  async waitEvent(name: string, match: (data: QmpMessage) => boolean = () => true, timeoutMs = 10000): Promise<QmpMessage> {
    let found: QmpMessage | undefined;
    await this.until(() => {
      const i = this.events.findIndex((e) => e['event'] === name && match((e['data'] ?? {}) as QmpMessage));
      if (i >= 0) found = this.events.splice(i, 1)[0];
      return found !== undefined || this.closed;
    }, timeoutMs, `event ${name}`);
    if (!found) throw new Error(`connection closed while waiting for ${name}`);
    return found;
  }

  async waitClosed(timeoutMs = 10000): Promise<void> {
    await this.until(() => this.closed, timeoutMs, 'the connection to close');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
