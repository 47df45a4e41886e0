// The host side of a vif: where frames the guest sends go, and where frames for the guest come
// from (QEMU's NetClientState peer). A tap is one; others (socket backends, hubs) plug in the
// same way.

/**
 * A frame for the guest side. `more`: further frames of the same batch follow at once, so the
 * receiver may leave its per-batch work (pushing ring responses, notifying) to the last one.
 * A client that passes `more` always ends a batch with a frame without it.
 */
export type FrameReceiver = (frame: Uint8Array, more?: boolean) => void;

export interface NetClient {
  readonly id: string;
  readonly type: string;
  /** Frames from the host towards the guest are handed to `fn`. */
  setReceiver(fn: FrameReceiver | null): void;
  /** A frame from the guest towards the host; false if it was dropped. */
  send(frame: Uint8Array): boolean;
  /**
   * Clients that batch writes hold what send() accepted until here (or the end of the current
   * callback at the latest); returns how many of those frames were dropped after all.
   */
  flush?(): number;
  /** One line for `info network`. */
  describe(): string;
  /**
   * The link as the host side sees it (set_link): a tap turns its carrier off. Clients with
   * nothing to show leave it out.
   */
  setCarrier?(on: boolean): void;
  /**
   * Flow control towards the guest: while off, the client stops handing frames to its receiver
   * and leaves them where they wait (a tap's kernel queue). Clients that cannot wait leave it out.
   */
  setReceiving?(on: boolean): void;
  close(): void;
}
