// What an operator sees of a ring, as Linux netback's debugfs io_ring file: the shared indices
// and the backend's private ones, each with its delta from the published response producer
// (netback prints the same deltas), and how many requests wait to be consumed.

import { type BackRing } from '../../protocol/ring.js';

export interface RingInfo {
  'nr-ents': number;
  'req-prod': number;
  'req-prod-delta': number;
  'req-cons': number;
  'req-cons-delta': number;
  'req-event': number;
  'req-event-delta': number;
  'rsp-prod': number;
  'rsp-prod-pvt': number;
  'rsp-prod-pvt-delta': number;
  'rsp-event': number;
  'rsp-event-delta': number;
  /** req_prod − req_cons as the backend sees it now (more than nr-ents means a hostile guest). */
  unconsumed: number;
}

/** s32 difference a − b, as netback's `%d` of a u32 subtraction. */
function delta(a: number, b: number): number {
  return (a - b) | 0;
}

/** Reads each shared index once. */
export function describeRing(ring: BackRing): RingInfo {
  const s = ring.sring;
  const reqProd = s.reqProd;
  const reqEvent = s.reqEvent;
  const rspProd = s.rspProd;
  const rspEvent = s.rspEvent;
  return {
    'nr-ents': ring.size,
    'req-prod': reqProd,
    'req-prod-delta': delta(reqProd, rspProd),
    'req-cons': ring.reqCons,
    'req-cons-delta': delta(ring.reqCons, rspProd),
    'req-event': reqEvent,
    'req-event-delta': delta(reqEvent, rspProd),
    'rsp-prod': rspProd,
    'rsp-prod-pvt': ring.rspProdPvt,
    'rsp-prod-pvt-delta': delta(ring.rspProdPvt, rspProd),
    'rsp-event': rspEvent,
    'rsp-event-delta': delta(rspEvent, rspProd),
    unconsumed: (reqProd - ring.reqCons) >>> 0,
  };
}
