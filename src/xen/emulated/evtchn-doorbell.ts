// Event channel delivery between threads, laid out as Xen's 2-level ABI lays out shared_info:
// a pending bit per port and a selector bit per word of pending bits. A sender sets the port's
// bit; the first to set it also sets the selector bit and bumps the sequence word, so repeated
// sends before the receiver runs coalesce into one upcall, as they do for a guest. The receiver
// takes every pending port in one pass, then waits with Atomics.waitAsync from its own event
// loop. Waking a waitAsync waiter is costly (a task posted to the other thread), so a sender
// wakes the receiver only when it says it sleeps (the `sleeping` word, set before the wait and
// checked against the sequence word after, so no ring is missed); a receiver that spins a
// little before sleeping (listen's spinMicros) is rung for the price of two atomic operations.

import { EVTCHN_PORTS_PER_DOMAIN } from './event-channel.js';

const SEQ = 0;
const SLEEPING = 1;
const SELECTOR = 2;
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
    if (Atomics.load(this.words, SLEEPING) !== 0 && Atomics.exchange(this.words, SLEEPING, 0) !== 0) {
      Atomics.notify(this.words, SEQ);
    }
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
   * until stop(). After each pass it watches the sequence word for `spinMicros` (0: not at all)
   * before sleeping: a sender that rings meanwhile need not wake it, and the next pass comes
   * sooner. The spin holds this thread's event loop, so it suits a thread with nothing else to
   * do between passes. One listener per doorbell.
   */
  listen(upcall: (port: number) => void, spinMicros = 0): { stop(): void } {
    if (this.listening) throw new Error('the doorbell already has a listener');
    this.listening = true;
    let stopped = false;
    const words = this.words;
    const loop = async (): Promise<void> => {
      while (!stopped) {
        const seq = Atomics.load(words, SEQ);
        this.drain(upcall);
        if (spinMicros > 0) {
          const until = performance.now() + spinMicros / 1000;
          while (Atomics.load(words, SEQ) === seq && performance.now() < until) { /* spin */ }
          if (Atomics.load(words, SEQ) !== seq) continue;
        }
        // Say we sleep, then look again: a ring after this point sees the flag and wakes us.
        Atomics.store(words, SLEEPING, 1);
        if (Atomics.load(words, SEQ) !== seq) {
          Atomics.store(words, SLEEPING, 0);
          continue;
        }
        const wait = Atomics.waitAsync(words, SEQ, seq);
        if (wait.async) await wait.value;
        Atomics.store(words, SLEEPING, 0);
      }
    };
    void loop();
    return {
      stop: () => {
        stopped = true;
        this.listening = false;
        Atomics.add(words, SEQ, 1);
        Atomics.notify(words, SEQ);
      },
    };
  }
}
