// QMP events: one bus per server. Each event is stamped once (QEMU's timestamp shape) and
// handed to every negotiated session of every transport, or only to the session it concerns
// (the xenstore watches a session set).

import { schemas } from '../schema/registry.js';
import type { EventData, EventName } from '../schema/types.js';

/** An event as sent: `data` is typed by schema/events/<event>.json. */
export interface QmpEvent<N extends EventName = EventName> {
  timestamp: { seconds: number; microseconds: number };
  event: N;
  data?: EventData<N>;
}

/** `session` set: the event is for that session only (e.g. the xenstore watches it asked for). */
type Listener = (event: QmpEvent, session?: number) => void;

export interface EmitOptions {
  /** Deliver to this session only instead of every negotiated one. */
  session?: number;
}

/** The last stamp given: a later event is never stamped earlier, whatever the wall clock does. */
let lastMicros = 0;

/**
 * Wall-clock time in µs, as QEMU's g_get_real_time(), read off the monotonic clock: Date.now()'s
 * millisecond and performance.now()'s fraction tick apart, so gluing the two went backwards
 * within a millisecond. (A stamp fits a double exactly: about 2^51 µs since 1970.)
 */
export function timestampNow(): { seconds: number; microseconds: number } {
  const us = Math.max(lastMicros, Math.floor((performance.timeOrigin + performance.now()) * 1000));
  lastMicros = us;
  return { seconds: Math.floor(us / 1_000_000), microseconds: us % 1_000_000 };
}

export class EventBus {
  private readonly listeners = new Set<Listener>();

  /** Subscribes; the returned function unsubscribes. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Emits an event declared in schema/events. Its data is typed by that schema at compile time,
   * and checked against it again here (a value the types cannot see, e.g. an out-of-range state).
   */
  emit<N extends EventName>(name: N, data: EventData<N>, opts: EmitOptions = {}): QmpEvent<N> {
    const entry = schemas().get('event', name);
    if (!entry) throw new Error(`event ${name} is not declared in schema/events`);
    if (!entry.validate(data ?? {})) {
      throw new Error(`event ${name}: data does not match its schema: ${JSON.stringify(entry.validate.errors)}`);
    }
    const event: QmpEvent<N> = { timestamp: timestampNow(), event: name };
    if (data && Object.keys(data).length > 0) event.data = data;
    for (const fn of this.listeners) fn(event, opts.session);
    return event;
  }
}
