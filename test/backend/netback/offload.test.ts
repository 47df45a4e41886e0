// Mapping offloads between netif and virtio_net_hdr: what the guest's tx flags and GSO extra
// become for the tap, and what the kernel's header becomes on the rx ring for a frontend
// with or without the matching features.

import { expect } from 'chai';
import { gsoHeaders, NO_RX_FEATURES, rxOffload, txVnetHdr } from '../../../src/backend/netback/offload.js';
import {
  NETRXF_csum_blank, NETRXF_data_validated, NETTXF_csum_blank, NETTXF_data_validated, XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from '../../../src/protocol/netif.js';
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP,
} from '../../../src/protocol/virtio-net-hdr.js';

/** Ethernet + IPv4 (or IPv6) + TCP with a 32-byte header (options) + payload. */
function frame(ipv6: boolean, proto = 6, payload = 100): Uint8Array {
  const l3 = ipv6 ? 40 : 20;
  const f = new Uint8Array(14 + l3 + 32 + payload);
  f[12] = ipv6 ? 0x86 : 0x08;
  f[13] = ipv6 ? 0xdd : 0x00;
  if (ipv6) {
    f[14] = 0x60;
    f[14 + 6] = proto;
  } else {
    f[14] = 0x45;
    f[14 + 9] = proto;
  }
  f[14 + l3 + 12] = 8 << 4;
  return f;
}

const full = { sg: true, gsoTcpv4: true, gsoTcpv6: true, ipCsum: true, ipv6Csum: true };
const hdr = (flags: number, gsoType = VIRTIO_NET_HDR_GSO_NONE, gsoSize = 0) =>
  ({ flags, gsoType, hdrLen: 0, gsoSize, csumStart: 34, csumOffset: 16 });

describe('offloads between netif and virtio_net_hdr', () => {
  it('a TCPv4 and a TCPv6 GSO packet: NEEDS_CSUM, the GSO type, header length and csum position', () => {
    for (const [ipv6, type, vtype, l4] of [[false, XEN_NETIF_GSO_TYPE_TCPV4, VIRTIO_NET_HDR_GSO_TCPV4, 34],
      [true, XEN_NETIF_GSO_TYPE_TCPV6, VIRTIO_NET_HDR_GSO_TCPV6, 54]] as const) {
      const f = frame(ipv6);
      const headers = gsoHeaders(f, type);
      expect(headers).to.be.an('object');
      expect(txVnetHdr(f, NETTXF_csum_blank | NETTXF_data_validated, { size: 1448, type, headers: headers as never })).to.deep.equal({
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: vtype, hdrLen: l4 + 32, gsoSize: 1448, csumStart: l4, csumOffset: 16,
      });
    }
  });

  it('a blank checksum without GSO: NEEDS_CSUM at the TCP or UDP field; data_validated alone: DATA_VALID', () => {
    expect(txVnetHdr(frame(false), NETTXF_csum_blank, null)).to.include({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 34, csumOffset: 16 });
    expect(txVnetHdr(frame(true, 17), NETTXF_csum_blank, null)).to.include({ csumStart: 54, csumOffset: 6 });
    expect(txVnetHdr(frame(false), NETTXF_data_validated, null)).to.include({ flags: VIRTIO_NET_HDR_F_DATA_VALID });
    expect(txVnetHdr(frame(false), 0, null)).to.equal(undefined);
  });

  it('finds the TCP header of an IPv6 packet behind hop-by-hop and destination options', () => {
    const f = new Uint8Array(14 + 40 + 8 + 16 + 20 + 10);
    f[12] = 0x86; f[13] = 0xdd; f[14] = 0x60;
    f[14 + 6] = 0; // hop-by-hop, 8 bytes
    f[54] = 60; f[55] = 0; // then destination options, 16 bytes
    f[62] = 6; f[63] = 1; // then TCP
    expect(txVnetHdr(f, NETTXF_csum_blank, null)).to.include({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 78, csumOffset: 16 });
    // A later fragment has no L4 header to checksum.
    f[14 + 6] = 44;
    f[56] = 0; f[57] = 8;
    expect(txVnetHdr(f, NETTXF_csum_blank, null)).to.match(/IPv6 fragment/);
  });

  it('refuses a blank checksum where there is no TCP or UDP header', () => {
    expect(txVnetHdr(frame(false, 1), NETTXF_csum_blank, null)).to.match(/L4 protocol 1/);
    const arp = new Uint8Array(60);
    arp[12] = 0x08; arp[13] = 0x06;
    expect(txVnetHdr(arp, NETTXF_csum_blank, null)).to.match(/ethertype 0x806/);
  });

  it('writes the pseudo-header sum into a GSO packet the guest did not mark csum_blank', () => {
    const f = frame(false);
    f.set([10, 0, 0, 1, 10, 0, 0, 2], 14 + 12);
    txVnetHdr(f, 0, { size: 1448, type: XEN_NETIF_GSO_TYPE_TCPV4, headers: gsoHeaders(f, XEN_NETIF_GSO_TYPE_TCPV4) as never });
    // 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + (32 + 100)
    expect((f[34 + 16]! << 8) | f[34 + 17]!).to.equal(0x1400 + 3 + 6 + 132);
  });

  it('rx: partial checksum → csum_blank|data_validated, DATA_VALID → data_validated, GSO → an extra', () => {
    expect(rxOffload(hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM), frame(false), full)).to.deep.equal(
      { flags: NETRXF_csum_blank | NETRXF_data_validated, gso: null, finishCsum: null });
    expect(rxOffload(hdr(VIRTIO_NET_HDR_F_DATA_VALID), frame(false), full)).to.deep.equal(
      { flags: NETRXF_data_validated, gso: null, finishCsum: null });
    expect(rxOffload(hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 1440), frame(true), full)).to.deep.equal(
      { flags: NETRXF_csum_blank | NETRXF_data_validated, gso: { size: 1440, type: XEN_NETIF_GSO_TYPE_TCPV6 }, finishCsum: null });
  });

  it('rx: what the frontend did not negotiate is finished here or refused', () => {
    expect(rxOffload(hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM), frame(false), NO_RX_FEATURES)).to.deep.equal(
      { flags: NETRXF_data_validated, gso: null, finishCsum: { start: 34, offset: 16 } });
    expect(rxOffload(hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448), frame(false), NO_RX_FEATURES))
      .to.match(/did not negotiate/);
    expect(rxOffload(hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP, 1448), frame(false), full)).to.match(/did not negotiate/);
    expect(rxOffload(hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0), frame(false), full)).to.match(/zero gso_size/);
  });
});
