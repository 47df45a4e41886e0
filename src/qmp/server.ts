// The QMP server core: one dispatcher and one event bus shared by every session of every
// transport. Unlike QEMU's monitor, which serves one client per socket, every connection gets
// its own session at once.

import type { CommandReturns } from '../schema/types.js';
import type { Dispatcher } from './dispatcher.js';
import type { EventBus, QmpEvent } from './events.js';
import { QmpSession, type QmpTransport, type SessionHost } from './session.js';

/** query-version's reply, also the greeting's `version`. */
export type VersionInfo = CommandReturns<'query-version'>;

export class QmpServer implements SessionHost {
  private readonly sessions = new Set<QmpSession>();
  private readonly subscribed = new Set<QmpSession>();
  private readonly unsubscribeBus: () => void;
  private readonly closedListeners = new Set<(sessionId: number) => void>();

  constructor(readonly dispatcher: Dispatcher, readonly events: EventBus, readonly version: VersionInfo) {
    this.unsubscribeBus = events.subscribe((e, session) => this.broadcast(e, session));
  }

  greeting(): Record<string, unknown> {
    return { QMP: { version: this.version, capabilities: ['oob'] } };
  }

  /** A transport calls this for each new connection and feeds the session what it reads. */
  openSession(transport: QmpTransport, pretty = false): QmpSession {
    const session = new QmpSession(this, {
      write: (text) => transport.write(text),
      close: () => {
        this.sessions.delete(session);
        for (const fn of this.closedListeners) fn(session.id);
        transport.close();
      },
    }, pretty);
    this.sessions.add(session);
    session.start();
    return session;
  }

  subscribe(session: QmpSession): void {
    this.subscribed.add(session);
  }

  unsubscribe(session: QmpSession): void {
    this.subscribed.delete(session);
  }

  /** Called once per session when it closes (commands drop what the session owned). */
  onSessionClosed(fn: (sessionId: number) => void): () => void {
    this.closedListeners.add(fn);
    return () => this.closedListeners.delete(fn);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Closes every session (their transports close their connections). */
  closeAll(): void {
    for (const s of [...this.sessions]) s.close();
  }

  dispose(): void {
    this.closeAll();
    this.unsubscribeBus();
  }

  private broadcast(event: QmpEvent, session?: number): void {
    for (const s of this.subscribed) if (session === undefined || s.id === session) s.sendEvent(event);
  }
}
