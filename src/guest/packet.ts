// Ethernet II, ARP (Ethernet/IPv4 only), IPv4 and ICMP for the simulated guest's stack, and the
// Internet checksum (RFC 1071).
//
// Encoders are pure and return fresh bytes (Ethernet and IPv4 ones carved from a slab, each
// packet its own view: see common/frame-slab.ts). Decoders never throw and never copy: they return
// views into the input, or an error with a stable code. IPv4 addresses are u32 numbers in host
// order (10.1.0.2 = 0x0a010002) so they compare with === and key maps.

import { FrameSlab } from '../common/frame-slab.js';

export type Mac = Uint8Array;
export type Ipv4 = number;

export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
export const ARP_LEN = 28;

export const IPV4_MIN_HLEN = 20;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
const IPV4_OFFSET_MASK = 0x1fff;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_HLEN = 8;

export const BROADCAST_MAC: Mac = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
export const ZERO_MAC: Mac = new Uint8Array(6);

export type PacketErrorCode =
  | 'ETH_TRUNCATED'
  | 'ARP_TRUNCATED'
  | 'ARP_UNSUPPORTED'
  | 'IPV4_TRUNCATED'
  | 'IPV4_VERSION'
  | 'IPV4_HEADER_LENGTH'
  | 'IPV4_TOTAL_LENGTH'
  | 'IPV4_CHECKSUM'
  | 'ICMP_TRUNCATED'
  | 'ICMP_CHECKSUM';

export type Decoded<T> =
  | { ok: true; value: T }
  | { ok: false; code: PacketErrorCode; message: string };

function fail<T>(code: PacketErrorCode, message: string): Decoded<T> {
  return { ok: false, code, message };
}

// --- addresses

/** Parses `aa:bb:cc:dd:ee:ff` (xenstore's `mac` form; `-` accepted too). */
export function parseMac(text: string): Mac | null {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function formatMac(mac: Mac): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macEquals(a: Mac, b: Mac): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Group bit set: broadcast and multicast destinations. */
export function isGroupMac(mac: Mac): boolean {
  return (mac[0]! & 1) === 1;
}

export function parseIpv4(text: string): Ipv4 | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
}

export function formatIpv4(ip: Ipv4): string {
  return [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join('.');
}

export function ipv4Mask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

function readIpv4(b: Uint8Array, at: number): Ipv4 {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function writeIpv4(b: Uint8Array, at: number, ip: Ipv4): void {
  b[at] = ip >>> 24;
  b[at + 1] = (ip >>> 16) & 0xff;
  b[at + 2] = (ip >>> 8) & 0xff;
  b[at + 3] = ip & 0xff;
}

function readU16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

// --- the Internet checksum

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Below this a word view costs more than it saves. */
const WORDWISE_MIN = 64;
/** Word sums are folded this often, so a double stays exact (2^32 * 2^16 < 2^53). */
const WORDS_PER_FOLD = 0x10000;

/**
 * One's-complement sum of 16-bit big-endian words (odd tail padded with zero), not yet folded
 * (equal, modulo 0xffff, to the plain sum). A TCP segment's checksum covers every payload byte,
 * so the bulk is summed as native 32-bit words: RFC 1071 §2 lets the sum be taken in either
 * byte order and swapped once at the end, and 2^16 ≡ 1 makes a 32-bit word the sum of its halves.
 */
export function onesSum(data: Uint8Array, start = 0, end = data.length, acc = 0): number {
  let i = start;
  // Word-wise only where the 16-bit pairing falls on even addresses, as the view's must.
  if (end - i >= WORDWISE_MIN && ((data.byteOffset + i) & 1) === 0) {
    for (; ((data.byteOffset + i) & 3) !== 0; i += 2) acc += (data[i]! << 8) | data[i + 1]!;
    const count = (end - i) >>> 2;
    const words = new Uint32Array(data.buffer, data.byteOffset + i, count);
    let native = 0;
    for (let k = 0; k < count; k += WORDS_PER_FOLD) {
      let s = 0;
      const stop = Math.min(count, k + WORDS_PER_FOLD);
      for (let j = k; j < stop; j++) s += words[j]!;
      native = fold(native + s);
    }
    acc += LITTLE_ENDIAN ? ((native & 0xff) << 8) | (native >>> 8) : native;
    i += count * 4;
  }
  for (; i + 1 < end; i += 2) acc += (data[i]! << 8) | data[i + 1]!;
  if (i < end) acc += data[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** RFC 1071: the value to store in a checksum field; over data that includes a correct one it is 0. */
export function internetChecksum(data: Uint8Array, start = 0, end = data.length): number {
  return ~fold(onesSum(data, start, end)) & 0xffff;
}

// --- Ethernet

export interface EthernetFrame {
  dst: Mac;
  src: Mac;
  etherType: number;
  payload: Uint8Array;
}

/**
 * Encoded packets are carved from a slab: a fresh buffer per packet above 64 bytes is an
 * off-heap allocation costing more than the encoding (each is still its own view).
 */
const packets = new FrameSlab();

/** An Ethernet header at the start of `out`; every byte written. */
export function writeEthernetHeader(out: Uint8Array, dst: Mac, src: Mac, etherType: number): void {
  out.set(dst.subarray(0, 6), 0);
  out.set(src.subarray(0, 6), 6);
  writeU16(out, 12, etherType);
}

export function encodeEthernet(f: EthernetFrame): Uint8Array {
  const out = packets.alloc(ETH_HLEN + f.payload.length);
  out.set(f.dst.subarray(0, 6), 0);
  out.set(f.src.subarray(0, 6), 6);
  writeU16(out, 12, f.etherType);
  out.set(f.payload, ETH_HLEN);
  return out;
}

export function decodeEthernet(frame: Uint8Array): Decoded<EthernetFrame> {
  if (frame.length < ETH_HLEN) return fail('ETH_TRUNCATED', `frame of ${frame.length} bytes is shorter than an Ethernet header`);
  return {
    ok: true,
    value: {
      dst: frame.subarray(0, 6),
      src: frame.subarray(6, 12),
      etherType: readU16(frame, 12),
      payload: frame.subarray(ETH_HLEN),
    },
  };
}

// --- ARP

export interface ArpPacket {
  op: number;
  senderMac: Mac;
  senderIp: Ipv4;
  targetMac: Mac;
  targetIp: Ipv4;
}

export function encodeArp(p: ArpPacket): Uint8Array {
  const out = new Uint8Array(ARP_LEN);
  writeU16(out, 0, ARP_HTYPE_ETHERNET);
  writeU16(out, 2, ETHERTYPE_IPV4);
  out[4] = ETH_ALEN;
  out[5] = 4;
  writeU16(out, 6, p.op);
  out.set(p.senderMac.subarray(0, 6), 8);
  writeIpv4(out, 14, p.senderIp);
  out.set(p.targetMac.subarray(0, 6), 18);
  writeIpv4(out, 24, p.targetIp);
  return out;
}

/** Trailing bytes (Ethernet padding to 60) are ignored. */
export function decodeArp(b: Uint8Array): Decoded<ArpPacket> {
  if (b.length < ARP_LEN) return fail('ARP_TRUNCATED', `ARP packet of ${b.length} bytes, need ${ARP_LEN}`);
  const htype = readU16(b, 0);
  const ptype = readU16(b, 2);
  if (htype !== ARP_HTYPE_ETHERNET || ptype !== ETHERTYPE_IPV4 || b[4] !== ETH_ALEN || b[5] !== 4) {
    return fail('ARP_UNSUPPORTED', `ARP for hardware ${htype}/${b[4]} protocol 0x${ptype.toString(16)}/${b[5]}`);
  }
  return {
    ok: true,
    value: {
      op: readU16(b, 6),
      senderMac: b.subarray(8, 14),
      senderIp: readIpv4(b, 14),
      targetMac: b.subarray(18, 24),
      targetIp: readIpv4(b, 24),
    },
  };
}

// --- IPv4

export interface Ipv4Packet {
  tos: number;
  id: number;
  /** The DF and MF bits as they sit in the flags/offset word. */
  flags: number;
  /** In 8-byte units, as on the wire. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: Ipv4;
  dst: Ipv4;
  options: Uint8Array;
  payload: Uint8Array;
}

export interface Ipv4Fields {
  tos?: number;
  id?: number;
  flags?: number;
  ttl?: number;
  protocol: number;
  src: Ipv4;
  dst: Ipv4;
  payload: Uint8Array;
}

export function encodeIpv4(p: Ipv4Fields): Uint8Array {
  const out = packets.alloc(IPV4_MIN_HLEN + p.payload.length);
  writeIpv4Header(out, 0, p, p.payload.length);
  out.set(p.payload, IPV4_MIN_HLEN);
  return out;
}

/** An IPv4 header without options at `out[at..at + 20)`, for `payloadLength` bytes after it; every byte written. */
export function writeIpv4Header(out: Uint8Array, at: number, p: Omit<Ipv4Fields, 'payload'>, payloadLength: number): void {
  const total = IPV4_MIN_HLEN + payloadLength;
  if (total > 0xffff) throw new RangeError(`IPv4 packet of ${total} bytes exceeds 65535`);
  out[at] = 0x45;
  out[at + 1] = p.tos ?? 0;
  writeU16(out, at + 2, total);
  writeU16(out, at + 4, p.id ?? 0);
  writeU16(out, at + 6, (p.flags ?? IPV4_FLAG_DF) & ~IPV4_OFFSET_MASK);
  out[at + 8] = p.ttl ?? 64;
  out[at + 9] = p.protocol;
  writeU16(out, at + 10, 0);
  writeIpv4(out, at + 12, p.src);
  writeIpv4(out, at + 16, p.dst);
  writeU16(out, at + 10, internetChecksum(out, at, at + IPV4_MIN_HLEN));
}

/** Bytes past the total length (Ethernet padding) are not part of the payload. */
export function decodeIpv4(b: Uint8Array, opts: { verifyChecksum?: boolean } = {}): Decoded<Ipv4Packet> {
  if (b.length < IPV4_MIN_HLEN) return fail('IPV4_TRUNCATED', `IPv4 packet of ${b.length} bytes`);
  const version = b[0]! >> 4;
  if (version !== 4) return fail('IPV4_VERSION', `IP version ${version}`);
  const hlen = (b[0]! & 0x0f) * 4;
  if (hlen < IPV4_MIN_HLEN || hlen > b.length) return fail('IPV4_HEADER_LENGTH', `IPv4 header length ${hlen} in ${b.length} bytes`);
  const total = readU16(b, 2);
  if (total < hlen || total > b.length) return fail('IPV4_TOTAL_LENGTH', `IPv4 total length ${total} in ${b.length} bytes`);
  if ((opts.verifyChecksum ?? true) && internetChecksum(b, 0, hlen) !== 0) {
    return fail('IPV4_CHECKSUM', `IPv4 header checksum 0x${readU16(b, 10).toString(16)} is wrong`);
  }
  const flagsOffset = readU16(b, 6);
  return {
    ok: true,
    value: {
      tos: b[1]!,
      id: readU16(b, 4),
      flags: flagsOffset & (IPV4_FLAG_DF | IPV4_FLAG_MF),
      fragmentOffset: flagsOffset & IPV4_OFFSET_MASK,
      ttl: b[8]!,
      protocol: b[9]!,
      src: readIpv4(b, 12),
      dst: readIpv4(b, 16),
      options: b.subarray(IPV4_MIN_HLEN, hlen),
      payload: b.subarray(hlen, total),
    },
  };
}

// --- ICMP

export interface IcmpMessage {
  type: number;
  code: number;
  /** The 4 "rest of header" bytes; for echo they hold identifier and sequence number. */
  rest: number;
  payload: Uint8Array;
}

export interface IcmpEcho {
  type: typeof ICMP_ECHO_REQUEST | typeof ICMP_ECHO_REPLY;
  id: number;
  seq: number;
  payload: Uint8Array;
}

export function echoRest(id: number, seq: number): number {
  return (((id & 0xffff) << 16) | (seq & 0xffff)) >>> 0;
}

export function echoId(m: IcmpMessage): number {
  return m.rest >>> 16;
}

export function echoSeq(m: IcmpMessage): number {
  return m.rest & 0xffff;
}

export function encodeIcmp(m: IcmpMessage): Uint8Array {
  const out = new Uint8Array(ICMP_HLEN + m.payload.length);
  out[0] = m.type;
  out[1] = m.code;
  writeIpv4(out, 4, m.rest);
  out.set(m.payload, ICMP_HLEN);
  writeU16(out, 2, internetChecksum(out));
  return out;
}

export function encodeIcmpEcho(e: IcmpEcho): Uint8Array {
  return encodeIcmp({ type: e.type, code: 0, rest: echoRest(e.id, e.seq), payload: e.payload });
}

export function decodeIcmp(b: Uint8Array, opts: { verifyChecksum?: boolean } = {}): Decoded<IcmpMessage> {
  if (b.length < ICMP_HLEN) return fail('ICMP_TRUNCATED', `ICMP message of ${b.length} bytes`);
  if ((opts.verifyChecksum ?? true) && internetChecksum(b) !== 0) {
    return fail('ICMP_CHECKSUM', `ICMP checksum 0x${readU16(b, 2).toString(16)} is wrong`);
  }
  return { ok: true, value: { type: b[0]!, code: b[1]!, rest: readIpv4(b, 4), payload: b.subarray(ICMP_HLEN) } };
}

// --- whole frames, as the stack sends them

export function arpFrame(src: Mac, dst: Mac, arp: ArpPacket): Uint8Array {
  return encodeEthernet({ dst, src, etherType: ETHERTYPE_ARP, payload: encodeArp(arp) });
}

export function ipv4Frame(src: Mac, dst: Mac, ip: Ipv4Fields): Uint8Array {
  return encodeEthernet({ dst, src, etherType: ETHERTYPE_IPV4, payload: encodeIpv4(ip) });
}
