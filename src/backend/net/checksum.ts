// L4 checksums done in software: filling in one a guest left blank (NETTXF_csum_blank) for a
// peer that cannot take it, as QEMU's net_checksum_calculate() does for IPv4 TCP and UDP
// (anything else is left untouched), finishing a partial one for a frontend that cannot take
// it, and the pseudo-header sum a partial checksum starts from.

export const ETH_P_IP = 0x0800;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

function sum16(data: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (data[i]! << 8) | data[i + 1]!;
  if (i < end) acc += data[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

export function fillL4Checksum(frame: Uint8Array): boolean {
  if (frame.length < 14 + 20) return false;
  const ethertype = (frame[12]! << 8) | frame[13]!;
  if (ethertype !== ETH_P_IP) return false;
  const ip = 14;
  const ihl = (frame[ip]! & 0x0f) * 4;
  if ((frame[ip]! >> 4) !== 4 || ihl < 20) return false;
  const totalLen = (frame[ip + 2]! << 8) | frame[ip + 3]!;
  const fragment = ((frame[ip + 6]! << 8) | frame[ip + 7]!) & 0x3fff;
  const proto = frame[ip + 9]!;
  const l4 = ip + ihl;
  const end = Math.min(frame.length, ip + totalLen);
  if (fragment !== 0 || end <= l4) return false;
  let csumAt: number;
  if (proto === IPPROTO_TCP && end - l4 >= 20) csumAt = l4 + 16;
  else if (proto === IPPROTO_UDP && end - l4 >= 8) csumAt = l4 + 6;
  else return false;
  frame[csumAt] = 0;
  frame[csumAt + 1] = 0;
  let acc = sum16(frame, ip + 12, ip + 20, 0); // source and destination addresses
  acc += proto + (end - l4);
  acc = sum16(frame, l4, end, acc);
  let csum = ~fold(acc) & 0xffff;
  if (csum === 0 && proto === IPPROTO_UDP) csum = 0xffff;
  frame[csumAt] = csum >> 8;
  frame[csumAt + 1] = csum & 0xff;
  return true;
}

/**
 * Finishes a partial checksum (CHECKSUM_PARTIAL, virtio's NEEDS_CSUM) for a receiver that cannot
 * take one: the field at start + offset holds the pseudo-header sum; the sum from `start` to the
 * end of the frame, complemented, replaces it. False if the field lies outside the frame.
 */
export function finishPartialChecksum(frame: Uint8Array, start: number, offset: number): boolean {
  const at = start + offset;
  if (at + 2 > frame.length) return false;
  const csum = ~fold(sum16(frame, start, frame.length, 0)) & 0xffff;
  frame[at] = csum >> 8;
  frame[at + 1] = csum & 0xff;
  return true;
}

/**
 * Writes the pseudo-header sum (not complemented) that a partial checksum starts from into the
 * L4 checksum field at `field`: what Linux's netback does for a GSO packet a frontend sent
 * without NETTXF_csum_blank (recalculate_partial_csum).
 */
export function writePseudoHeaderSum(frame: Uint8Array, l3: number, l4: number, ipv6: boolean, proto: number,
  field: number): void {
  const len = frame.length - l4;
  let acc = ipv6 ? sum16(frame, l3 + 8, l3 + 40, 0) : sum16(frame, l3 + 12, l3 + 20, 0);
  acc += proto + (len & 0xffff) + Math.floor(len / 0x10000);
  const sum = fold(acc);
  frame[field] = sum >> 8;
  frame[field + 1] = sum & 0xff;
}
