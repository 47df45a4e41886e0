// The flow hash both ends steer queues by: the same for both directions of a flow, different
// for different ports or addresses, blind to payload, and 0 for what has no L3 header.

import { expect } from 'chai';
import { flowHash, jhash2, reciprocalScale } from '../../src/protocol/flow-hash.js';

function ipv4(proto: number, src: number[], dst: number[], sport: number, dport: number,
  opts: { frag?: boolean; vlan?: boolean } = {}): Uint8Array {
  const vlan = opts.vlan ? [0x81, 0x00, 0x00, 0x05] : [];
  const f = new Uint8Array(64 + vlan.length);
  f.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...vlan, 0x08, 0x00], 0);
  const ip = 14 + vlan.length;
  f.set([0x45, 0, 0, 50, 0, 0, opts.frag ? 0x20 : 0, 0, 64, proto, 0, 0, ...src, ...dst], ip);
  f.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff], ip + 20);
  return f;
}

function ipv6(src: number, dst: number, sport: number, dport: number): Uint8Array {
  const f = new Uint8Array(14 + 40 + 8);
  f.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd], 0);
  f.set([0x60, 0, 0, 0, 0, 8, 17, 64], 14);
  f[14 + 8 + 15] = src;
  f[14 + 24 + 15] = dst;
  f.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff], 54);
  return f;
}

const A = [10, 1, 0, 1];
const B = [10, 1, 0, 2];

describe('flow hash', () => {
  it('hashes both directions of a TCP, UDP or IPv6 flow alike', () => {
    expect(flowHash(ipv4(6, A, B, 40000, 5001))).to.equal(flowHash(ipv4(6, B, A, 5001, 40000)));
    expect(flowHash(ipv4(17, A, B, 53, 9999))).to.equal(flowHash(ipv4(17, B, A, 9999, 53)));
    expect(flowHash(ipv6(1, 2, 7, 8))).to.equal(flowHash(ipv6(2, 1, 8, 7)));
  });

  it('tells flows apart by port, address and protocol, and ignores the payload', () => {
    const base = flowHash(ipv4(6, A, B, 40000, 5001));
    expect(flowHash(ipv4(6, A, B, 40001, 5001))).to.not.equal(base);
    expect(flowHash(ipv4(6, A, [10, 1, 0, 3], 40000, 5001))).to.not.equal(base);
    expect(flowHash(ipv4(17, A, B, 40000, 5001))).to.not.equal(base);
    const withPayload = ipv4(6, A, B, 40000, 5001);
    withPayload[60] = 0xaa;
    expect(flowHash(withPayload)).to.equal(base);
  });

  it('reads through a VLAN tag, and leaves the ports out of fragments and port-less protocols', () => {
    expect(flowHash(ipv4(6, A, B, 1, 2, { vlan: true }))).to.equal(flowHash(ipv4(6, A, B, 1, 2)));
    expect(flowHash(ipv4(17, A, B, 1, 2, { frag: true }))).to.equal(flowHash(ipv4(17, A, B, 3, 4, { frag: true })));
    expect(flowHash(ipv4(1, A, B, 1, 2))).to.equal(flowHash(ipv4(1, A, B, 3, 4)));
  });

  it('is 0 for frames without an IP header (ARP, runts)', () => {
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(flowHash(arp)).to.equal(0);
    expect(flowHash(new Uint8Array(10))).to.equal(0);
    expect(flowHash(ipv4(6, A, B, 1, 2).subarray(0, 30))).to.equal(0);
  });

  it('spreads many flows over queues, by jhash2 and reciprocal_scale', () => {
    const counts = [0, 0, 0, 0];
    for (let port = 1; port <= 4000; port++) counts[reciprocalScale(flowHash(ipv4(6, A, B, port, 80)), 4)]!++;
    for (const c of counts) expect(c).to.be.within(800, 1200);
    expect(jhash2([], 0)).to.equal(0xdeadbeef);
    expect(jhash2([1, 2, 3], 0)).to.not.equal(jhash2([1, 2, 4], 0));
  });
});
