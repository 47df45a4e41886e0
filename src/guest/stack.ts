// A minimal IPv4 stack for one simulated vif: ARP (answers for its address, keeps a small cache,
// announces itself with a gratuitous ARP) and ICMP echo (answers pings, and pings others for
// benchmarks). Anything else is counted and ignored, as a firewalled host would.
//
// The stack knows nothing of rings: it sends through a `StackLink` (a Netfront fits) and is fed
// frames through receive(). Vif N of guest D is 10.D.N.2/24; the host side is 10.D.N.1.

import {
  ARP_OP_REPLY, ARP_OP_REQUEST, arpFrame, BROADCAST_MAC, decodeArp, decodeEthernet, decodeIcmp, decodeIpv4,
  echoId, echoSeq, encodeIcmpEcho, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, formatIpv4, IPV4_MIN_HLEN, formatMac, ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST, IPPROTO_ICMP, ipv4Frame, ipv4Mask, type Ipv4, type Ipv4Packet, isGroupMac, type Mac, macEquals, parseIpv4,
  parseMac, writeEthernetHeader, writeIpv4Header, ZERO_MAC,
} from './packet.js';
import { defaultGuestLog, errorText, type GuestLog } from './xs.js';

/** How a frame's checksum stands and how the backend may segment it (Netfront's SendOptions). */
export interface LinkSendOptions {
  /** The L4 checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL). */
  csumBlank?: boolean;
  /** A GSO packet: MSS and XEN_NETIF_GSO_TYPE_*. */
  gso?: { size: number; type: number };
}

export interface StackLink {
  /** The vif's MAC as xenstore spells it; null until known. */
  readonly mac: string | null;
  /**
   * The frame is lent for the call only (sendIpv4Built reuses one buffer): a link that keeps a
   * frame beyond it copies it, as netfront does into its granted pages anyway.
   */
  send(frame: Uint8Array, opts?: LinkSendOptions): boolean;
  /** Whether GSO packets of this XEN_NETIF_GSO_TYPE_* can be sent now; links without it have none. */
  gsoAvailable?(type: number): boolean;
}

export interface StackConfig {
  address: Ipv4;
  prefixLength: number;
  /** Next hop for destinations outside the subnet. */
  gateway?: Ipv4;
  log?: GuestLog;
  /** Bounded like any neighbour table; the oldest entry goes first. */
  arpCacheSize?: number;
}

/** 10.<domid>.<devid>.2/24 with gateway .1, or null when domid or devid does not fit an octet. */
export function vifAddress(domid: number, devid: number): { address: Ipv4; prefixLength: number; gateway: Ipv4 } | null {
  if (domid < 0 || domid > 255 || devid < 0 || devid > 255) return null;
  const net = ((10 << 24) | (domid << 16) | (devid << 8)) >>> 0;
  return { address: (net | 2) >>> 0, prefixLength: 24, gateway: (net | 1) >>> 0 };
}

export type IgnoreReason =
  | 'not-for-us' | 'malformed' | 'unknown-ethertype' | 'arp-other' | 'ip-not-for-us' | 'ip-fragment'
  | 'ip-protocol' | 'icmp-type' | 'icmp-unmatched-reply' | 'address-conflict';

export interface StackCounters {
  framesIn: number;
  framesOut: number;
  /** Frames the link refused (ring full, not connected, no MAC yet). */
  sendFailures: number;
  arpRequestsIn: number;
  arpRepliesOut: number;
  arpRequestsOut: number;
  arpRepliesIn: number;
  echoRequestsIn: number;
  echoRepliesOut: number;
  echoRequestsOut: number;
  echoRepliesIn: number;
  ignored: number;
  ignoredBy: Partial<Record<IgnoreReason, number>>;
}

export interface PingOptions {
  count?: number;
  /** Per echo request, and for ARP resolution as a whole. */
  timeoutMs?: number;
  /** Pause between one reply (or timeout) and the next request. */
  intervalMs?: number;
  /** ICMP payload bytes (ping's -s), 56 by default. */
  size?: number;
}

export interface PingResult {
  target: string;
  sent: number;
  received: number;
  /** Round-trip times in milliseconds, null for a lost request. */
  rttsMs: Array<number | null>;
}

interface Waiter<T> {
  resolve(v: T): void;
  timer: NodeJS.Timeout;
}

export class NetStack {
  readonly address: Ipv4;
  readonly prefixLength: number;
  readonly gateway: Ipv4 | null;
  readonly counters: StackCounters = {
    framesIn: 0, framesOut: 0, sendFailures: 0, arpRequestsIn: 0, arpRepliesOut: 0, arpRequestsOut: 0,
    arpRepliesIn: 0, echoRequestsIn: 0, echoRepliesOut: 0, echoRequestsOut: 0, echoRepliesIn: 0, ignored: 0,
    ignoredBy: {},
  };

  /** UDP and TCP (transport.ts): takes a packet for us of another protocol, or declines it. */
  transport: ((ip: Ipv4Packet, srcMac: Mac, checksumVerified: boolean) => boolean) | null = null;
  /** Called when the link has room again: a sender it refused may try again now rather than on a timer. */
  onWritable: (() => void) | null = null;

  private readonly mask: number;
  /** The frame sendIpv4Built fills, reused: the link copies each frame before send returns. */
  private scratch = new Uint8Array(0);
  private readonly log: GuestLog;
  private readonly arpCacheSize: number;
  private readonly arpCache = new Map<Ipv4, Mac>();
  private readonly arpWaiters = new Map<Ipv4, Set<Waiter<Mac | null>>>();
  private readonly echoWaiters = new Map<string, Waiter<number | null> & { sentAt: number }>();
  private nextPingId = 1;
  private macText: string | null = null;
  private macBytes: Mac | null = null;
  private closed = false;

  constructor(private readonly link: StackLink, config: StackConfig) {
    this.address = config.address >>> 0;
    this.prefixLength = config.prefixLength;
    this.gateway = config.gateway ?? null;
    this.mask = ipv4Mask(config.prefixLength);
    this.log = config.log ?? defaultGuestLog;
    this.arpCacheSize = config.arpCacheSize ?? 64;
  }

  get addressText(): string {
    return `${formatIpv4(this.address)}/${this.prefixLength}`;
  }

  /** The neighbour table, for operators: ip → mac. */
  arpTable(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [ip, mac] of this.arpCache) out[formatIpv4(ip)] = formatMac(mac);
    return out;
  }

  /** The link came up (backend Connected): tell the segment who we are, as netdev_notify_peers. */
  announce(): boolean {
    const mac = this.ourMac();
    if (!mac) return false;
    return this.transmit(arpFrame(mac, BROADCAST_MAC, {
      op: ARP_OP_REQUEST, senderMac: mac, senderIp: this.address, targetMac: ZERO_MAC, targetIp: this.address,
    }), 'arp-request');
  }

  /** One received frame, lent for the call (what is kept is copied). Never throws: whatever cannot be handled is counted. */
  receive(frame: Uint8Array, opts: { checksumVerified?: boolean } = {}): void {
    if (this.closed) return;
    this.counters.framesIn++;
    try {
      this.dispatch(frame, opts.checksumVerified ?? false);
    } catch (err) {
      this.ignore('malformed');
      this.log(`stack ${formatIpv4(this.address)}: frame handling failed: ${errorText(err)}`);
    }
  }

  /** Resolves an on-link IPv4 address to a MAC (cache first), retrying the request 3 times. */
  async resolve(ip: Ipv4, timeoutMs = 1000): Promise<Mac | null> {
    const cached = this.arpCache.get(ip);
    if (cached) return cached;
    const tries = 3;
    for (let i = 0; i < tries && !this.closed; i++) {
      const mac = await new Promise<Mac | null>((resolve) => {
        const waiter: Waiter<Mac | null> = {
          resolve,
          timer: setTimeout(() => {
            this.arpWaiters.get(ip)?.delete(waiter);
            resolve(null);
          }, Math.max(1, Math.floor(timeoutMs / tries))),
        };
        let set = this.arpWaiters.get(ip);
        if (!set) this.arpWaiters.set(ip, (set = new Set()));
        set.add(waiter);
        this.sendArpRequest(ip);
      });
      if (mac) return mac;
    }
    return null;
  }

  /** Sends `count` echo requests one after another and reports each round trip. */
  async ping(target: Ipv4 | string, opts: PingOptions = {}): Promise<PingResult> {
    const ip = typeof target === 'string' ? parseIpv4(target) : target >>> 0;
    if (ip === null) throw new RangeError(`not an IPv4 address: ${String(target)}`);
    const count = opts.count ?? 1;
    const timeoutMs = opts.timeoutMs ?? 1000;
    const result: PingResult = { target: formatIpv4(ip), sent: 0, received: 0, rttsMs: [] };
    const id = this.nextPingId++ & 0xffff;
    const payload = new Uint8Array(opts.size ?? 56).map((_, i) => (i + 0x10) & 0xff);
    const dstMac = await this.resolve(this.nextHop(ip), timeoutMs);
    for (let seq = 1; seq <= count; seq++) {
      if (seq > 1 && opts.intervalMs) await new Promise((r) => setTimeout(r, opts.intervalMs));
      if (!dstMac || this.closed) {
        result.rttsMs.push(null);
        continue;
      }
      result.sent++;
      const rtt = await this.echoOnce(ip, dstMac, id, seq & 0xffff, payload, timeoutMs);
      if (rtt !== null) result.received++;
      result.rttsMs.push(rtt);
    }
    return result;
  }

  /** Ends pending resolutions and pings (as losses); received frames are ignored from now on. */
  close(): void {
    this.closed = true;
    for (const set of this.arpWaiters.values()) {
      for (const w of set) {
        clearTimeout(w.timer);
        w.resolve(null);
      }
    }
    this.arpWaiters.clear();
    for (const w of this.echoWaiters.values()) {
      clearTimeout(w.timer);
      w.resolve(null);
    }
    this.echoWaiters.clear();
  }

  // --- receive path

  private dispatch(frame: Uint8Array, checksumVerified: boolean): void {
    const eth = decodeEthernet(frame);
    if (!eth.ok) return this.ignore('malformed');
    const mac = this.ourMac();
    const { dst, src, etherType, payload } = eth.value;
    if (!mac || !(macEquals(dst, mac) || isGroupMac(dst))) return this.ignore('not-for-us');
    if (etherType === ETHERTYPE_ARP) return this.onArp(payload, mac);
    if (etherType === ETHERTYPE_IPV4) return this.onIpv4(payload, src, mac, checksumVerified);
    this.ignore('unknown-ethertype');
  }

  /** RFC 826's merge rule, plus answering requests for our address. */
  private onArp(bytes: Uint8Array, mac: Mac): void {
    const arp = decodeArp(bytes);
    if (!arp.ok) return this.ignore('malformed');
    const { op, senderMac, senderIp, targetIp } = arp.value;
    if (senderIp === this.address) return this.ignore('address-conflict');
    const forUs = targetIp === this.address;
    if (senderIp !== 0 && (forUs || this.arpCache.has(senderIp))) this.learn(senderIp, senderMac);
    if (op === ARP_OP_REPLY) {
      this.counters.arpRepliesIn++;
      return;
    }
    if (op !== ARP_OP_REQUEST || !forUs) return this.ignore('arp-other');
    this.counters.arpRequestsIn++;
    const sent = this.transmit(arpFrame(mac, senderMac, {
      op: ARP_OP_REPLY, senderMac: mac, senderIp: this.address, targetMac: senderMac, targetIp: senderIp,
    }), 'arp-reply');
    if (sent) this.counters.arpRepliesOut++;
  }

  private onIpv4(bytes: Uint8Array, srcMac: Mac, mac: Mac, checksumVerified: boolean): void {
    const ip = decodeIpv4(bytes);
    if (!ip.ok) return this.ignore('malformed');
    const { dst, src, protocol, flags, fragmentOffset, payload } = ip.value;
    if (dst !== this.address) return this.ignore('ip-not-for-us');
    if (flags & 0x2000 || fragmentOffset !== 0) return this.ignore('ip-fragment');
    if (protocol !== IPPROTO_ICMP) {
      if (!this.transport?.(ip.value, srcMac, checksumVerified)) this.ignore('ip-protocol');
      return;
    }
    const icmp = decodeIcmp(payload, { verifyChecksum: !checksumVerified });
    if (!icmp.ok) return this.ignore('malformed');
    const m = icmp.value;
    if (m.type === ICMP_ECHO_REQUEST && m.code === 0) {
      this.counters.echoRequestsIn++;
      const reply = ipv4Frame(mac, srcMac, {
        protocol: IPPROTO_ICMP, src: this.address, dst: src,
        payload: encodeIcmpEcho({ type: ICMP_ECHO_REPLY, id: echoId(m), seq: echoSeq(m), payload: m.payload }),
      });
      if (this.transmit(reply, 'echo-reply')) this.counters.echoRepliesOut++;
      return;
    }
    if (m.type === ICMP_ECHO_REPLY && m.code === 0) {
      const key = echoKey(src, echoId(m), echoSeq(m));
      const waiter = this.echoWaiters.get(key);
      if (!waiter) return this.ignore('icmp-unmatched-reply');
      this.counters.echoRepliesIn++;
      this.echoWaiters.delete(key);
      clearTimeout(waiter.timer);
      waiter.resolve(performance.now() - waiter.sentAt);
      return;
    }
    this.ignore('icmp-type');
  }

  private learn(ip: Ipv4, mac: Mac): void {
    const copy = Uint8Array.from(mac);
    this.arpCache.delete(ip);
    this.arpCache.set(ip, copy);
    while (this.arpCache.size > this.arpCacheSize) this.arpCache.delete(this.arpCache.keys().next().value!);
    const waiters = this.arpWaiters.get(ip);
    if (!waiters) return;
    this.arpWaiters.delete(ip);
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.resolve(copy);
    }
  }

  // --- send path

  /**
   * Sends an IPv4 packet from our address; false when the link refused it (ring full, no MAC).
   * `opts` passes a partial checksum or GSO on to the link.
   */
  sendIpv4(dstMac: Mac, dst: Ipv4, protocol: number, payload: Uint8Array, opts?: LinkSendOptions): boolean {
    const mac = this.ourMac();
    if (!mac || this.closed) return false;
    return this.transmit(ipv4Frame(mac, dstMac, { protocol, src: this.address, dst, payload }), `ip proto ${protocol}`, opts);
  }

  /**
   * Sends an IPv4 packet whose `l4Length` bytes of payload `fill` writes in place (every byte of
   * them: the buffer is reused), behind headers written here: the payload is copied once, by
   * `fill`, where sendIpv4 copies it into the IPv4 packet and again into the frame.
   */
  sendIpv4Built(dstMac: Mac, dst: Ipv4, protocol: number, l4Length: number, fill: (l4: Uint8Array) => void,
    opts?: LinkSendOptions): boolean {
    const mac = this.ourMac();
    if (!mac || this.closed) return false;
    const len = ETH_HLEN + IPV4_MIN_HLEN + l4Length;
    if (this.scratch.length < len) this.scratch = new Uint8Array(Math.max(len, 2 * this.scratch.length));
    const frame = this.scratch.subarray(0, len);
    writeEthernetHeader(frame, dstMac, mac, ETHERTYPE_IPV4);
    writeIpv4Header(frame, ETH_HLEN, { protocol, src: this.address, dst }, l4Length);
    fill(frame.subarray(ETH_HLEN + IPV4_MIN_HLEN));
    return this.transmit(frame, `ip proto ${protocol}`, opts);
  }

  /** The link says it has room again (netfront's tx responses freed slots). */
  writable(): void {
    if (!this.closed) this.onWritable?.();
  }

  /** Whether the link can take GSO packets of this XEN_NETIF_GSO_TYPE_* now. */
  gsoAvailable(type: number): boolean {
    return this.link.gsoAvailable?.(type) ?? false;
  }

  private echoOnce(ip: Ipv4, dstMac: Mac, id: number, seq: number, payload: Uint8Array, timeoutMs: number): Promise<number | null> {
    const mac = this.ourMac();
    if (!mac) return Promise.resolve(null);
    const key = echoKey(ip, id, seq);
    return new Promise((resolve) => {
      const waiter = {
        resolve,
        sentAt: performance.now(),
        timer: setTimeout(() => {
          this.echoWaiters.delete(key);
          resolve(null);
        }, timeoutMs),
      };
      this.echoWaiters.set(key, waiter);
      const frame = ipv4Frame(mac, dstMac, {
        protocol: IPPROTO_ICMP, src: this.address, dst: ip, id: seq,
        payload: encodeIcmpEcho({ type: ICMP_ECHO_REQUEST, id, seq, payload }),
      });
      if (this.transmit(frame, 'echo-request')) {
        this.counters.echoRequestsOut++;
      } else {
        clearTimeout(waiter.timer);
        this.echoWaiters.delete(key);
        resolve(null);
      }
    });
  }

  private sendArpRequest(ip: Ipv4): void {
    const mac = this.ourMac();
    if (!mac) return;
    const sent = this.transmit(arpFrame(mac, BROADCAST_MAC, {
      op: ARP_OP_REQUEST, senderMac: mac, senderIp: this.address, targetMac: ZERO_MAC, targetIp: ip,
    }), 'arp-request');
    if (sent) this.counters.arpRequestsOut++;
  }

  private transmit(frame: Uint8Array, what: string, opts?: LinkSendOptions): boolean {
    let ok = false;
    try {
      ok = opts ? this.link.send(frame, opts) : this.link.send(frame);
    } catch (err) {
      this.log(`stack ${formatIpv4(this.address)}: sending ${what} failed: ${errorText(err)}`);
    }
    if (ok) this.counters.framesOut++;
    else this.counters.sendFailures++;
    return ok;
  }

  private nextHop(ip: Ipv4): Ipv4 {
    if (((ip ^ this.address) & this.mask) === 0 || this.gateway === null) return ip;
    return this.gateway;
  }

  private ourMac(): Mac | null {
    const text = this.link.mac;
    if (text !== this.macText) {
      this.macText = text;
      this.macBytes = text === null ? null : parseMac(text);
    }
    return this.macBytes;
  }

  private ignore(reason: IgnoreReason): void {
    this.counters.ignored++;
    this.counters.ignoredBy[reason] = (this.counters.ignoredBy[reason] ?? 0) + 1;
  }
}

function echoKey(ip: Ipv4, id: number, seq: number): string {
  return `${ip}/${id}/${seq}`;
}
