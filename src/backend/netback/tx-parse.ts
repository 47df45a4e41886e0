// Reading one tx packet off the ring, with Linux netback's checks in its order (xenvif_tx_build_gops,
// xenvif_get_extras and xenvif_count_requests in drivers/net/xen-netback/netback.c): the first slot, its extra-info slots, then the more_data chain. Every slot is copied out
// of shared memory exactly once (XSA-155) and only the copy is used; the caller hands in the
// req_prod snapshot of its sweep, so a guest moving req_prod meanwhile changes nothing here.
//
// The outcome is a packet, a non-fatal drop (every consumed slot is answered NETIF_RSP_ERROR,
// extras NETIF_RSP_NULL) or a fatal error that disables the vif, as netback's
// xenvif_fatal_tx_err(). One deliberate difference: a first slot crossing its page is answered
// with NETIF_RSP_ERROR (QEMU's behaviour, which vifd's guests rely on), where netback is fatal.

import {
  ETH_HLEN, NETTXF_extra_info, NETTXF_more_data, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_MAX, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
  XEN_NETIF_EXTRA_TYPE_NONE, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6, XEN_NETIF_NR_SLOTS_MIN,
  readTxRequest, type TxRequest,
} from '../../protocol/netif.js';
import { PAGE_SIZE, wrapSub, type SharedRing } from '../../protocol/ring.js';

/** Netback's fatal_skb_slots default: this many data slots in one packet is an attack, not a mistake. */
export const FATAL_SKB_SLOTS = 20;
/** XEN_NETBK_LEGACY_SLOTS_MAX: more data slots than this are dropped (non-fatal). */
export const MAX_SKB_SLOTS = XEN_NETIF_NR_SLOTS_MIN;

/** An extra-info slot, decoded from one private copy of its 8 bytes. */
export interface TxExtra {
  type: number;
  flags: number;
  /** GSO: MSS; MCAST: unused. */
  gsoSize: number;
  gsoType: number;
  /** MCAST_ADD / MCAST_DEL: the address. */
  addr: Uint8Array;
}

export interface TxSlotRef {
  id: number;
  /** An extra-info slot: answered NETIF_RSP_NULL. */
  extra: boolean;
}

export interface TxPacket {
  kind: 'packet';
  /** The first data slot, its size reduced to its own share (total minus the later slots). */
  first: TxRequest;
  frags: TxRequest[];
  /** The packet's length, the first slot's original `size`. */
  total: number;
  gso: TxExtra | null;
  mcast: TxExtra | null;
  /** Every consumed slot in ring order, for the responses. */
  slots: TxSlotRef[];
}

export interface TxDrop {
  kind: 'drop';
  reason: string;
  slots: TxSlotRef[];
}

export interface TxFatal {
  kind: 'fatal';
  reason: string;
}

export type TxParse = TxPacket | TxDrop | TxFatal;

/** Decodes an extra slot from two 32-bit reads, each byte fetched once. */
export function readTxExtra(v: DataView, at: number): TxExtra {
  const w0 = v.getUint32(at, true);
  const w1 = v.getUint32(at + 4, true);
  const addr = new Uint8Array(6);
  addr[0] = (w0 >>> 16) & 0xff; addr[1] = w0 >>> 24;
  addr[2] = w1 & 0xff; addr[3] = (w1 >>> 8) & 0xff; addr[4] = (w1 >>> 16) & 0xff; addr[5] = w1 >>> 24;
  return { type: w0 & 0xff, flags: (w0 >>> 8) & 0xff, gsoSize: w0 >>> 16, gsoType: w1 & 0xff, addr };
}

/**
 * Reads the rest of the packet whose first slot, at `cons`, the caller has already copied out
 * (`first`), from a ring whose producer snapshot is `prod` (prod − cons ≤ ring size, checked by
 * the caller). Reads nothing at or beyond `prod`.
 */
export function parseTxPacket(sring: SharedRing, cons: number, prod: number, first: TxRequest): TxParse {
  let workToDo = wrapSub(prod, cons);
  const view = sring.view;
  let idx = (cons + 1) >>> 0;
  workToDo--;
  const slots: TxSlotRef[] = [{ id: first.id, extra: false }];

  // xenvif_get_extras(): each extra slot must exist and be of a known type.
  let gso: TxExtra | null = null;
  let mcast: TxExtra | null = null;
  if (first.flags & NETTXF_extra_info) {
    let extra: TxExtra;
    do {
      if (workToDo-- <= 0) return { kind: 'fatal', reason: 'Missing extra info' };
      extra = readTxExtra(view, sring.slotOffset(idx));
      idx = (idx + 1) >>> 0;
      if (extra.type === XEN_NETIF_EXTRA_TYPE_NONE || extra.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
        return { kind: 'fatal', reason: `Invalid extra type: ${extra.type}` };
      }
      slots.push({ id: 0, extra: true });
      if (extra.type === XEN_NETIF_EXTRA_TYPE_GSO) gso = extra;
      if (extra.type === XEN_NETIF_EXTRA_TYPE_MCAST_ADD || extra.type === XEN_NETIF_EXTRA_TYPE_MCAST_DEL) mcast = extra;
    } while (extra.flags & XEN_NETIF_EXTRA_FLAG_MORE);
  }
  // A multicast request is a dummy packet: answered, never sent (netback checks it first).
  if (mcast) return { kind: 'packet', first, frags: [], total: first.size, gso: null, mcast, slots };

  // xenvif_count_requests(): walk the more_data chain, bounded by the snapshot and the slot limits.
  const total = first.size;
  let remaining = first.size;
  let dropReason: string | null = null;
  const frags: TxRequest[] = [];
  let more = (first.flags & NETTXF_more_data) !== 0;
  let nslots = 0;
  while (more) {
    if (nslots >= workToDo) return { kind: 'fatal', reason: `Asked for ${nslots} slots but exceeds this limit` };
    if (nslots >= FATAL_SKB_SLOTS) {
      return { kind: 'fatal', reason: `Malicious frontend using ${nslots} slots, threshold ${FATAL_SKB_SLOTS}` };
    }
    if (nslots >= MAX_SKB_SLOTS && dropReason === null) dropReason = `Too many slots (${nslots} >= ${MAX_SKB_SLOTS})`;
    const txp = readTxRequest(view, sring.slotOffset(idx));
    idx = (idx + 1) >>> 0;
    if (dropReason === null && txp.size > remaining) {
      dropReason = `Invalid tx request, slot size ${txp.size} > remaining size ${remaining}`;
    }
    remaining = (remaining - txp.size) & 0xffff;
    nslots++;
    if (txp.offset + txp.size > PAGE_SIZE) {
      return { kind: 'fatal', reason: `Cross page boundary, txp->offset: ${txp.offset}, size: ${txp.size}` };
    }
    more = (txp.flags & NETTXF_more_data) !== 0;
    slots.push({ id: txp.id, extra: false });
    frags.push(txp);
  }
  if (dropReason !== null) return { kind: 'drop', reason: dropReason, slots };

  const own: TxRequest = { ...first, size: remaining };
  if (own.size < ETH_HLEN) return { kind: 'drop', reason: `Bad packet size: ${own.size}`, slots };
  if (own.offset + own.size > PAGE_SIZE) {
    return { kind: 'drop', reason: `txreq.offset: ${own.offset}, size: ${own.size}, end: ${own.offset + own.size}`, slots };
  }
  // xenvif_set_skb_gso()
  if (gso) {
    if (gso.gsoSize === 0) return { kind: 'fatal', reason: 'GSO size must not be zero.' };
    if (gso.gsoType !== XEN_NETIF_GSO_TYPE_TCPV4 && gso.gsoType !== XEN_NETIF_GSO_TYPE_TCPV6) {
      return { kind: 'fatal', reason: `Bad GSO type ${gso.gsoType}.` };
    }
  }
  return { kind: 'packet', first: own, frags, total, gso, mcast: null, slots };
}
