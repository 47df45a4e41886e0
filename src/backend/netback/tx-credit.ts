// Netback's credit scheduler (netback.c tx_credit_exceeded / tx_add_credit): a queue may send
// `bytes` every `usec`; a window's unused credit carries over up to a burst of 128 KiB (or one
// window's worth, if larger), so a jumbo packet never seizes the interface. A packet larger
// than what is left waits for the next window, its request left on the ring; a timer then
// refills the credit and resumes the queue. The toolstack sets the rate in the backend's
// `rate` key ("bytes,usec", what xl writes for a vif's rate=), read as netback's
// xen_net_read_rate reads it.

export interface TxRate {
  /** Bytes per window; Infinity: unlimited (netback's ~0UL). */
  bytes: number;
  usec: number;
}

export const UNLIMITED: TxRate = { bytes: Infinity, usec: 0 };

/** netback's max_burst floor: a 128 KiB packet (GSO) must always fit. */
const MIN_BURST = 131072;

/**
 * `rate` as xen_net_read_rate parses it: two decimal numbers around a comma and nothing else;
 * absent or malformed, unlimited (netback then warns "Failed to parse network rate limit").
 */
export function parseRate(text: string | undefined): { rate: TxRate; malformed: boolean } {
  if (text === undefined) return { rate: UNLIMITED, malformed: false };
  const m = /^(\d+),(\d+)$/.exec(text);
  if (!m) return { rate: UNLIMITED, malformed: true };
  return { rate: { bytes: Number(m[1]), usec: Number(m[2]) }, malformed: false };
}

export class TxCredit {
  private rate: TxRate = UNLIMITED;
  private remaining = Infinity;
  private windowStart = performance.now();
  private timer: NodeJS.Timeout | null = null;

  /** `resume` runs once a rate-limited queue has credit again. */
  constructor(private readonly resume: () => void) {}

  /** netback's xen_net_rate_changed: a smaller rate takes effect now, a larger one at the next refill. */
  set(rate: TxRate): void {
    this.rate = rate;
    if (this.timer === null && this.remaining > rate.bytes) this.remaining = rate.bytes;
  }

  /** Whether a packet of `size` bytes may go now; if so its credit is taken. */
  take(size: number): boolean {
    if (this.remaining < size && this.exceeded(size)) return false;
    this.remaining -= size;
    return true;
  }

  /** Waiting for the next window. */
  get limited(): boolean {
    return this.timer !== null;
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private exceeded(size: number): boolean {
    if (this.timer !== null) return true;
    const now = performance.now();
    const next = this.windowStart + this.rate.usec / 1000;
    // Past the point where the window refills?
    if (now >= next) {
      this.windowStart = now;
      this.addCredit();
    }
    if (size <= this.remaining) return false;
    this.windowStart = next;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.addCredit();
      this.resume();
    }, Math.max(0, next - now));
    return true;
  }

  private addCredit(): void {
    const burst = Math.max(MIN_BURST, this.rate.bytes);
    this.remaining = Math.min(this.remaining + this.rate.bytes, burst);
  }
}
