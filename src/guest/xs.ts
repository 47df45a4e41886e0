// What the simulated guest needs from its xenstore connection, and the small helpers a guest
// kernel's xenbus layer provides on top of it: string reads, transactions retried on EAGAIN, and
// one watch-event callback fanned out to many watchers by token.
//
// The connection is described structurally (method shorthand, so parameter types are bivariant)
// and every call is awaited, so the same guest code runs against the in-process store whether its
// methods return values or promises, and against a wire client.

import { debuglog } from 'node:util';
import { errorCode, errorMessage as errorText } from '../common/errors.js';

/** A transaction handle as the connection hands it out; opaque to the guest. */
export type XsTx = unknown;

type MaybePromise<T> = T | Promise<T>;

export interface GuestXs {
  read(path: string, tx?: XsTx): MaybePromise<Uint8Array>;
  write(path: string, value: string, tx?: XsTx): MaybePromise<unknown>;
  rm(path: string, tx?: XsTx): MaybePromise<unknown>;
  directory(path: string, tx?: XsTx): MaybePromise<string[]>;
  watch(path: string, token: string): MaybePromise<unknown>;
  unwatch(path: string, token: string): MaybePromise<unknown>;
  transactionStart(): MaybePromise<XsTx>;
  transactionEnd(tx: XsTx, commit: boolean): MaybePromise<unknown>;
  onWatchEvent?: ((path: string, token: string) => void) | null;
}

/** One log line per event, operator-readable: `netfront 1/vif/0: Initialising -> Connected`. */
export type GuestLog = (line: string) => void;

const nodeDebug = debuglog('vifd-guest');
export const defaultGuestLog: GuestLog = (line) => nodeDebug('%s', line);

export { errorCode, errorText };

/** Reads a node as UTF-8; a missing node is `undefined`, every other failure is thrown. */
export async function readString(xs: GuestXs, path: string, tx?: XsTx): Promise<string | undefined> {
  try {
    const raw = await xs.read(path, tx);
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Lists a directory; a missing one is empty. */
export async function listDirectory(xs: GuestXs, path: string): Promise<string[]> {
  try {
    return await xs.directory(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

export interface TransactionOptions {
  /** Linux retries forever; a bound turns a livelock into an error someone can read. */
  maxAttempts?: number;
  /** Called before each retry, for logs and tests. */
  onRetry?: (attempt: number) => void;
}

/**
 * Runs `fn` inside a transaction and commits it, starting over on EAGAIN as every xenbus
 * driver does. A failure inside `fn` aborts the transaction and is rethrown.
 */
export async function inTransaction<T>(xs: GuestXs, fn: (tx: XsTx) => Promise<T>,
  opts: TransactionOptions = {}): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? 100;
  for (let attempt = 1; ; attempt++) {
    const tx = await xs.transactionStart();
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      try {
        await xs.transactionEnd(tx, false);
      } catch {
        // The original failure is the one worth reporting.
      }
      throw err;
    }
    try {
      await xs.transactionEnd(tx, true);
      return result;
    } catch (err) {
      if (errorCode(err) !== 'EAGAIN') throw err;
      if (attempt >= maxAttempts) {
        throw new Error(`transaction still conflicting after ${attempt} attempts`, { cause: err });
      }
      opts.onRetry?.(attempt);
    }
  }
}

export interface WatchHandle {
  readonly path: string;
  readonly token: string;
  remove(): Promise<void>;
}

type WatchHandler = (path: string) => void;

/**
 * The connection has one watch-event callback; xenbus drivers each want their own. Tokens are
 * ours, so events route by token. Events for tokens we do not know go to whoever held the
 * callback before us.
 */
export class XsWatches {
  private readonly handlers = new Map<string, WatchHandler>();
  private readonly previous: ((path: string, token: string) => void) | null;
  private nextToken = 1;

  constructor(private readonly xs: GuestXs, private readonly prefix: string,
    private readonly log: GuestLog = defaultGuestLog) {
    this.previous = xs.onWatchEvent ?? null;
    xs.onWatchEvent = (path, token) => this.dispatch(path, token);
  }

  /** Registers a watch; like the store itself, it fires once at once. */
  async add(path: string, handler: WatchHandler): Promise<WatchHandle> {
    const token = `${this.prefix}/${this.nextToken++}`;
    this.handlers.set(token, handler);
    try {
      await this.xs.watch(path, token);
    } catch (err) {
      this.handlers.delete(token);
      throw new Error(`failed to watch ${path}: ${errorText(err)}`, { cause: err });
    }
    let removed = false;
    return {
      path,
      token,
      remove: async () => {
        if (removed) return;
        removed = true;
        this.handlers.delete(token);
        try {
          await this.xs.unwatch(path, token);
        } catch (err) {
          // The connection may already be gone with its domain; nothing is left to undo then.
          this.log(`xenstore: unwatch ${path} (${token}) failed: ${errorText(err)}`);
        }
      },
    };
  }

  /** Gives the callback back to whoever had it; registered handlers stop hearing events. */
  dispose(): void {
    this.handlers.clear();
    this.xs.onWatchEvent = this.previous;
  }

  private dispatch(path: string, token: string): void {
    const handler = this.handlers.get(token);
    if (!handler) {
      this.previous?.(path, token);
      return;
    }
    try {
      handler(path);
    } catch (err) {
      // A watch callback runs on the store's delivery path: never let a guest bug escape into it.
      this.log(`xenstore: watch handler for ${path} (${token}) failed: ${errorText(err)}`);
    }
  }
}

/** Runs async steps one at a time in order, as a xenbus driver's watch thread does. */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly onError: (err: unknown) => void) {}

  run(step: () => Promise<void> | void): Promise<void> {
    const next = this.tail.then(step).catch((err: unknown) => this.onError(err));
    this.tail = next;
    return next;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail;
  }
}
