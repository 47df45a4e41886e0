// MAC addresses as QEMU reads and prints them: `52:54:00:12:34:56` or `52-54-00-12-34-56`,
// any case in; lower case with colons out.

const MAC_RE = /^([0-9A-Fa-f]{2})([:-])([0-9A-Fa-f]{2})\2([0-9A-Fa-f]{2})\2([0-9A-Fa-f]{2})\2([0-9A-Fa-f]{2})\2([0-9A-Fa-f]{2})$/;

export function parseMac(text: string): Uint8Array | null {
  const m = MAC_RE.exec(text);
  if (!m) return null;
  return Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h!, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Xen's OUI 00:16:3e with random low bytes, as xl does for a vif without `mac`. */
export function randomXenMac(random: () => number = Math.random): Uint8Array {
  return Uint8Array.from([0x00, 0x16, 0x3e, Math.floor(random() * 128), Math.floor(random() * 256), Math.floor(random() * 256)]);
}
