// A datapath thread's link to the emulated platform, both ends. The emulator's event channels
// live on the platform's thread, so a port served on the datapath thread is bound there and
// rung across by a doorbell each way (evtchn-doorbell.ts, laid out as Xen's 2-level ABI): the
// frontend's sends ring the inbound one, the datapath's notifies ring the outbound one. Grant
// copies need no crossing: guest memory and grant entries are shared memory, and the thread
// checks every copy itself, exactly as the owner does (grant-ops.ts).

import type { DatapathPlatform, EvtchnBinder, EvtchnPorts, Handoff, ThreadLink, Upcall } from '../backend-ops.js';
import type { EventChannels } from './event-channel.js';
import { Doorbell } from './evtchn-doorbell.js';
import { EmulatedGrants, type EmulatedMappingHandoff } from './grant-ops.js';
import { GrantTable } from './grant-table.js';

export interface EmulatedThreadHandoff extends Handoff {
  readonly platform: 'emulated';
  readonly backendDomid: number;
  /** Ports the platform's thread raises for the datapath thread (the frontends' sends). */
  readonly inbound: SharedArrayBuffer;
  /** Ports the datapath thread raises (its notifies to the frontends). */
  readonly outbound: SharedArrayBuffer;
}

/**
 * How long the thread watches for the next event after a pass before it sleeps: frontends that
 * keep sending then ring it for two atomic operations instead of a cross-thread wake-up
 * (netback's NAPI polling, in spirit).
 */
const SPIN_MICROS = 50;

/** The platform's end, on its own thread. */
export class EmulatedThreadLink implements ThreadLink {
  readonly evtchn: EvtchnBinder;
  readonly handoff: EmulatedThreadHandoff;
  private readonly inbound = new Doorbell();
  private readonly outbound = new Doorbell();
  private readonly listener: { stop(): void };

  constructor(channels: EventChannels, backendDomid: number) {
    this.listener = this.outbound.listen((port) => {
      try {
        channels.send(backendDomid, port);
      } catch {
        // The port was closed since: its vif has disconnected.
      }
    });
    this.evtchn = {
      bindInterdomain: (domid, remotePort) => {
        const port = channels.bindInterdomain(backendDomid, domid, remotePort);
        channels.setRemote(backendDomid, port, () => this.inbound.ring(port));
        return port;
      },
      unbind: (port) => {
        if (channels.info(backendDomid, port, false)) channels.close(backendDomid, port);
      },
    };
    this.handoff = { platform: 'emulated', backendDomid, inbound: this.inbound.buffer, outbound: this.outbound.buffer };
  }

  close(): void {
    this.listener.stop();
  }
}

/** The datapath thread's end: copies checked here, upcalls and notifies through the doorbells. */
export class EmulatedThreadDatapath implements DatapathPlatform {
  readonly grants: EmulatedGrants;
  readonly evtchn: EvtchnPorts;
  /** The granting domains' tables, as the mappings made on the platform's thread name them. */
  private readonly tables = new Map<number, GrantTable>();
  private readonly upcalls = new Map<number, Upcall>();
  private readonly listener: { stop(): void };

  constructor(h: EmulatedThreadHandoff, reportError: (err: unknown, port: number) => void) {
    // The granting domain runs on another thread: no zero-copy reads here.
    this.grants = new EmulatedGrants(h.backendDomid, (domid) => this.tables.get(domid));
    const outbound = new Doorbell(h.outbound);
    this.evtchn = {
      setUpcall: (port, upcall) => {
        if (upcall) this.upcalls.set(port, upcall);
        else this.upcalls.delete(port);
      },
      notify: (port) => outbound.ring(port),
    };
    this.listener = new Doorbell(h.inbound).listen((port) => {
      const upcall = this.upcalls.get(port);
      if (!upcall) return;
      try {
        upcall(port);
      } catch (err) {
        reportError(err, port);
      }
    }, SPIN_MICROS);
  }

  attach(mapping: Handoff): Uint8Array {
    const m = mapping as EmulatedMappingHandoff;
    if (m.platform !== 'emulated') throw new TypeError(`a ${m.platform} platform's mapping given to the emulated platform`);
    let t = this.tables.get(m.table.owner);
    // A domain destroyed and made again under its domid has new memory: take the new table.
    if (!t || t.entries.buffer !== m.table.entries) {
      t = GrantTable.attach(m.table);
      this.tables.set(m.table.owner, t);
    }
    return t.memory.page(m.frame);
  }

  close(): void {
    this.listener.stop();
  }
}
