// QEMU's hubs (net/hub.c): a hub is a tiny repeater identified by `hubid`; every frame one port
// receives from its peer goes out of every other port. Two vifs on hubports of the same hub
// talk to each other with no tap and no host stack in between.

import type { FrameReceiver, NetClient } from './net-client.js';

export class Hub {
  readonly ports = new Set<HubPort>();
  constructor(readonly id: number) {}

  /** A frame that entered through `from` leaves through every other port whose link is up. */
  forward(from: HubPort, frame: Uint8Array): boolean {
    let delivered = false;
    for (const port of this.ports) {
      if (port === from) continue;
      if (port.deliver(frame)) delivered = true;
    }
    return delivered;
  }
}

export class HubPort implements NetClient {
  readonly type = 'hubport';
  private receiver: FrameReceiver | null = null;
  private carrier = true;
  private closed = false;

  constructor(readonly id: string, readonly hub: Hub, private readonly onClose: (port: HubPort) => void) {
    hub.ports.add(this);
  }

  setReceiver(fn: FrameReceiver | null): void {
    this.receiver = fn;
  }

  /** From this port's peer (the vif) into the hub. */
  send(frame: Uint8Array): boolean {
    if (this.closed || !this.carrier) return false;
    return this.hub.forward(this, frame);
  }

  /** From the hub out to this port's peer; each peer gets its own copy, as it may keep it. */
  deliver(frame: Uint8Array): boolean {
    if (this.closed || !this.carrier || !this.receiver) return false;
    this.receiver(frame.slice());
    return true;
  }

  describe(): string {
    return `hubid=${this.hub.id}`;
  }

  setCarrier(on: boolean): void {
    this.carrier = on;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.ports.delete(this);
    this.onClose(this);
  }
}

/** Hubs come into being with their first port and go with their last, as in QEMU. */
export class Hubs {
  private readonly hubs = new Map<number, Hub>();

  addPort(id: string, hubid: number): HubPort {
    let hub = this.hubs.get(hubid);
    if (!hub) this.hubs.set(hubid, (hub = new Hub(hubid)));
    return new HubPort(id, hub, (port) => {
      if (port.hub.ports.size === 0) this.hubs.delete(port.hub.id);
    });
  }

  list(): Hub[] {
    return [...this.hubs.values()].sort((a, b) => a.id - b.id);
  }
}
