// The flow hash both ends of a multi-queue vif steer by, after Linux's skb_get_hash(): the flow
// dissector's keys (L3 addresses, L4 ports for TCP/UDP/SCTP/UDP-Lite on unfragmented packets,
// the protocol) put in a canonical order so that both directions of a flow hash alike
// (__flow_hash_consistentify), then Bob Jenkins' jhash2 over them. Linux seeds jhash randomly at
// boot; a fixed seed keeps steering reproducible here, which is all a queue choice needs.
// Anything the dissector cannot read (ARP, truncated headers) hashes to 0.

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;
const PORTED = new Set([6, 17, 132, 136]); // TCP, UDP, SCTP, UDP-Lite
const SEED = 0x5f3759df;

function rol32(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** jhash2 (include/linux/jhash.h) over 32-bit words. */
export function jhash2(words: readonly number[], initval: number): number {
  let a = (0xdeadbeef + (words.length << 2) + initval) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  let n = words.length;
  while (n > 3) {
    a = (a + words[i]!) >>> 0; b = (b + words[i + 1]!) >>> 0; c = (c + words[i + 2]!) >>> 0;
    // __jhash_mix
    a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
    i += 3;
    n -= 3;
  }
  if (n === 0) return c;
  if (n >= 3) c = (c + words[i + 2]!) >>> 0;
  if (n >= 2) b = (b + words[i + 1]!) >>> 0;
  a = (a + words[i]!) >>> 0;
  // __jhash_final
  c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  return c;
}

function u32(f: Uint8Array, at: number): number {
  return ((f[at]! << 24) | (f[at + 1]! << 16) | (f[at + 2]! << 8) | f[at + 3]!) >>> 0;
}

function compareWords(x: number[], y: number[]): number {
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}

/** The flow hash of an Ethernet frame: the same for both directions of one L4 flow. */
export function flowHash(frame: Uint8Array): number {
  let at = 12;
  if (frame.length < at + 2) return 0;
  let proto = (frame[at]! << 8) | frame[at + 1]!;
  while ((proto === ETH_P_8021Q || proto === ETH_P_8021AD) && frame.length >= at + 6) {
    at += 4;
    proto = (frame[at]! << 8) | frame[at + 1]!;
  }
  at += 2;
  let src: number[];
  let dst: number[];
  let l4: number;
  let l4At: number;
  let fragment = false;
  if (proto === ETH_P_IP) {
    if (frame.length < at + 20) return 0;
    const ihl = (frame[at]! & 0x0f) * 4;
    l4 = frame[at + 9]!;
    fragment = (((frame[at + 6]! << 8) | frame[at + 7]!) & 0x3fff) !== 0; // MF or an offset
    src = [u32(frame, at + 12)];
    dst = [u32(frame, at + 16)];
    l4At = at + ihl;
  } else if (proto === ETH_P_IPV6) {
    if (frame.length < at + 40) return 0;
    l4 = frame[at + 6]!;
    src = [0, 4, 8, 12].map((o) => u32(frame, at + 8 + o));
    dst = [0, 4, 8, 12].map((o) => u32(frame, at + 24 + o));
    l4At = at + 40;
  } else {
    return 0;
  }
  let sport = 0;
  let dport = 0;
  if (PORTED.has(l4) && !fragment && frame.length >= l4At + 4) {
    sport = (frame[l4At]! << 8) | frame[l4At + 1]!;
    dport = (frame[l4At + 2]! << 8) | frame[l4At + 3]!;
  }
  // One order for both directions: the lower address first, its port with it.
  const order = compareWords(src, dst);
  if (order > 0 || (order === 0 && sport > dport)) {
    [src, dst] = [dst, src];
    [sport, dport] = [dport, sport];
  }
  return jhash2([...src, ...dst, ((sport << 16) | dport) >>> 0, (proto << 16 | l4) >>> 0], SEED);
}

/** Netback's choice (netdev_pick_tx → skb_tx_hash): the hash scaled onto the queues. */
export function reciprocalScale(hash: number, queues: number): number {
  return Math.floor((hash * queues) / 2 ** 32);
}
