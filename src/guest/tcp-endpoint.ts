// The guest's TCP endpoint (the connections themselves are tcp.ts): listening ports, the
// connections keyed by the remote end — closed ones too while they linger in TIME_WAIT or after
// LAST_ACK, so that their late segments reach them instead of drawing an RST — and RFC 793's
// reset for a segment that belongs to no connection.

import { IPPROTO_TCP, type Ipv4, type Mac } from './packet.js';
import type { NetStack } from './stack.js';
import { TcpConnection, TIME_WAIT_MS, type TcpConfig } from './tcp.js';
import { ACK, decodeSegment, FIN, HLEN, RST, SYN, type Segment } from './tcp-segment.js';
import { l4Checksum } from './transport.js';

/** The guest's TCP: listening ports and their connections, keyed by the remote end. */
export class TcpEndpoint implements TcpConfig {
  private readonly listeners = new Map<number, (c: TcpConnection) => void>();
  private readonly conns = new Map<string, TcpConnection>();
  resets = 0;
  /** Send with GSO and partial checksums when the link has them; off, every segment is MSS-sized and checksummed. */
  gso = true;
  timeWaitMs = TIME_WAIT_MS;

  constructor(private readonly stack: NetStack) {}

  listen(port: number, onConnection: (c: TcpConnection) => void): void {
    this.listeners.set(port, onConnection);
  }

  /** Open connections, not counting closed ones that wait out TIME_WAIT or linger after LAST_ACK. */
  get connections(): number {
    let n = 0;
    for (const c of this.conns.values()) if (!c.lingering) n++;
    return n;
  }

  close(): void {
    for (const c of [...this.conns.values()]) c.abort();
    this.listeners.clear();
  }

  /** The link has room again. */
  writable(): void {
    for (const c of this.conns.values()) c.linkWritable();
  }

  /** One TCP segment for our address (checksum already checked), lent with the frame it came in. */
  receive(src: Ipv4, srcMac: Mac, bytes: Uint8Array): void {
    const seg = decodeSegment(bytes);
    if (!seg) return;
    const key = `${src}:${seg.srcPort}:${seg.dstPort}`;
    const conn = this.conns.get(key);
    if (conn && !((seg.flags & (SYN | ACK | RST)) === SYN && conn.supersededBy(seg))) return conn.receive(seg);
    conn?.abort();
    const accept = this.listeners.get(seg.dstPort);
    if (accept && (seg.flags & (SYN | ACK | RST)) === SYN) {
      const c = new TcpConnection(this.stack, src, Uint8Array.from(srcMac), seg.srcPort, seg.dstPort, seg, () => this.conns.delete(key), this);
      this.conns.set(key, c);
      accept(c);
      return;
    }
    if (!(seg.flags & RST)) this.reset(src, srcMac, seg);
  }

  /** RFC 793's reset for a segment that belongs to no connection. */
  private reset(src: Ipv4, srcMac: Mac, seg: Segment): void {
    this.resets++;
    const out = new Uint8Array(HLEN);
    const v = new DataView(out.buffer);
    v.setUint16(0, seg.dstPort);
    v.setUint16(2, seg.srcPort);
    const len = seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
    if (seg.flags & ACK) {
      v.setUint32(4, seg.ack);
      out[13] = RST;
    } else {
      v.setUint32(8, (seg.seq + len) >>> 0);
      out[13] = RST | ACK;
    }
    out[12] = (HLEN / 4) << 4;
    v.setUint16(16, l4Checksum(this.stack.address, src, IPPROTO_TCP, out));
    this.stack.sendIpv4(srcMac, src, IPPROTO_TCP, out);
  }
}
