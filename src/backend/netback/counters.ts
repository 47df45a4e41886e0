// Per-vif counters, shared by the tx and rx paths; qom-get and the dashboard read them.

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

export function newCounters(): VifCounters {
  return { txPackets: 0, txBytes: 0, txErrors: 0, txDropped: 0, rxPackets: 0, rxBytes: 0, rxErrors: 0, rxDropped: 0 };
}
