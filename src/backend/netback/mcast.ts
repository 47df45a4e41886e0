// A vif's multicast list (netback's xenvif_mcast_add/del/match): the addresses the frontend
// subscribed to with XEN_NETIF_EXTRA_TYPE_MCAST_ADD / _DEL extras on any of its tx queues,
// at most XEN_NETBK_MCAST_MAX. With multicast control on (the frontend's
// `request-multicast-control`, xen/include/public/io/netif.h) only multicast frames for a
// subscribed group reach the guest; broadcast always does.

/** Netback's XEN_NETBK_MCAST_MAX. */
export const MCAST_MAX = 64;

function keyOf(mac: Uint8Array, at = 0): string {
  let k = '';
  for (let i = at; i < at + 6; i++) k += (mac[i]! < 16 ? '0' : '') + mac[i]!.toString(16);
  return k;
}

export class MulticastList {
  private readonly groups = new Set<string>();
  /** The frontend asked for filtering (request-multicast-control). */
  control = false;

  /** False when the list is full (the request is answered with an error). */
  add(addr: Uint8Array): boolean {
    const key = keyOf(addr);
    if (!this.groups.has(key) && this.groups.size >= MCAST_MAX) return false;
    this.groups.add(key);
    return true;
  }

  del(addr: Uint8Array): void {
    this.groups.delete(keyOf(addr));
  }

  /**
   * Whether a frame for the guest passes (xenvif_start_xmit's check): with control on, a
   * multicast destination (group bit set, not broadcast) must be a subscribed group.
   */
  accepts(frame: Uint8Array): boolean {
    if (!this.control || frame.length < 6 || (frame[0]! & 1) === 0) return true;
    if (frame[0] === 0xff && frame[1] === 0xff && frame[2] === 0xff && frame[3] === 0xff && frame[4] === 0xff && frame[5] === 0xff) {
      return true;
    }
    return this.groups.has(keyOf(frame));
  }

  get size(): number {
    return this.groups.size;
  }

  /** The connection ended (netback frees the list in xenvif_disconnect_data). */
  clear(): void {
    this.groups.clear();
    this.control = false;
  }
}
