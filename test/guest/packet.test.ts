import { expect } from 'chai';
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, BROADCAST_MAC, decodeArp, decodeEthernet, decodeIcmp, decodeIpv4, echoId,
  echoSeq, encodeArp, encodeEthernet, encodeIcmpEcho, encodeIpv4, ETHERTYPE_ARP, ETHERTYPE_IPV4, formatIpv4,
  formatMac, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, internetChecksum, IPPROTO_ICMP, parseIpv4, parseMac,
} from '../../src/guest/packet.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// who-has 192.168.1.1 tell 192.168.1.100, as captured on a LAN (42 bytes, no padding).
const ARP_REQUEST = hex(`
  ffffffffffff 000c293e2f1a 0806
  0001 0800 06 04 0001 000c293e2f1a c0a80164 000000000000 c0a80101`);

// Linux ping 10.1.0.1 -> 10.1.0.2, id 0x1c46 seq 1, 56 bytes (timeval + 0x10..0x37); checksums
// computed independently (Python) — IPv4 0xe77a, ICMP 0xca5f.
const ECHO_REQUEST = hex(
  '00163e010002feffffffffff08004500' +
  '00543f2a40004001e77a0a0100010a01' +
  '00020800ca5f1c460001a1b2c3d40000' +
  '0000e5f6070800000000101112131415' +
  '161718191a1b1c1d1e1f202122232425' +
  '262728292a2b2c2d2e2f303132333435' +
  '3637');

describe('guest packet codecs', () => {
  describe('the Internet checksum', () => {
    it('gives RFC 1071 section 3 example its known answer', () => {
      // Words 0001 f203 f4f5 f6f7 sum to 0xddf2; the checksum is its complement.
      expect(internetChecksum(hex('0001f203f4f5f6f7'))).to.equal(0x220d);
    });

    it('reproduces a known IPv4 header checksum (0xb861)', () => {
      const header = hex('450000730000400040110000c0a80001c0a800c7');
      expect(internetChecksum(header)).to.equal(0xb861);
    });

    it('is zero over data that carries its own correct checksum', () => {
      expect(internetChecksum(hex('45000073000040004011b861c0a80001c0a800c7'))).to.equal(0);
    });

    it('pads an odd trailing byte with zero', () => {
      expect(internetChecksum(hex('0102 03'))).to.equal(~(0x0102 + 0x0300) & 0xffff);
    });

    it('gives the word-at-a-time answer over large spans at every alignment and length', () => {
      // The plain RFC 1071 loop, to hold the wide one to.
      const plain = (b: Uint8Array, start: number, end: number): number => {
        let acc = 0;
        for (let i = start; i < end; i += 2) acc += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
        while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
        return ~acc & 0xffff;
      };
      let x = 12345;
      const buf = Uint8Array.from({ length: 70000 }, () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
      for (const start of [0, 1, 2, 3, 5, 34]) {
        for (const len of [63, 64, 65, 66, 1460, 1461, 65535]) {
          expect(internetChecksum(buf, start, start + len), `start ${start} length ${len}`).to.equal(plain(buf, start, start + len));
        }
      }
      // All ones: the sum that folds to 0xffff, not 0.
      const ones = new Uint8Array(4096).fill(0xff);
      expect(internetChecksum(ones, 2, 4096)).to.equal(plain(ones, 2, 4096));
      // And a view that does not start at its buffer's beginning.
      expect(internetChecksum(buf.subarray(7), 3, 3000)).to.equal(plain(buf.subarray(7), 3, 3000));
    });
  });

  describe('addresses', () => {
    it('parses and formats MACs as xenstore writes them', () => {
      const mac = parseMac('00:16:3e:0A:bb:FF')!;
      expect(toHex(mac)).to.equal('00163e0abbff');
      expect(formatMac(mac)).to.equal('00:16:3e:0a:bb:ff');
      expect(parseMac('00:16:3e:0a:bb')).to.equal(null);
      expect(parseMac('00:16:3e:0a:bb:fg')).to.equal(null);
    });

    it('parses and formats IPv4 addresses as u32 numbers', () => {
      expect(parseIpv4('10.1.0.2')).to.equal(0x0a010002);
      expect(parseIpv4('255.255.255.255')).to.equal(0xffffffff);
      expect(formatIpv4(0xc0a80101)).to.equal('192.168.1.1');
      expect(parseIpv4('10.1.0.256')).to.equal(null);
      expect(parseIpv4('10.1.0')).to.equal(null);
    });
  });

  describe('Ethernet and ARP', () => {
    it('decodes a captured ARP request', () => {
      const eth = decodeEthernet(ARP_REQUEST);
      expect(eth.ok).to.equal(true);
      if (!eth.ok) return;
      expect(formatMac(eth.value.dst)).to.equal('ff:ff:ff:ff:ff:ff');
      expect(formatMac(eth.value.src)).to.equal('00:0c:29:3e:2f:1a');
      expect(eth.value.etherType).to.equal(ETHERTYPE_ARP);
      const arp = decodeArp(eth.value.payload);
      expect(arp.ok).to.equal(true);
      if (!arp.ok) return;
      expect(arp.value.op).to.equal(ARP_OP_REQUEST);
      expect(formatIpv4(arp.value.senderIp)).to.equal('192.168.1.100');
      expect(formatIpv4(arp.value.targetIp)).to.equal('192.168.1.1');
      expect(formatMac(arp.value.targetMac)).to.equal('00:00:00:00:00:00');
    });

    it('re-encodes the captured ARP request byte for byte', () => {
      const eth = decodeEthernet(ARP_REQUEST);
      if (!eth.ok) throw new Error(eth.message);
      const arp = decodeArp(eth.value.payload);
      if (!arp.ok) throw new Error(arp.message);
      const again = encodeEthernet({ ...eth.value, payload: encodeArp(arp.value) });
      expect(toHex(again)).to.equal(toHex(ARP_REQUEST));
    });

    it('ignores Ethernet padding after an ARP packet', () => {
      const padded = new Uint8Array(60);
      padded.set(ARP_REQUEST);
      const eth = decodeEthernet(padded);
      if (!eth.ok) throw new Error(eth.message);
      expect(decodeArp(eth.value.payload).ok).to.equal(true);
    });

    it('reports truncated and foreign ARP with stable codes', () => {
      const short = decodeArp(ARP_REQUEST.subarray(14, 30));
      expect(short.ok === false && short.code).to.equal('ARP_TRUNCATED');
      const ipv6 = ARP_REQUEST.slice(14);
      ipv6[3] = 0xdd;
      const foreign = decodeArp(ipv6);
      expect(foreign.ok === false && foreign.code).to.equal('ARP_UNSUPPORTED');
      const runt = decodeEthernet(new Uint8Array(13));
      expect(runt.ok === false && runt.code).to.equal('ETH_TRUNCATED');
    });

    it('encodes an ARP reply with the fields swapped', () => {
      const reply = encodeArp({
        op: ARP_OP_REPLY, senderMac: parseMac('00:16:3e:00:00:01')!, senderIp: parseIpv4('192.168.1.1')!,
        targetMac: parseMac('00:0c:29:3e:2f:1a')!, targetIp: parseIpv4('192.168.1.100')!,
      });
      expect(toHex(reply)).to.equal('0001080006040002' + '00163e000001c0a80101' + '000c293e2f1ac0a80164');
    });
  });

  describe('IPv4 and ICMP', () => {
    it('decodes a Linux ping and verifies both checksums', () => {
      const eth = decodeEthernet(ECHO_REQUEST);
      if (!eth.ok) throw new Error(eth.message);
      expect(eth.value.etherType).to.equal(ETHERTYPE_IPV4);
      const ip = decodeIpv4(eth.value.payload);
      if (!ip.ok) throw new Error(ip.message);
      expect(formatIpv4(ip.value.src)).to.equal('10.1.0.1');
      expect(formatIpv4(ip.value.dst)).to.equal('10.1.0.2');
      expect(ip.value.protocol).to.equal(IPPROTO_ICMP);
      expect(ip.value.ttl).to.equal(64);
      expect(ip.value.payload.length).to.equal(64);
      const icmp = decodeIcmp(ip.value.payload);
      if (!icmp.ok) throw new Error(icmp.message);
      expect(icmp.value.type).to.equal(ICMP_ECHO_REQUEST);
      expect(echoId(icmp.value)).to.equal(0x1c46);
      expect(echoSeq(icmp.value)).to.equal(1);
      expect(icmp.value.payload.length).to.equal(56);
    });

    it('encodes the same ping byte for byte', () => {
      const eth = decodeEthernet(ECHO_REQUEST);
      if (!eth.ok) throw new Error(eth.message);
      const payload = hex('a1b2c3d400000000e5f6070800000000' + '101112131415161718191a1b1c1d1e1f' +
        '202122232425262728292a2b2c2d2e2f' + '3031323334353637');
      const icmp = encodeIcmpEcho({ type: ICMP_ECHO_REQUEST, id: 0x1c46, seq: 1, payload });
      expect(toHex(icmp.subarray(2, 4))).to.equal('ca5f');
      const ip = encodeIpv4({ id: 0x3f2a, protocol: IPPROTO_ICMP, src: parseIpv4('10.1.0.1')!, dst: parseIpv4('10.1.0.2')!, payload: icmp });
      expect(toHex(ip.subarray(10, 12))).to.equal('e77a');
      const frame = encodeEthernet({ dst: eth.value.dst, src: eth.value.src, etherType: ETHERTYPE_IPV4, payload: ip });
      expect(toHex(frame)).to.equal(toHex(ECHO_REQUEST));
    });

    it('gives the echo reply the checksum shifted by the type change (0xd25f)', () => {
      const icmp = encodeIcmpEcho({ type: ICMP_ECHO_REPLY, id: 0x1c46, seq: 1, payload: ECHO_REQUEST.subarray(42) });
      expect(toHex(icmp.subarray(2, 4))).to.equal('d25f');
    });

    it('rejects a corrupted header or message with stable codes', () => {
      const ipBytes = ECHO_REQUEST.slice(14);
      ipBytes[8] = 63; // ttl changed, checksum not
      const badIp = decodeIpv4(ipBytes);
      expect(badIp.ok === false && badIp.code).to.equal('IPV4_CHECKSUM');
      expect(decodeIpv4(ipBytes, { verifyChecksum: false }).ok).to.equal(true);
      const icmpBytes = ECHO_REQUEST.slice(34);
      icmpBytes[20] ^= 0xff;
      const badIcmp = decodeIcmp(icmpBytes);
      expect(badIcmp.ok === false && badIcmp.code).to.equal('ICMP_CHECKSUM');
      const v6 = decodeIpv4(hex('60000000000000000000000000000000000000000000'));
      expect(v6.ok === false && v6.code).to.equal('IPV4_VERSION');
      const longer = ECHO_REQUEST.slice(14);
      longer[3] = 0xff;
      const tl = decodeIpv4(longer, { verifyChecksum: false });
      expect(tl.ok === false && tl.code).to.equal('IPV4_TOTAL_LENGTH');
    });

    it('drops Ethernet padding beyond the IPv4 total length', () => {
      const padded = new Uint8Array(ECHO_REQUEST.length + 10);
      padded.set(ECHO_REQUEST);
      const ip = decodeIpv4(padded.subarray(14));
      expect(ip.ok && ip.value.payload.length).to.equal(64);
    });

    it('decodes every truncation of a valid frame to exactly one value or one error', () => {
      for (let n = 0; n <= ECHO_REQUEST.length; n++) {
        const eth = decodeEthernet(ECHO_REQUEST.subarray(0, n));
        if (!eth.ok) {
          expect(n).to.be.below(14);
          continue;
        }
        const ip = decodeIpv4(eth.value.payload);
        expect(ip.ok).to.equal(n === ECHO_REQUEST.length, `length ${n}`);
        if (!ip.ok) expect(ip.code).to.match(/^IPV4_/);
      }
      expect(toHex(BROADCAST_MAC)).to.equal('ffffffffffff');
    });
  });
});
