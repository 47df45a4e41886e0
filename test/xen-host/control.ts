// The host's end of the control channel to dom0's agent (dom0/agent.py): JSON lines over a
// virtio-serial port, which QEMU exposes here as a unix socket. Requests carry ids and may be
// in flight together; each gets one reply, or an error when it times out or the lab goes.

import { connect, type Socket } from 'node:net';

export type Json = Record<string, unknown>;

/** The agent answered, but with a failure (`error` is its message). */
export class AgentError extends Error {}

interface Pending {
  op: string;
  resolve: (reply: Json) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class ControlChannel {
  private nextId = 1;
  private buf = '';
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: Json) => void>();
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (err) => this.fail(new Error(`control channel: ${err.message}`)));
    socket.on('close', () => this.fail(new Error('control channel closed')));
  }

  /** Connects to QEMU's end of the port; QEMU creates the socket soon after it starts. */
  static async connect(path: string, timeoutMs: number): Promise<ControlChannel> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once('error', reject);
        });
        return new ControlChannel(socket);
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`no control socket at ${path}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Sends `op` with `args`; the reply's fields, or AgentError, or a timeout after `timeoutMs`. */
  request(op: string, args: Json, timeoutMs: number): Promise<Json> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`dom0's agent did not answer ${op} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { op, resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ ...args, id, op })}\n`);
    });
  }

  /** Every event from now on, until the returned function is called. */
  onEvent(listener: (event: Json) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first event called `name` that `match` accepts, from now on. */
  waitEvent(name: string, timeoutMs: number, match: (event: Json) => boolean = () => true): Promise<Json> {
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${name} event from dom0's agent within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e['event'] !== name || !match(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  /** Every request in flight and every later one fails with `err` (QEMU is gone, say). */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${p.op}: ${err.message}`));
    }
    this.pending.clear();
    this.socket.destroy();
  }

  close(): void {
    this.fail(new Error('control channel closed by the host'));
  }

  private receive(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        continue; // not ours: nothing else writes this port, but a torn line must not stop the rest
      }
      if (isJson(msg)) this.dispatch(msg);
    }
  }

  private dispatch(msg: Json): void {
    if (typeof msg['event'] === 'string') {
      for (const l of [...this.listeners]) l(msg);
      return;
    }
    const id = msg['id'];
    const p = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!p || typeof id !== 'number') return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (msg['ok'] === true) p.resolve(msg);
    else p.reject(new AgentError(`${p.op}: ${String(msg['error'])}`));
  }
}

export function isJson(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A reply's field, narrowed: the agent is ours, but its replies arrive as unknown JSON. */
export function field<T extends 'string' | 'number' | 'boolean'>(msg: Json, name: string, type: T):
  T extends 'string' ? string : T extends 'number' ? number : boolean {
  const v = msg[name];
  if (typeof v !== type) throw new Error(`dom0's agent: ${name} is ${JSON.stringify(v)}, not a ${type}`);
  return v as T extends 'string' ? string : T extends 'number' ? number : boolean;
}
