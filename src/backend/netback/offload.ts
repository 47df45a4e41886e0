// Checksum offload and GSO between the netif ring and a peer that carries a virtio_net_hdr
// (a tap with vnet_hdr), as Linux netback's checksum_setup()/xenvif_set_skb_gso() on tx and
// xenvif_rx_action()'s flags and GSO extra on rx. Where the L4 header is, is read from the
// frame itself (Ethernet, an optional VLAN tag, IPv4 or IPv6, then TCP or UDP); nothing the
// guest says about offsets is trusted.

import {
  ETH_HLEN, NETRXF_csum_blank, NETRXF_data_validated, NETTXF_csum_blank, NETTXF_data_validated,
  XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6,
} from '../../protocol/netif.js';
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, type VirtioNetHdr,
} from '../../protocol/virtio-net-hdr.js';
import { ETH_P_IP, IPPROTO_TCP, IPPROTO_UDP, writePseudoHeaderSum } from '../net/checksum.js';

const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const TCP_CSUM_OFFSET = 16;
const UDP_CSUM_OFFSET = 6;

/** Where a frame's L3 and L4 headers start, and what the L4 protocol is. */
export interface L4Location {
  ethertype: number;
  l3: number;
  l4: number;
  proto: number;
}

/** Finds the L4 header of an IPv4 or IPv6 frame; a string says why there is none. */
export function locateL4(frame: Uint8Array): L4Location | string {
  if (frame.length < ETH_HLEN) return 'no Ethernet header';
  let ethertype = (frame[12]! << 8) | frame[13]!;
  let l3 = ETH_HLEN;
  if (ethertype === ETH_P_8021Q) {
    if (frame.length < ETH_HLEN + 4) return 'truncated VLAN header';
    ethertype = (frame[16]! << 8) | frame[17]!;
    l3 += 4;
  }
  if (ethertype === ETH_P_IP) {
    if (frame.length < l3 + 20) return 'truncated IPv4 header';
    const ihl = (frame[l3]! & 0x0f) * 4;
    if (frame[l3]! >> 4 !== 4 || ihl < 20 || frame.length < l3 + ihl) return 'bad IPv4 header';
    // A fragment's L4 header is elsewhere (or its checksum covers other fragments).
    if ((((frame[l3 + 6]! << 8) | frame[l3 + 7]!) & 0x3fff) !== 0) return 'IPv4 fragment';
    return { ethertype, l3, l4: l3 + ihl, proto: frame[l3 + 9]! };
  }
  if (ethertype === ETH_P_IPV6) {
    if (frame.length < l3 + 40) return 'truncated IPv6 header';
    if (frame[l3]! >> 4 !== 6) return 'bad IPv6 header';
    return skipIpv6Extensions(frame, ethertype, l3);
  }
  return `ethertype 0x${ethertype.toString(16)}`;
}

/** IPv6 extension headers a partial checksum may sit behind (skb_checksum_setup_ipv6's list). */
const NEXTHDR_HOP = 0;
const NEXTHDR_ROUTING = 43;
const NEXTHDR_FRAGMENT = 44;
const NEXTHDR_AUTH = 51;
const NEXTHDR_DEST = 60;

function skipIpv6Extensions(frame: Uint8Array, ethertype: number, l3: number): L4Location | string {
  let proto = frame[l3 + 6]!;
  let at = l3 + 40;
  // Bounded by the frame: every extension header is at least 8 bytes.
  while (proto === NEXTHDR_HOP || proto === NEXTHDR_ROUTING || proto === NEXTHDR_DEST || proto === NEXTHDR_AUTH ||
    proto === NEXTHDR_FRAGMENT) {
    if (frame.length < at + 8) return 'truncated IPv6 extension header';
    let len: number;
    if (proto === NEXTHDR_FRAGMENT) {
      if ((((frame[at + 2]! << 8) | frame[at + 3]!) & 0xfff9) !== 0) return 'IPv6 fragment';
      len = 8;
    } else {
      len = proto === NEXTHDR_AUTH ? (frame[at + 1]! + 2) * 4 : (frame[at + 1]! + 1) * 8;
    }
    proto = frame[at]!;
    at += len;
  }
  if (frame.length < at) return 'truncated IPv6 extension header';
  return { ethertype, l3, l4: at, proto };
}

/** A GSO packet's headers: the L4 location and how many header bytes each segment repeats. */
export interface GsoHeaders extends L4Location {
  hdrLen: number;
}

/**
 * Whether a GSO packet carries the headers its GSO type promises (IPv4 or IPv6 matching the
 * type, then a whole TCP header, inside the frame); a string says what is wrong.
 */
export function gsoHeaders(frame: Uint8Array, gsoType: number): GsoHeaders | string {
  const loc = locateL4(frame);
  if (typeof loc === 'string') {
    return loc.startsWith('ethertype') ? `${loc} for a TCPv${gsoType === XEN_NETIF_GSO_TYPE_TCPV4 ? 4 : 6} GSO packet` : loc;
  }
  const want = gsoType === XEN_NETIF_GSO_TYPE_TCPV4 ? ETH_P_IP : ETH_P_IPV6;
  const v = gsoType === XEN_NETIF_GSO_TYPE_TCPV4 ? 4 : 6;
  if (loc.ethertype !== want) return `ethertype 0x${loc.ethertype.toString(16)} for a TCPv${v} GSO packet`;
  if (loc.proto !== IPPROTO_TCP) return `${v === 4 ? 'IPv4 protocol' : 'IPv6 next header'} ${loc.proto} is not TCP`;
  if (frame.length < loc.l4 + 20) return 'truncated TCP header';
  const doff = (frame[loc.l4 + 12]! >> 4) * 4;
  if (doff < 20 || frame.length < loc.l4 + doff) return 'bad TCP header length';
  return { ...loc, hdrLen: loc.l4 + doff };
}

/**
 * The virtio_net_hdr for a frame the guest sent (netif tx flags, its GSO extra if any, whose
 * headers `gso` has already checked); undefined for a frame that needs nothing; a string when a
 * checksum was left blank where no checksum can be (netback's "Can't setup checksum").
 */
export function txVnetHdr(frame: Uint8Array, flags: number, gso: { size: number; type: number; headers: GsoHeaders } | null):
  VirtioNetHdr | undefined | string {
  if (gso) {
    const h = gso.headers;
    // A GSO packet is always partial; a frontend that did not say so left a full checksum (or
    // none) in the field, so the pseudo-header sum is written over it (recalculate_partial_csum).
    if (!(flags & NETTXF_csum_blank)) writePseudoHeaderSum(frame, h.l3, h.l4, h.ethertype === ETH_P_IPV6, IPPROTO_TCP, h.l4 + TCP_CSUM_OFFSET);
    return {
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType: gso.type === XEN_NETIF_GSO_TYPE_TCPV4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
      hdrLen: h.hdrLen, gsoSize: gso.size, csumStart: h.l4, csumOffset: TCP_CSUM_OFFSET,
    };
  }
  if (flags & NETTXF_csum_blank) {
    const loc = locateL4(frame);
    if (typeof loc === 'string') return `cannot set up a blank checksum: ${loc}`;
    const offset = loc.proto === IPPROTO_TCP ? TCP_CSUM_OFFSET : loc.proto === IPPROTO_UDP ? UDP_CSUM_OFFSET : -1;
    if (offset < 0) return `cannot set up a blank checksum: L4 protocol ${loc.proto}`;
    if (frame.length < loc.l4 + offset + 2) return 'cannot set up a blank checksum: truncated L4 header';
    return { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0,
      csumStart: loc.l4, csumOffset: offset };
  }
  if (flags & NETTXF_data_validated) return DATA_VALID_HDR;
  return undefined;
}

/** The header of a verified frame: shared, as most of a guest's TCP frames carry it. */
const DATA_VALID_HDR: Readonly<VirtioNetHdr> = Object.freeze({
  flags: VIRTIO_NET_HDR_F_DATA_VALID, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0,
  csumOffset: 0,
});

/** What the frontend negotiated for frames towards it (netback's vif->can_sg, gso_mask, ip_csum, ipv6_csum). */
export interface RxFeatures {
  sg: boolean;
  gsoTcpv4: boolean;
  gsoTcpv6: boolean;
  ipCsum: boolean;
  ipv6Csum: boolean;
}

export const NO_RX_FEATURES: Readonly<RxFeatures> = Object.freeze({
  sg: false, gsoTcpv4: false, gsoTcpv6: false, ipCsum: false, ipv6Csum: false,
});

/** How a frame from the peer goes on the rx ring: first-slot flags and the GSO extra, if any. */
export interface RxOffload {
  flags: number;
  gso: { size: number; type: number } | null;
  /** The checksum is partial but the frontend cannot take that: finish it first. */
  finishCsum: { start: number; offset: number } | null;
}

/** Maps a virtio_net_hdr from the peer onto netif rx; a string says why the frame cannot go. */
export function rxOffload(hdr: VirtioNetHdr, frame: Uint8Array, features: RxFeatures): RxOffload | string {
  let gso: RxOffload['gso'] = null;
  const gsoType = hdr.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  if (gsoType !== VIRTIO_NET_HDR_GSO_NONE) {
    if (gsoType === VIRTIO_NET_HDR_GSO_TCPV4 && features.gsoTcpv4) gso = { size: hdr.gsoSize, type: XEN_NETIF_GSO_TYPE_TCPV4 };
    else if (gsoType === VIRTIO_NET_HDR_GSO_TCPV6 && features.gsoTcpv6) gso = { size: hdr.gsoSize, type: XEN_NETIF_GSO_TYPE_TCPV6 };
    else return `GSO type ${hdr.gsoType} the frontend did not negotiate`;
    if (hdr.gsoSize === 0) return 'GSO frame with a zero gso_size';
  }
  if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    const ipv6 = frame.length >= ETH_HLEN && ((frame[12]! << 8) | frame[13]!) === ETH_P_IPV6;
    if (gso || (ipv6 ? features.ipv6Csum : features.ipCsum)) {
      return { flags: NETRXF_csum_blank | NETRXF_data_validated, gso, finishCsum: null };
    }
    return { flags: NETRXF_data_validated, gso, finishCsum: { start: hdr.csumStart, offset: hdr.csumOffset } };
  }
  return { flags: hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID ? NETRXF_data_validated : 0, gso, finishCsum: null };
}
