// TCP's wire format as the guest's endpoint (tcp.ts) reads and writes it: the header flags,
// sequence-space comparisons, and the options it understands — MSS, window scale (RFC 7323),
// SACK-permitted and SACK blocks (RFC 2018). Anything else in the options is skipped.

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
/** A TCP header without options. */
export const HLEN = 20;

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
/** RFC 7323 §2.3: a larger shift is taken as 14. */
export const MAX_WSCALE = 14;
/** Without timestamps, 4 blocks (34 bytes) fit in the 40 bytes of options. */
export const MAX_SACK_BLOCKS = 4;

/** Sequence-space comparisons modulo 2^32. */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqMax = (a: number, b: number): number => (seqLt(a, b) ? b : a);
/** a + n in sequence space. */
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
/** b - a in sequence space (b at or after a). */
export const seqDiff = (b: number, a: number): number => (b - a) >>> 0;

/** A half-open sequence range [start, end). */
export type SeqRange = readonly [start: number, end: number];

export interface Segment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  /** As on the wire: the sender's window scale is applied by whoever knows it. */
  window: number;
  mss: number | null;
  wscale: number | null;
  sackPermitted: boolean;
  /** The SACK blocks, or null without any. */
  sack: SeqRange[] | null;
  payload: Uint8Array;
}

export function decodeSegment(b: Uint8Array): Segment | null {
  if (b.length < HLEN) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const off = (b[12]! >> 4) * 4;
  if (off < HLEN || off > b.length) return null;
  let mss: number | null = null;
  let wscale: number | null = null;
  let sackPermitted = false;
  let sack: SeqRange[] | null = null;
  for (let i = HLEN; i < off;) {
    const kind = b[i]!;
    if (kind === OPT_END) break;
    if (kind === OPT_NOP) { i++; continue; }
    const len = b[i + 1] ?? 0;
    if (len < 2 || i + len > off) break;
    if (kind === OPT_MSS && len === 4) mss = v.getUint16(i + 2);
    else if (kind === OPT_WSCALE && len === 3) wscale = Math.min(b[i + 2]!, MAX_WSCALE);
    else if (kind === OPT_SACK_PERMITTED && len === 2) sackPermitted = true;
    else if (kind === OPT_SACK && len >= 10 && (len - 2) % 8 === 0) {
      sack = [];
      for (let j = i + 2; j < i + len; j += 8) sack.push([v.getUint32(j), v.getUint32(j + 4)]);
    }
    i += len;
  }
  return {
    srcPort: v.getUint16(0), dstPort: v.getUint16(2), seq: v.getUint32(4), ack: v.getUint32(8),
    flags: b[13]! & 0x3f, window: v.getUint16(14), mss, wscale, sackPermitted, sack, payload: b.subarray(off),
  };
}

/** A SYN-ACK's options: our MSS, and window scale and SACK-permitted when the peer offered them. */
export function synOptions(mss: number, wscale: number | null, sackPermitted: boolean): Uint8Array {
  const o = [OPT_MSS, 4, mss >> 8, mss & 0xff];
  if (wscale !== null) o.push(OPT_NOP, OPT_WSCALE, 3, wscale);
  if (sackPermitted) o.push(OPT_NOP, OPT_NOP, OPT_SACK_PERMITTED, 2);
  return Uint8Array.from(o);
}

const NO_OPTIONS = new Uint8Array(0);

/** An ACK's SACK option for up to MAX_SACK_BLOCKS blocks (none: no option). */
export function sackOption(blocks: readonly SeqRange[]): Uint8Array {
  if (blocks.length === 0) return NO_OPTIONS;
  const n = Math.min(blocks.length, MAX_SACK_BLOCKS);
  const o = new Uint8Array(4 + 8 * n);
  const v = new DataView(o.buffer);
  o[0] = OPT_NOP;
  o[1] = OPT_NOP;
  o[2] = OPT_SACK;
  o[3] = 2 + 8 * n;
  for (let i = 0; i < n; i++) {
    v.setUint32(4 + 8 * i, blocks[i]![0]);
    v.setUint32(8 + 8 * i, blocks[i]![1]);
  }
  return o;
}
