// The backend domain's event channel handle on the emulated platform's own thread: the seam's
// EvtchnHandle (backend-ops.ts) over the emulator's channels, as QEMU fills
// evtchn_backend_ops from its Xen emulation (hw/i386/kvm/xen_evtchn.c).

import type { EvtchnHandle, Upcall } from '../backend-ops.js';
import type { EventChannels } from './event-channel.js';

export class EmulatedEvtchnHandle implements EvtchnHandle {
  constructor(private readonly channels: EventChannels, private readonly domid: number) {}

  bindInterdomain(domid: number, remotePort: number): number {
    return this.channels.bindInterdomain(this.domid, domid, remotePort);
  }

  unbind(port: number): void {
    if (this.channels.info(this.domid, port, false)) this.channels.close(this.domid, port);
  }

  setUpcall(port: number, upcall: Upcall | null): void {
    // A port closed meanwhile (its domain went) has nothing left to forget.
    if (upcall === null && !this.channels.info(this.domid, port, false)) return;
    this.channels.setHandler(this.domid, port, upcall);
  }

  notify(port: number): void {
    this.channels.send(this.domid, port);
  }
}
