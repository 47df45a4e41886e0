// The host side of a vif: where frames the guest sends go, and where frames for the guest come
// from (QEMU's NetClientState peer). A tap is one; others (socket backends, hubs) plug in the
// same way.

import type { VirtioNetHdr } from '../../protocol/virtio-net-hdr.js';

/**
 * A frame for the guest side. `hdr`: how its checksum stands and how to segment it, from peers
 * that carry one. `more`: further frames of the same batch follow at once, so the receiver may
 * leave its per-batch work (pushing ring responses, notifying) to the last one; a client that
 * passes `more` always ends a batch with a frame without it. The frame is lent for the call (a
 * tap hands views of its read buffer): a receiver that keeps it past the call copies it, and
 * may write to it meanwhile (finishing a partial checksum).
 */
export type FrameReceiver = (frame: Uint8Array, hdr?: VirtioNetHdr, more?: boolean) => void;

/** The offloads a peer with a virtio_net_hdr may be told to hand over (TUNSETOFFLOAD). */
export interface PeerOffloads {
  csum: boolean;
  tso4: boolean;
  tso6: boolean;
}

/** What a vif's datapath uses of its peer: frames both ways and flow control. */
export interface DatapathPeer {
  /** Frames from the host towards the guest are handed to `fn`. */
  setReceiver(fn: FrameReceiver | null): void;
  /**
   * A frame from the guest towards the host; false if it was dropped. `hdr` (partial checksum,
   * GSO) is only given to peers with `vnetHdr`; the others get finished frames. The frame is
   * borrowed: the vif reuses its bytes for the next frame once send() returns, so a client that
   * holds them past the call (a batch, an asynchronous socket write) keeps its own copy.
   */
  send(frame: Uint8Array, hdr?: VirtioNetHdr): boolean;
  /**
   * A finished frame (no offload to describe) that lies at memory[at, at + len): the client
   * writes it from there, without copying it first, by the next flush() at the latest, which
   * its sender calls before the memory may change (before netback answers the request).
   */
  sendGuest?(memory: Uint8Array, at: number, len: number): boolean;
  /**
   * Clients that batch writes hold what send() accepted until here (or the end of the current
   * callback at the latest); returns how many of those frames were dropped after all.
   */
  flush?(): number;
  /**
   * The peer carries a virtio_net_hdr with each frame (a tap with vnet_hdr), so the offloads
   * can be negotiated with the guest (as QEMU's virtio-net, which offers them only then).
   */
  readonly vnetHdr?: boolean;
  /**
   * Flow control towards the guest: while off, the client stops handing frames to its receiver
   * and leaves them where they wait (a tap's kernel queue). Clients that cannot wait leave it out.
   */
  setReceiving?(on: boolean): void;
}

export interface NetClient extends DatapathPeer {
  readonly id: string;
  readonly type: string;
  /** Which offloaded frames the peer may hand over from now on; only with `vnetHdr`. */
  setOffloads?(o: PeerOffloads): void;
  /** One line for `info network`. */
  describe(): string;
  /**
   * The link as the host side sees it (set_link): a tap turns its carrier off. Clients with
   * nothing to show leave it out.
   */
  setCarrier?(on: boolean): void;
  /**
   * Hands the frame I/O to a datapath thread (a tap's fd): the client stops reading and
   * writing until reclaimIo(). Clients whose I/O cannot move leave both out.
   */
  lendIo?(): LentTap;
  reclaimIo?(): void;
  close(): void;
}

/** A tap's fd as lent to a datapath thread, which reads and writes it with a TapIo of its own. */
export interface LentTap {
  fd: number;
  ifname: string;
  vnetHdr: boolean;
}
