// A scripted TCP peer for the guest's TCP endpoint: it builds segments (with MSS, window
// scale, SACK-permitted and SACK options as a kernel would send them), hands them to the
// endpoint, and decodes what the endpoint sends back from the frames its stack put on a
// capturing link. Its decoding is its own, so a test does not take the endpoint's word for
// what went on the wire.

import { expect } from 'chai';
import { decodeEthernet, decodeIpv4, IPPROTO_TCP, parseIpv4, parseMac, type Ipv4 } from '../../src/guest/packet.js';
import { NetStack, type LinkSendOptions, type StackLink, vifAddress } from '../../src/guest/stack.js';
import type { TcpEndpoint } from '../../src/guest/tcp-endpoint.js';
import type { Segment } from '../../src/guest/tcp-segment.js';
import { GuestTransport, l4Checksum } from '../../src/guest/transport.js';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

const GUEST_MAC = '00:16:3e:07:00:02';
export const HOST_MAC = parseMac('fe:ff:ff:ff:ff:ff')!;
export const HOST_IP: Ipv4 = parseIpv4('10.7.0.1')!;
export const GUEST_IP: Ipv4 = parseIpv4('10.7.0.2')!;

/** A segment the guest sent, as decoded, with how the link was asked to send it. */
export interface SentSegment extends Omit<Segment, 'sack'> {
  /** [start, end) pairs in the order the segment lists them. */
  sack: Array<[number, number]>;
  link: LinkSendOptions | undefined;
}

class CaptureLink implements StackLink {
  mac: string | null = GUEST_MAC;
  sent: Array<{ frame: Uint8Array; opts: LinkSendOptions | undefined }> = [];
  gso = false;
  /** False: the link refuses frames, as a full ring does. */
  accept = true;
  send(frame: Uint8Array, opts?: LinkSendOptions): boolean {
    if (!this.accept) return false;
    this.sent.push({ frame: Uint8Array.from(frame), opts });
    return true;
  }
  gsoAvailable(): boolean {
    return this.gso;
  }
}

export function decodeSent(frame: Uint8Array, link?: LinkSendOptions): SentSegment {
  const eth = decodeEthernet(frame);
  if (!eth.ok) throw new Error(eth.message);
  const ip = decodeIpv4(eth.value.payload);
  if (!ip.ok) throw new Error(ip.message);
  expect(ip.value.protocol).to.equal(IPPROTO_TCP);
  const b = ip.value.payload;
  if (!link?.csumBlank) expect(l4Checksum(ip.value.src, ip.value.dst, IPPROTO_TCP, b), 'tcp checksum').to.equal(0);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const off = (b[12]! >> 4) * 4;
  const out: SentSegment = {
    srcPort: v.getUint16(0), dstPort: v.getUint16(2), seq: v.getUint32(4), ack: v.getUint32(8), flags: b[13]! & 0x3f,
    window: v.getUint16(14), mss: null, wscale: null, sackPermitted: false, sack: [], payload: b.subarray(off), link,
  };
  for (let i = 20; i < off;) {
    const kind = b[i]!;
    if (kind === 0) break;
    if (kind === 1) { i++; continue; }
    const len = b[i + 1]!;
    if (kind === 2) out.mss = v.getUint16(i + 2);
    if (kind === 3) out.wscale = b[i + 2]!;
    if (kind === 4) out.sackPermitted = true;
    if (kind === 5) for (let j = i + 2; j < i + len; j += 8) out.sack.push([v.getUint32(j), v.getUint32(j + 4)]);
    i += len;
  }
  return out;
}

export interface PeerSegment {
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  payload?: Uint8Array;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  sack?: Array<[number, number]>;
}

function encode(srcPort: number, dstPort: number, s: PeerSegment): Uint8Array {
  const opts: number[] = [];
  if (s.mss !== undefined) opts.push(2, 4, s.mss >> 8, s.mss & 0xff);
  if (s.sackPermitted) opts.push(4, 2);
  if (s.wscale !== undefined) opts.push(1, 3, 3, s.wscale);
  if (s.sack?.length) {
    opts.push(1, 1, 5, 2 + 8 * s.sack.length);
    for (const [a, b] of s.sack) for (const x of [a, b]) opts.push(x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);
  }
  while (opts.length % 4) opts.push(0);
  const payload = s.payload ?? new Uint8Array(0);
  const hlen = 20 + opts.length;
  const out = new Uint8Array(hlen + payload.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, (s.ack ?? 0) >>> 0);
  out[12] = (hlen / 4) << 4;
  out[13] = s.flags;
  v.setUint16(14, s.window ?? 65535);
  out.set(opts, 20);
  out.set(payload, hlen);
  v.setUint16(16, l4Checksum(HOST_IP, GUEST_IP, IPPROTO_TCP, out));
  return out;
}

/** One endpoint on a capturing stack, and a peer at 10.7.0.1 talking to it. */
export class TcpRig {
  readonly link = new CaptureLink();
  readonly stack = new NetStack(this.link, vifAddress(7, 0)!);
  /** The endpoint as the guest wires it (GuestTransport): segments are handed to it directly. */
  readonly tcp: TcpEndpoint = new GuestTransport(this.stack).tcp;
  private read = 0;

  constructor(readonly peerPort = 40000, readonly guestPort = 5001) {
    this.tcp.gso = false;
  }

  /** Sends one segment from the peer to the guest. */
  send(s: PeerSegment, from = this.peerPort): void {
    this.tcp.receive(HOST_IP, HOST_MAC, encode(from, this.guestPort, s));
  }

  /** Everything the guest sent since the last call. */
  take(): SentSegment[] {
    const out = this.link.sent.slice(this.read).map((f) => decodeSent(f.frame, f.opts));
    this.read = this.link.sent.length;
    return out;
  }
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
