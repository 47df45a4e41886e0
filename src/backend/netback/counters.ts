// Per-vif counters, shared by the tx and rx paths; qom-get and the dashboard read them. A vif
// whose datapath runs on a datapath thread keeps them in shared memory, written there and read
// here: same fields, same object shape to their readers.

export interface VifCounters {
  txPackets: number;
  txBytes: number;
  txErrors: number;
  txDropped: number;
  rxPackets: number;
  rxBytes: number;
  rxErrors: number;
  rxDropped: number;
}

const FIELDS = ['txPackets', 'txBytes', 'txErrors', 'txDropped', 'rxPackets', 'rxBytes', 'rxErrors', 'rxDropped'] as const;

export function newCounters(): VifCounters {
  return { txPackets: 0, txBytes: 0, txErrors: 0, txDropped: 0, rxPackets: 0, rxBytes: 0, rxErrors: 0, rxDropped: 0 };
}

/**
 * Counters over `buffer` (new when omitted), as own enumerable properties so that `{ ...c }`
 * copies their values. One thread writes them; any may read.
 */
export function sharedCounters(buffer = new SharedArrayBuffer(FIELDS.length * 8)): VifCounters & { buffer: SharedArrayBuffer } {
  const values = new Float64Array(buffer);
  const c = {} as VifCounters & { buffer: SharedArrayBuffer };
  FIELDS.forEach((name, i) => {
    Object.defineProperty(c, name, {
      enumerable: true,
      get: () => values[i]!,
      set: (v: number) => { values[i] = v; },
    });
  });
  Object.defineProperty(c, 'buffer', { value: buffer, enumerable: false });
  return c;
}
