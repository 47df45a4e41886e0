// The netif protocol's shared vocabulary (xen/include/public/io/netif.h): slot layouts, flags,
// extra-info types and response codes. Decoders copy a slot out of shared memory exactly once
// into a private object (XSA-155); nothing here re-reads a slot.

import { ringSize } from './ring.js';

export const TX_SLOT_SIZE = 12;
export const RX_SLOT_SIZE = 8;
export const NET_TX_RING_SIZE = ringSize(TX_SLOT_SIZE);
export const NET_RX_RING_SIZE = ringSize(RX_SLOT_SIZE);

export const NETTXF_csum_blank = 1;
export const NETTXF_data_validated = 2;
export const NETTXF_more_data = 4;
export const NETTXF_extra_info = 8;

export const NETRXF_data_validated = 1;
export const NETRXF_csum_blank = 2;
export const NETRXF_more_data = 4;
export const NETRXF_extra_info = 8;

export const XEN_NETIF_EXTRA_TYPE_NONE = 0;
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2;
export const XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3;
export const XEN_NETIF_EXTRA_TYPE_HASH = 4;
export const XEN_NETIF_EXTRA_TYPE_MAX = 5;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;

export const XEN_NETIF_GSO_TYPE_NONE = 0;
export const XEN_NETIF_GSO_TYPE_TCPV4 = 1;
export const XEN_NETIF_GSO_TYPE_TCPV6 = 2;

export const NETIF_RSP_DROPPED = -2;
export const NETIF_RSP_ERROR = -1;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_NULL = 1;

export const XEN_NETIF_NR_SLOTS_MIN = 18;
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
export const ETH_HLEN = 14;
/** QEMU's xen_nic puts received data at this offset so the IP header is aligned (NET_IP_ALIGN). */
export const NET_IP_ALIGN = 2;

export interface TxRequest { gref: number; offset: number; flags: number; id: number; size: number }
export interface TxResponse { id: number; status: number }
export interface RxRequest { id: number; gref: number }
export interface RxResponse { id: number; offset: number; flags: number; status: number }

export function readTxRequest(v: DataView, at: number): TxRequest {
  return readTxRequestInto(v, at, { gref: 0, offset: 0, flags: 0, id: 0, size: 0 });
}

/** readTxRequest into an object the caller reuses (a hot loop's scratch copy); returns it. */
export function readTxRequestInto(v: DataView, at: number, out: TxRequest): TxRequest {
  out.gref = v.getUint32(at, true);
  out.offset = v.getUint16(at + 4, true);
  out.flags = v.getUint16(at + 6, true);
  out.id = v.getUint16(at + 8, true);
  out.size = v.getUint16(at + 10, true);
  return out;
}

export function writeTxRequest(v: DataView, at: number, r: TxRequest): void {
  v.setUint32(at, r.gref >>> 0, true);
  v.setUint16(at + 4, r.offset, true);
  v.setUint16(at + 6, r.flags, true);
  v.setUint16(at + 8, r.id, true);
  v.setUint16(at + 10, r.size, true);
}

export function readTxResponse(v: DataView, at: number): TxResponse {
  return { id: v.getUint16(at, true), status: v.getInt16(at + 2, true) };
}

/** readTxResponse into a caller's object, for loops that read many and keep none. */
export function readTxResponseInto(v: DataView, at: number, out: TxResponse): TxResponse {
  out.id = v.getUint16(at, true);
  out.status = v.getInt16(at + 2, true);
  return out;
}

export function writeTxResponse(v: DataView, at: number, id: number, status: number): void {
  v.setUint16(at, id, true);
  v.setInt16(at + 2, status, true);
}

export function readRxRequest(v: DataView, at: number): RxRequest {
  return { id: v.getUint16(at, true), gref: v.getUint32(at + 4, true) };
}

export function writeRxRequest(v: DataView, at: number, r: RxRequest): void {
  v.setUint16(at, r.id, true);
  v.setUint16(at + 2, 0, true);
  v.setUint32(at + 4, r.gref >>> 0, true);
}

export function readRxResponse(v: DataView, at: number): RxResponse {
  return {
    id: v.getUint16(at, true),
    offset: v.getUint16(at + 2, true),
    flags: v.getUint16(at + 4, true),
    status: v.getInt16(at + 6, true),
  };
}

export function writeRxResponse(v: DataView, at: number, r: RxResponse): void {
  v.setUint16(at, r.id, true);
  v.setUint16(at + 2, r.offset, true);
  v.setUint16(at + 4, r.flags, true);
  v.setInt16(at + 6, r.status, true);
}

/** A GSO extra-info slot (netif_extra_info with type GSO): MSS and GSO type. */
export interface GsoExtra { flags: number; size: number; type: number }

/** Writes a GSO extra into an rx response slot or a tx request slot (8 bytes, features 0). */
export function writeGsoExtra(v: DataView, at: number, e: GsoExtra): void {
  v.setUint8(at, XEN_NETIF_EXTRA_TYPE_GSO);
  v.setUint8(at + 1, e.flags);
  v.setUint16(at + 2, e.size, true);
  v.setUint8(at + 4, e.type);
  v.setUint8(at + 5, 0);
  v.setUint16(at + 6, 0, true);
}

/** Describes tx flags the way QEMU's trace does (" csum_blank data_validated ..."). */
export function describeTxFlags(flags: number): string {
  return [
    flags & NETTXF_csum_blank ? ' csum_blank' : '',
    flags & NETTXF_data_validated ? ' data_validated' : '',
    flags & NETTXF_more_data ? ' more_data' : '',
    flags & NETTXF_extra_info ? ' extra_info' : '',
  ].join('');
}
