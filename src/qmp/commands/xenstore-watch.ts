// xenstore watches as QMP events, for operators and the dashboard's xenstore browser. Each
// session's watches live on one shared privileged connection under an internal token that
// names the session, so an event goes back to the session that asked and to no other, and a
// session's watches go when it closes.

import { VifdError } from '../../common/errors.js';
import type { XsHandle } from '../../xen/xenstore/index.js';
import type { Dispatcher } from '../dispatcher.js';
import type { EventBus } from '../events.js';
import { xsCall } from './xenstore.js';

export interface SessionLifecycle {
  onSessionClosed(fn: (sessionId: number) => void): unknown;
}

interface Watch {
  session: number;
  path: string;
  token: string;
}

export class XenstoreWatches {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly xs: XsHandle, events: EventBus) {
    xs.onWatchEvent = (path, internal) => {
      const w = this.watches.get(internal);
      if (w) events.emit('__com.vifd_XENSTORE_WATCH', { path, token: w.token }, { session: w.session });
    };
  }

  add(session: number, path: string, token: string): void {
    const internal = internalToken(session, path, token);
    if (this.watches.has(internal)) throw new VifdError('XENSTORE_ERROR', 'watch', path, 'EEXIST');
    xsCall('watch', path, () => this.xs.watch(path, internal));
    this.watches.set(internal, { session, path, token });
  }

  remove(session: number, path: string, token: string): void {
    const internal = internalToken(session, path, token);
    if (!this.watches.has(internal)) throw new VifdError('XENSTORE_ERROR', 'unwatch', path, 'ENOENT');
    this.watches.delete(internal);
    xsCall('unwatch', path, () => this.xs.unwatch(path, internal));
  }

  dropSession(session: number): void {
    for (const [internal, w] of [...this.watches]) {
      if (w.session !== session) continue;
      this.watches.delete(internal);
      try {
        this.xs.unwatch(w.path, internal);
      } catch {
        // already gone with its node's domain; nothing left to undo
      }
    }
  }

  get count(): number {
    return this.watches.size;
  }
}

/** JSON keeps the three parts apart whatever characters the token holds. */
function internalToken(session: number, path: string, token: string): string {
  return JSON.stringify([session, path, token]);
}

export function registerXenstoreWatchCommands(d: Dispatcher, watches: XenstoreWatches, sessions: SessionLifecycle): void {
  d.register('__com.vifd_xenstore-watch', ({ path, token }, ctx) => {
    watches.add(ctx.sessionId, path, token);
    return {};
  });
  d.register('__com.vifd_xenstore-unwatch', ({ path, token }, ctx) => {
    watches.remove(ctx.sessionId, path, token);
    return {};
  });
  sessions.onSessionClosed((id) => watches.dropSession(id));
}
