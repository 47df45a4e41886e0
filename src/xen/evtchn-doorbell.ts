// Event channel delivery between threads, laid out as Xen's 2-level ABI lays out shared_info:
// a pending bit per port and a selector bit per word of pending bits. A sender sets the port's
// bit; the first to set it also sets the selector bit and wakes the receiver, so repeated sends
// before the receiver runs coalesce into one upcall, as they do for a guest. The receiver waits
// with Atomics.waitAsync, from its own event loop, and takes every pending port in one pass.

import { EVTCHN_PORTS_PER_DOMAIN } from './event-channel.js';

const SEQ = 0;
const SELECTOR = 1;
const PENDING_WORDS = EVTCHN_PORTS_PER_DOMAIN / 32;
const SELECTOR_WORDS = PENDING_WORDS / 32;
const PENDING = SELECTOR + SELECTOR_WORDS;
const WORDS = PENDING + PENDING_WORDS;

export class Doorbell {
  private readonly words: Int32Array;
  private listening = false;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(WORDS * 4)) {
    if (buffer.byteLength !== WORDS * 4) throw new RangeError(`a doorbell is ${WORDS * 4} bytes, not ${buffer.byteLength}`);
    this.words = new Int32Array(buffer);
  }

  /** Raises `port`; wakes the receiver unless the port was already pending. */
  ring(port: number): void {
    if (!Number.isInteger(port) || port <= 0 || port >= EVTCHN_PORTS_PER_DOMAIN) {
      throw new RangeError(`event channel port ${port} out of range`);
    }
    const w = port >>> 5;
    const bit = 1 << (port & 31);
    if (Atomics.or(this.words, PENDING + w, bit) & bit) return;
    Atomics.or(this.words, SELECTOR + (w >>> 5), 1 << (w & 31));
    Atomics.add(this.words, SEQ, 1);
    Atomics.notify(this.words, SEQ);
  }

  /** Takes every pending port, clearing it before its upcall (a send during the upcall rings again). */
  drain(upcall: (port: number) => void): void {
    for (let s = 0; s < SELECTOR_WORDS; s++) {
      let sel = Atomics.exchange(this.words, SELECTOR + s, 0);
      while (sel !== 0) {
        const sb = 31 - Math.clz32(sel & -sel);
        sel &= sel - 1;
        const w = s * 32 + sb;
        let pending = Atomics.exchange(this.words, PENDING + w, 0);
        while (pending !== 0) {
          const b = 31 - Math.clz32(pending & -pending);
          pending &= pending - 1;
          upcall(w * 32 + b);
        }
      }
    }
  }

  /**
   * Calls `upcall` for pending ports from this thread's event loop whenever the doorbell rings,
   * until stop() (or close() from any thread). One listener per doorbell.
   */
  listen(upcall: (port: number) => void): { stop(): void } {
    if (this.listening) throw new Error('the doorbell already has a listener');
    this.listening = true;
    let stopped = false;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        const seq = Atomics.load(this.words, SEQ);
        this.drain(upcall);
        const wait = Atomics.waitAsync(this.words, SEQ, seq);
        if (wait.async) await wait.value;
      }
    };
    void loop();
    return {
      stop: () => {
        stopped = true;
        this.listening = false;
        Atomics.add(this.words, SEQ, 1);
        Atomics.notify(this.words, SEQ);
      },
    };
  }
}
