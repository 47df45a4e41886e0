// Synchronous calls into a worker thread: the caller posts a request and sleeps in Atomics.wait
// until the worker has posted the reply and bumped a shared counter, then takes the reply off
// its port with receiveMessageOnPort. Replies carry the request's sequence number, so one that
// comes after its caller gave up (the timeout) is recognised and dropped. The worker must never
// wait for the caller's thread, or the two would wait for each other.
//
// Both sides are typed by one interface of operations (name → arguments and result): the
// caller can only call what the interface has, and the worker must answer all of it, so an
// operation one side lacks is a compile error.

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

export interface SyncRequest { seq: number; op: string; args: unknown }

/** The operations a worker serves: each one's arguments and result. */
export type SyncOps = Record<string, { args: unknown; result: unknown }>;

/** What serves every operation of `Ops`. */
export type SyncHandlers<Ops extends SyncOps> = {
  [K in keyof Ops]: (args: Ops[K]['args']) => Ops[K]['result'] | Promise<Ops[K]['result']>;
};
export type SyncReply =
  | { seq: number; ok: true; value: unknown }
  | { seq: number; ok: false; code: string | undefined; message: string };

/** The error a call throws: the worker's message and code, or why no answer came. */
export class SyncCallError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
    this.name = 'SyncCallError';
  }
}

/** Where requests go: a port, or the Worker itself (its parentPort on the other side). */
export interface RequestTarget {
  postMessage(message: unknown): void;
}

/** The code of the error a call throws when no answer came in time. */
export const SYNC_CALL_TIMEOUT = 'ETIMEDOUT';

export class SyncCaller<Ops extends SyncOps> {
  private seq = 0;
  private readonly flag: Int32Array;

  /** `flag`: a shared Int32 the worker bumps after each reply. */
  constructor(private readonly requests: RequestTarget, private readonly replies: MessagePort, flag: SharedArrayBuffer,
    private readonly peer: string) {
    this.flag = new Int32Array(flag);
  }

  call<K extends keyof Ops & string>(op: K, args: Ops[K]['args'], timeoutMs: number): Ops[K]['result'] {
    this.seq = this.seq >= 0x7fffffff ? 1 : this.seq + 1;
    const seq = this.seq;
    this.requests.postMessage({ seq, op, args } satisfies SyncRequest);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const posted = Atomics.load(this.flag, 0);
      for (let m = receiveMessageOnPort(this.replies); m; m = receiveMessageOnPort(this.replies)) {
        const r = m.message as SyncReply;
        if (r.seq !== seq) continue;
        // The worker's handler for `op` produced it (SyncHandlers<Ops>): the one unchecked step is the message port.
        if (r.ok) return r.value as Ops[K]['result'];
        throw new SyncCallError(r.message, r.code);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new SyncCallError(`${op}: ${this.peer} did not answer within ${timeoutMs} ms`, SYNC_CALL_TIMEOUT);
      Atomics.wait(this.flag, 0, posted, left);
    }
  }
}

/** What a failed call carries back: the worker's own classification of its error. */
export type ErrorReply = { code: string | undefined; message: string };

function describeError(err: unknown): ErrorReply {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : undefined,
    message: typeof e?.message === 'string' ? e.message : String(err) };
}

/**
 * The worker's side: answers each request with its handler's value (awaited when it is a
 * promise) or the error it threw, as `describe` puts it (default: its code and message).
 */
export function serveSyncCalls<Ops extends SyncOps>(requests: { on(event: 'message', fn: (r: SyncRequest) => void): unknown },
  replies: MessagePort, flag: SharedArrayBuffer, handlers: SyncHandlers<Ops>,
  describe: (err: unknown) => ErrorReply = describeError): void {
  const handle = (op: string, args: unknown): unknown => {
    if (!Object.hasOwn(handlers, op)) throw new Error(`unknown operation ${op}`);
    return (handlers[op] as (args: unknown) => unknown)(args);
  };
  const words = new Int32Array(flag);
  const reply = (r: SyncReply): void => {
    replies.postMessage(r);
    Atomics.add(words, 0, 1);
    Atomics.notify(words, 0);
  };
  const fail = (seq: number, err: unknown): void => reply({ seq, ok: false, ...describe(err) });
  requests.on('message', (r: SyncRequest) => {
    let value: unknown;
    try {
      value = handle(r.op, r.args);
    } catch (err) {
      fail(r.seq, err);
      return;
    }
    if (value instanceof Promise) {
      value.then((v: unknown) => reply({ seq: r.seq, ok: true, value: v }), (err: unknown) => fail(r.seq, err));
    } else {
      reply({ seq: r.seq, ok: true, value });
    }
  });
}
