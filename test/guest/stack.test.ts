import { expect } from 'chai';
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, arpFrame, BROADCAST_MAC, decodeArp, decodeEthernet, decodeIcmp, decodeIpv4,
  echoId, echoSeq, encodeIcmpEcho, ETHERTYPE_ARP, formatIpv4, formatMac, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST,
  internetChecksum, IPPROTO_ICMP, IPPROTO_UDP, ipv4Frame, parseIpv4, parseMac, ZERO_MAC,
} from '../../src/guest/packet.js';
import { NetStack, type StackLink, vifAddress } from '../../src/guest/stack.js';

const GUEST_MAC = '00:16:3e:07:00:02';
const HOST_MAC = parseMac('fe:ff:ff:ff:ff:ff')!;
const GUEST_IP = parseIpv4('10.7.0.2')!;
const HOST_IP = parseIpv4('10.7.0.1')!;

class CaptureLink implements StackLink {
  mac: string | null = GUEST_MAC;
  sent: Uint8Array[] = [];
  accept = true;
  send(frame: Uint8Array): boolean {
    if (!this.accept) return false;
    this.sent.push(frame);
    return true;
  }
}

function newStack(): { stack: NetStack; link: CaptureLink } {
  const link = new CaptureLink();
  const stack = new NetStack(link, vifAddress(7, 0)!);
  return { stack, link };
}

function arpRequestFor(target: number, sender = HOST_IP, senderMac = HOST_MAC): Uint8Array {
  return arpFrame(senderMac, BROADCAST_MAC, { op: ARP_OP_REQUEST, senderMac, senderIp: sender, targetMac: ZERO_MAC, targetIp: target });
}

function echoRequest(id: number, seq: number, payload: Uint8Array, dst = GUEST_IP): Uint8Array {
  return ipv4Frame(HOST_MAC, parseMac(GUEST_MAC)!, {
    protocol: IPPROTO_ICMP, src: HOST_IP, dst, payload: encodeIcmpEcho({ type: ICMP_ECHO_REQUEST, id, seq, payload }),
  });
}

function parseSentArp(frame: Uint8Array) {
  const eth = decodeEthernet(frame);
  if (!eth.ok) throw new Error(eth.message);
  expect(eth.value.etherType).to.equal(ETHERTYPE_ARP);
  const arp = decodeArp(eth.value.payload);
  if (!arp.ok) throw new Error(arp.message);
  return { eth: eth.value, arp: arp.value };
}

describe('guest network stack', () => {
  it('places vif N of guest D at 10.D.N.2/24 behind 10.D.N.1', () => {
    const plan = vifAddress(3, 1)!;
    expect(formatIpv4(plan.address)).to.equal('10.3.1.2');
    expect(formatIpv4(plan.gateway)).to.equal('10.3.1.1');
    expect(plan.prefixLength).to.equal(24);
    expect(vifAddress(256, 0)).to.equal(null);
  });

  it('answers an ARP request for its address with a unicast reply', () => {
    const { stack, link } = newStack();
    stack.receive(arpRequestFor(GUEST_IP));
    expect(link.sent).to.have.length(1);
    const { eth, arp } = parseSentArp(link.sent[0]!);
    expect(formatMac(eth.dst)).to.equal(formatMac(HOST_MAC));
    expect(formatMac(eth.src)).to.equal(GUEST_MAC);
    expect(arp.op).to.equal(ARP_OP_REPLY);
    expect(formatMac(arp.senderMac)).to.equal(GUEST_MAC);
    expect(arp.senderIp).to.equal(GUEST_IP);
    expect(formatMac(arp.targetMac)).to.equal(formatMac(HOST_MAC));
    expect(arp.targetIp).to.equal(HOST_IP);
    expect(stack.arpTable()).to.deep.equal({ '10.7.0.1': 'fe:ff:ff:ff:ff:ff' });
    expect(stack.counters.arpRequestsIn).to.equal(1);
    expect(stack.counters.arpRepliesOut).to.equal(1);
  });

  it('stays silent for ARP requests about other addresses and does not learn from them', () => {
    const { stack, link } = newStack();
    stack.receive(arpRequestFor(parseIpv4('10.7.0.3')!));
    expect(link.sent).to.have.length(0);
    expect(stack.arpTable()).to.deep.equal({});
    expect(stack.counters.ignoredBy['arp-other']).to.equal(1);
  });

  it('answers a ping with the same id, sequence and payload and correct checksums', () => {
    const { stack, link } = newStack();
    const payload = Uint8Array.from({ length: 56 }, (_, i) => i * 3);
    stack.receive(echoRequest(0x4242, 9, payload));
    expect(link.sent).to.have.length(1);
    const eth = decodeEthernet(link.sent[0]!);
    if (!eth.ok) throw new Error(eth.message);
    expect(formatMac(eth.value.dst)).to.equal(formatMac(HOST_MAC));
    const ip = decodeIpv4(eth.value.payload);
    if (!ip.ok) throw new Error(ip.message);
    expect(internetChecksum(eth.value.payload, 0, 20)).to.equal(0);
    expect(ip.value.src).to.equal(GUEST_IP);
    expect(ip.value.dst).to.equal(HOST_IP);
    const icmp = decodeIcmp(ip.value.payload);
    if (!icmp.ok) throw new Error(icmp.message);
    expect(icmp.value.type).to.equal(ICMP_ECHO_REPLY);
    expect(echoId(icmp.value)).to.equal(0x4242);
    expect(echoSeq(icmp.value)).to.equal(9);
    expect(Buffer.from(icmp.value.payload).equals(Buffer.from(payload))).to.equal(true);
    expect(stack.counters.echoRepliesOut).to.equal(1);
  });

  it('ignores and counts what it does not understand', () => {
    const { stack, link } = newStack();
    const bad = echoRequest(1, 1, new Uint8Array(8));
    bad[bad.length - 1] ^= 0x55; // ICMP checksum no longer matches
    stack.receive(bad);
    stack.receive(echoRequest(1, 1, new Uint8Array(8), parseIpv4('10.7.0.9')!));
    stack.receive(ipv4Frame(HOST_MAC, parseMac(GUEST_MAC)!, { protocol: IPPROTO_UDP, src: HOST_IP, dst: GUEST_IP, payload: new Uint8Array(8) }));
    const ipv6 = new Uint8Array(60);
    ipv6.set(parseMac(GUEST_MAC)!, 0);
    ipv6[12] = 0x86;
    ipv6[13] = 0xdd;
    stack.receive(ipv6);
    stack.receive(new Uint8Array(5));
    const other = echoRequest(1, 1, new Uint8Array(8));
    other.set(parseMac('00:16:3e:99:99:99')!, 0);
    stack.receive(other);
    expect(link.sent).to.have.length(0);
    expect(stack.counters.ignored).to.equal(6);
    expect(stack.counters.ignoredBy).to.deep.equal({
      'malformed': 2, 'ip-not-for-us': 1, 'ip-protocol': 1, 'unknown-ethertype': 1, 'not-for-us': 1,
    });
  });

  it('announces itself with a gratuitous ARP request', () => {
    const { stack, link } = newStack();
    expect(stack.announce()).to.equal(true);
    const { eth, arp } = parseSentArp(link.sent[0]!);
    expect(formatMac(eth.dst)).to.equal('ff:ff:ff:ff:ff:ff');
    expect(arp.op).to.equal(ARP_OP_REQUEST);
    expect(arp.senderIp).to.equal(GUEST_IP);
    expect(arp.targetIp).to.equal(GUEST_IP);
    expect(formatMac(arp.targetMac)).to.equal('00:00:00:00:00:00');
  });

  it('cannot announce before it knows its MAC', () => {
    const { stack, link } = newStack();
    link.mac = null;
    expect(stack.announce()).to.equal(false);
    expect(link.sent).to.have.length(0);
  });

  it('pings: resolves the host by ARP, then measures each echo', async () => {
    const { stack, link } = newStack();
    // Play the host: answer whatever the stack sends, on the next turn of the event loop.
    const host = setInterval(() => {
      for (const frame of link.sent.splice(0)) {
        const eth = decodeEthernet(frame);
        if (!eth.ok) continue;
        if (eth.value.etherType === ETHERTYPE_ARP) {
          const arp = decodeArp(eth.value.payload);
          if (arp.ok && arp.value.targetIp === HOST_IP) {
            stack.receive(arpFrame(HOST_MAC, arp.value.senderMac, {
              op: ARP_OP_REPLY, senderMac: HOST_MAC, senderIp: HOST_IP, targetMac: arp.value.senderMac, targetIp: arp.value.senderIp,
            }));
          }
          continue;
        }
        const ip = decodeIpv4(eth.value.payload);
        if (!ip.ok) continue;
        const icmp = decodeIcmp(ip.value.payload);
        if (!icmp.ok || icmp.value.type !== ICMP_ECHO_REQUEST) continue;
        stack.receive(ipv4Frame(HOST_MAC, parseMac(GUEST_MAC)!, {
          protocol: IPPROTO_ICMP, src: HOST_IP, dst: GUEST_IP,
          payload: encodeIcmpEcho({ type: ICMP_ECHO_REPLY, id: echoId(icmp.value), seq: echoSeq(icmp.value), payload: icmp.value.payload }),
        }));
      }
    }, 1);
    try {
      const result = await stack.ping('10.7.0.1', { count: 3, timeoutMs: 500 });
      expect(result.sent).to.equal(3);
      expect(result.received).to.equal(3);
      expect(result.rttsMs).to.have.length(3);
      for (const rtt of result.rttsMs) expect(rtt).to.be.a('number').and.be.at.least(0);
      expect(stack.arpTable()).to.have.property('10.7.0.1');
      expect(stack.counters.echoRepliesIn).to.equal(3);
    } finally {
      clearInterval(host);
    }
  });

  it('routes pings outside its subnet through the gateway', async () => {
    const { stack, link } = newStack();
    const pending = stack.ping('192.0.2.1', { count: 1, timeoutMs: 60 });
    const { arp } = parseSentArp(link.sent[0]!);
    expect(arp.targetIp).to.equal(HOST_IP);
    const result = await pending;
    expect(result).to.deep.include({ sent: 0, received: 0, rttsMs: [null] });
  });

  it('reports a lost echo as null', async () => {
    const { stack } = newStack();
    stack.receive(arpRequestFor(GUEST_IP)); // learns the host
    const result = await stack.ping(HOST_IP, { count: 2, timeoutMs: 20 });
    expect(result).to.deep.include({ sent: 2, received: 0, rttsMs: [null, null] });
  });

  it('counts frames the link refuses', () => {
    const { stack, link } = newStack();
    link.accept = false;
    stack.receive(arpRequestFor(GUEST_IP));
    expect(stack.counters.sendFailures).to.equal(1);
    expect(stack.counters.arpRepliesOut).to.equal(0);
  });

  it('ignores everything once closed', async () => {
    const { stack, link } = newStack();
    const pending = stack.ping(HOST_IP, { timeoutMs: 10_000 });
    stack.close();
    expect((await pending).received).to.equal(0);
    stack.receive(arpRequestFor(GUEST_IP));
    expect(link.sent.filter((f) => parseSentArp(f).arp.op === ARP_OP_REPLY)).to.have.length(0);
  });
});
