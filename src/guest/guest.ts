// A simulated guest domain's network side: its xenbus frontend bus for `vif` devices, one
// netfront per device and a minimal IPv4 stack on each (10.<domid>.<devid>.2/24).
//
// The guest only ever uses what a real PV guest has: its own domain (memory, grant table), an
// unprivileged xenstore connection for its domid, and event channels.

import { xenbusStateName } from '../protocol/xenbus.js';
import type { Domain } from '../xen/emulated/domain.js';
import type { EventChannels } from '../xen/emulated/event-channel.js';
import type { NetfrontCounters } from './netfront-queue.js';
import { Netfront, type NetfrontOptions } from './netfront.js';
import { formatIpv4 } from './packet.js';
import { NetStack, type StackCounters, vifAddress } from './stack.js';
import { XenbusFrontend } from './xenbus-frontend.js';
import { GuestTransport } from './transport.js';
import { defaultGuestLog, errorText, type GuestLog, type GuestXs, XsWatches } from './xs.js';

export interface GuestOptions {
  log?: GuestLog;
  netfront?: Omit<NetfrontOptions, 'log'>;
}

export interface GuestVif {
  readonly devid: number;
  readonly netfront: Netfront;
  /** Null when the domid or devid does not fit the 10.D.N.2 plan. */
  readonly stack: NetStack | null;
  /** UDP echo and TCP (echo, discard, and what tests listen on) over the stack. */
  readonly transport: GuestTransport | null;
}

export interface GuestVifSummary {
  devid: number;
  mac: string | null;
  address: string | null;
  state: string;
  backendState: string;
  /** The link the backend publishes (set_link); the stack does not send while it is off. */
  carrier: boolean;
  backend: string | null;
  broken: string | null;
  error: string | null;
  /** Queues connected (0 while unconnected). */
  queues: number;
  counters: NetfrontCounters;
  stack: StackCounters | null;
}

export interface GuestSummary {
  domid: number;
  name: string;
  running: boolean;
  vifs: GuestVifSummary[];
}

export class Guest {
  readonly vifs = new Map<number, GuestVif>();
  private readonly log: GuestLog;
  private watches: XsWatches | null = null;
  private bus: XenbusFrontend<GuestVif> | null = null;
  private running = false;

  constructor(readonly domain: Domain, private readonly xs: GuestXs, private readonly evtchn: EventChannels,
    private readonly opts: GuestOptions = {}) {
    this.log = opts.log ?? defaultGuestLog;
  }

  get domid(): number {
    return this.domain.domid;
  }

  get name(): string {
    return this.domain.name;
  }

  /** Starts the xenbus frontend: existing and future vif directories are probed. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.watches = new XsWatches(this.xs, `guest-${this.domid}`, this.log);
    this.bus = new XenbusFrontend<GuestVif>(this.xs, this.watches, this.domid, 'vif', {
      probe: (devid) => this.probe(devid),
      remove: (vif) => this.remove(vif),
    }, this.log);
    await this.bus.start();
  }

  /** Closes every vif in order (each waits for its backend, bounded) and stops watching. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const bus = this.bus;
    this.bus = null;
    await bus?.stop();
    await Promise.all([...this.vifs.values()].map(async (vif) => {
      try {
        await vif.netfront.close();
      } catch (err) {
        this.log(`guest ${this.domid}: closing vif ${vif.devid} failed: ${errorText(err)}`);
        vif.netfront.destroy();
      }
      vif.transport?.close();
      vif.stack?.close();
    }));
    this.vifs.clear();
    this.watches?.dispose();
    this.watches = null;
  }

  /** Resolves once pending device scans and xenbus reactions have run (tests and tools). */
  async settled(): Promise<void> {
    await this.bus?.settled();
    await Promise.all([...this.vifs.values()].map((v) => v.netfront.settled()));
  }

  summary(): GuestSummary {
    return {
      domid: this.domid,
      name: this.name,
      running: this.running,
      vifs: [...this.vifs.values()].sort((a, b) => a.devid - b.devid).map((vif) => {
        const nf = vif.netfront.summary();
        return {
          devid: vif.devid,
          mac: nf.mac,
          address: vif.stack?.addressText ?? null,
          state: nf.state,
          backendState: nf.backendState,
          carrier: nf.carrier,
          backend: nf.backend,
          broken: nf.broken,
          error: nf.error,
          queues: nf.queues.length,
          counters: nf.counters,
          stack: vif.stack ? { ...vif.stack.counters, ignoredBy: { ...vif.stack.counters.ignoredBy } } : null,
        };
      }),
    };
  }

  private async probe(devid: number): Promise<GuestVif> {
    const netfront = new Netfront(this.domain, this.xs, this.watches!, this.evtchn, devid,
      { ...this.opts.netfront, log: this.log });
    const plan = vifAddress(this.domid, devid);
    const stack = plan ? new NetStack(netfront, { ...plan, log: this.log }) : null;
    if (stack) {
      netfront.onFrame = (frame, info) => stack.receive(frame, { checksumVerified: info.dataValidated });
      netfront.onTxSpace = () => stack.writable();
      netfront.on('backend-connected', () => stack.announce());
      // Carrier back after set_link: tell the segment again, as Linux does when a link returns.
      netfront.on('carrier', (on) => { if (on) stack.announce(); });
    } else {
      this.log(`guest ${this.domid}: vif ${devid} has no 10.D.N.2 address; its frames are dropped`);
    }
    netfront.on('state', (state) => {
      if (stack) this.log(`guest ${this.domid}: vif ${devid} (${formatIpv4(stack.address)}) is ${xenbusStateName(state)}`);
    });
    const vif: GuestVif = { devid, netfront, stack, transport: stack ? new GuestTransport(stack) : null };
    this.vifs.set(devid, vif);
    try {
      await netfront.start();
    } catch (err) {
      this.vifs.delete(devid);
      netfront.destroy();
      vif.transport?.close();
      stack?.close();
      throw err;
    }
    return vif;
  }

  private remove(vif: GuestVif): void {
    vif.netfront.destroy();
    vif.transport?.close();
    vif.stack?.close();
    if (this.vifs.get(vif.devid) === vif) this.vifs.delete(vif.devid);
  }
}
