// The guest's transport layer on top of its NetStack: the pseudo-header checksum shared by UDP
// and TCP, a UDP echo service (RFC 862: every datagram to the port comes back), and the demux
// that hands TCP segments to the TCP endpoint (tcp.ts). Incoming checksums are verified unless
// the backend said the data was validated; outgoing ones are always filled in.

import { IPPROTO_TCP, IPPROTO_UDP, onesSum, type Ipv4, type Ipv4Packet, type Mac } from './packet.js';
import type { NetStack } from './stack.js';
import { TcpEndpoint } from './tcp-endpoint.js';

export const UDP_HLEN = 8;
/** RFC 862's port (UDP and TCP echo). */
export const ECHO_PORT = 7;
/** RFC 863's port (TCP discard). */
export const DISCARD_PORT = 9;

/** One's-complement sum of the IPv4 pseudo-header (src, dst, zero, protocol, length). */
function pseudoSum(src: Ipv4, dst: Ipv4, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** The L4 checksum of `segment` (its checksum field included as it is): 0 when it is right. */
export function l4Checksum(src: Ipv4, dst: Ipv4, protocol: number, segment: Uint8Array): number {
  return ~fold(onesSum(segment, 0, segment.length, pseudoSum(src, dst, protocol, segment.length))) & 0xffff;
}

/**
 * What a partial checksum leaves in the field (CHECKSUM_PARTIAL): the pseudo-header sum, folded
 * but not complemented; whoever finishes it adds the segment and complements.
 */
export function l4PartialChecksum(src: Ipv4, dst: Ipv4, protocol: number, length: number): number {
  return fold(pseudoSum(src, dst, protocol, length));
}

export function encodeUdp(src: Ipv4, dst: Ipv4, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(UDP_HLEN + payload.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, out.length);
  out.set(payload, UDP_HLEN);
  const sum = l4Checksum(src, dst, IPPROTO_UDP, out);
  v.setUint16(6, sum === 0 ? 0xffff : sum);
  return out;
}

export interface TransportCounters {
  udpIn: number;
  udpEchoed: number;
  badChecksums: number;
  /** UDP datagrams to a port nobody serves. */
  udpUnserved: number;
}

/**
 * Attaches UDP echo and a TCP endpoint to a stack (replacing any earlier transport); the TCP
 * endpoint serves echo (7) and discard (9), and more ports with `tcp.listen`.
 */
export class GuestTransport {
  readonly tcp: TcpEndpoint;
  readonly counters: TransportCounters = { udpIn: 0, udpEchoed: 0, badChecksums: 0, udpUnserved: 0 };
  private readonly udpPorts = new Set<number>([ECHO_PORT]);

  constructor(private readonly stack: NetStack, opts: { udpEchoPorts?: number[] } = {}) {
    if (opts.udpEchoPorts) {
      this.udpPorts.clear();
      for (const p of opts.udpEchoPorts) this.udpPorts.add(p);
    }
    this.tcp = new TcpEndpoint(stack);
    this.tcp.listen(ECHO_PORT, (c) => {
      // write() keeps what it is given; the data is only lent.
      c.onData = (d) => c.write(d.slice());
      c.onEnd = () => c.end();
    });
    this.tcp.listen(DISCARD_PORT, (c) => {
      c.onEnd = () => c.end();
    });
    stack.transport = (ip, srcMac, verified) => this.receive(ip, srcMac, verified);
    stack.onWritable = () => this.tcp.writable();
  }

  close(): void {
    this.tcp.close();
    this.stack.transport = null;
    this.stack.onWritable = null;
  }

  private receive(ip: Ipv4Packet, srcMac: Mac, verified: boolean): boolean {
    if (ip.protocol === IPPROTO_TCP) {
      if (!verified && l4Checksum(ip.src, ip.dst, IPPROTO_TCP, ip.payload) !== 0) {
        this.counters.badChecksums++;
        return true;
      }
      this.tcp.receive(ip.src, srcMac, ip.payload);
      return true;
    }
    if (ip.protocol === IPPROTO_UDP) return this.onUdp(ip, srcMac, verified);
    return false;
  }

  private onUdp(ip: Ipv4Packet, srcMac: Mac, verified: boolean): boolean {
    const b = ip.payload;
    if (b.length < UDP_HLEN) return false;
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    const len = v.getUint16(4);
    if (len < UDP_HLEN || len > b.length) return false;
    const dgram = b.subarray(0, len);
    if (!verified && v.getUint16(6) !== 0 && l4Checksum(ip.src, ip.dst, IPPROTO_UDP, dgram) !== 0) {
      this.counters.badChecksums++;
      return true;
    }
    this.counters.udpIn++;
    const srcPort = v.getUint16(0);
    const dstPort = v.getUint16(2);
    if (!this.udpPorts.has(dstPort)) {
      this.counters.udpUnserved++;
      return false;
    }
    const reply = encodeUdp(ip.dst, ip.src, dstPort, srcPort, dgram.subarray(UDP_HLEN));
    if (this.stack.sendIpv4(srcMac, ip.src, IPPROTO_UDP, reply)) this.counters.udpEchoed++;
    return true;
  }
}
