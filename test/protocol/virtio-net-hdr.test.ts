// struct virtio_net_hdr as a tap reads and writes it: byte literals both ways and round trips.

import { expect } from 'chai';
import {
  isPlainVnetHdr, PLAIN_VNET_HDR, readVnetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VNET_HDR_LEN,
  writeVnetHdr,
} from '../../src/protocol/virtio-net-hdr.js';

describe('virtio_net_hdr', () => {
  // A TCPv4 GSO frame: NEEDS_CSUM, hdr_len 66, gso_size 1448, csum_start 34, csum_offset 16.
  const bytes = Uint8Array.of(0x01, 0x01, 66, 0, 0xa8, 0x05, 34, 0, 16, 0);
  const hdr = { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: VIRTIO_NET_HDR_GSO_TCPV4, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16 };

  it('decodes the little-endian layout a tap hands out', () => {
    expect(readVnetHdr(bytes)).to.deep.equal(hdr);
    expect(isPlainVnetHdr(readVnetHdr(bytes))).to.equal(false);
  });

  it('encodes the same bytes, at an offset, and round-trips', () => {
    const out = new Uint8Array(VNET_HDR_LEN + 4);
    writeVnetHdr(out, 2, hdr);
    expect([...out.subarray(2, 2 + VNET_HDR_LEN)]).to.deep.equal([...bytes]);
    expect(readVnetHdr(out.subarray(2))).to.deep.equal(hdr);
  });

  it('a plain frame has an all-zero header', () => {
    const out = new Uint8Array(VNET_HDR_LEN).fill(0xee);
    writeVnetHdr(out, 0, PLAIN_VNET_HDR);
    expect([...out]).to.deep.equal(new Array(VNET_HDR_LEN).fill(0));
    expect(isPlainVnetHdr(readVnetHdr(out))).to.equal(true);
  });
});
