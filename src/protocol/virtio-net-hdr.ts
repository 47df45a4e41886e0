// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), the 10-byte header a tap opened with
// IFF_VNET_HDR puts before every frame it hands out and expects before every frame it takes:
// how the frame's checksum stands and, for a GSO frame, how the kernel is to segment it.
// Multi-byte fields are in the host's byte order; vifd runs on little-endian hosts only (the
// tap's TUNSETVNETLE default), so they are read little-endian.
//
//   flags u8 @0 · gso_type u8 @1 · hdr_len u16 @2 · gso_size u16 @4 · csum_start u16 @6 · csum_offset u16 @8

export const VNET_HDR_LEN = 10;

/** The L4 checksum is partial: fold the sum from csum_start and store it at csum_start + csum_offset. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** The checksum has been verified (rx from the kernel). */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** Or'ed into gso_type: the frame has ECN CWR set (only with TUN_F_TSO_ECN, which vifd never sets). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export interface VirtioNetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** The header of a plain frame: nothing to do for the kernel. */
export const PLAIN_VNET_HDR: Readonly<VirtioNetHdr> = Object.freeze({
  flags: 0, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0,
});

/** Byte by byte, little-endian: this runs for every frame a tap takes, and a DataView would be an allocation. */
export function writeVnetHdr(out: Uint8Array, at: number, h: VirtioNetHdr): void {
  if (at < 0 || at + VNET_HDR_LEN > out.length) throw new RangeError(`no room for a vnet header at ${at}`);
  out[at] = h.flags;
  out[at + 1] = h.gsoType;
  out[at + 2] = h.hdrLen & 0xff;
  out[at + 3] = (h.hdrLen >>> 8) & 0xff;
  out[at + 4] = h.gsoSize & 0xff;
  out[at + 5] = (h.gsoSize >>> 8) & 0xff;
  out[at + 6] = h.csumStart & 0xff;
  out[at + 7] = (h.csumStart >>> 8) & 0xff;
  out[at + 8] = h.csumOffset & 0xff;
  out[at + 9] = (h.csumOffset >>> 8) & 0xff;
}

/** Decodes the header at the start of `buf` (at least VNET_HDR_LEN bytes, checked by the caller). */
export function readVnetHdr(buf: Uint8Array): VirtioNetHdr {
  const v = new DataView(buf.buffer, buf.byteOffset, VNET_HDR_LEN);
  return {
    flags: v.getUint8(0),
    gsoType: v.getUint8(1),
    hdrLen: v.getUint16(2, true),
    gsoSize: v.getUint16(4, true),
    csumStart: v.getUint16(6, true),
    csumOffset: v.getUint16(8, true),
  };
}

/** A plain frame's header needs no work from anyone: most frames, and the fast path. */
export function isPlainVnetHdr(h: VirtioNetHdr): boolean {
  return h.flags === 0 && h.gsoType === VIRTIO_NET_HDR_GSO_NONE;
}
