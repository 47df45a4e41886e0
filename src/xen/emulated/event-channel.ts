// Event channels (xen/include/public/event_channel.h), 2-level ABI: 4096 ports per domain.
//
// A frontend allocates an unbound port for the backend's domid; the backend binds an
// interdomain port to it; either side's send() raises the other's. Delivery is an upcall made
// later, never inside send(): pending bits coalesce repeated sends, and all pending ports are
// dispatched in one batch, as an interrupt handler would see them.

import { XenError } from '../errors.js';

export const EVTCHN_PORTS_PER_DOMAIN = 4096;

export type EvtchnStatus = 'closed' | 'unbound' | 'interdomain';

export interface EvtchnInfo {
  domid: number;
  port: number;
  status: EvtchnStatus;
  remoteDomid: number;
  remotePort: number;
  pending: boolean;
  masked: boolean;
  /** Sends delivered to this port (after coalescing). */
  upcalls: number;
}

type Handler = (port: number) => void;

/** A port's own state: what info() reports about it, plus its upcall handler. */
interface Port extends Omit<EvtchnInfo, 'domid' | 'port'> {
  handler: Handler | null;
  /** Set for a port served on another thread: raised there at once, through its doorbell. */
  remote: Handler | null;
}

export class EventChannels {
  private readonly domains = new Map<number, Map<number, Port>>();
  private readonly pendingQueue: Array<[number, number]> = [];
  private scheduled = false;

  addDomain(domid: number): void {
    if (!this.domains.has(domid)) this.domains.set(domid, new Map());
  }

  /** Closes every port of a dying domain; its peers see their ports go back to unbound. */
  removeDomain(domid: number): void {
    const ports = this.domains.get(domid);
    if (!ports) return;
    for (const port of [...ports.keys()]) this.close(domid, port);
    this.domains.delete(domid);
  }

  /** EVTCHNOP_alloc_unbound: a port in `domid` that `remoteDomid` may bind to. */
  allocUnbound(domid: number, remoteDomid: number): number {
    const port = this.freePort(domid);
    this.portsOf(domid).set(port, this.newPort('unbound', remoteDomid, 0));
    return port;
  }

  /** EVTCHNOP_bind_interdomain: binds a new local port to the peer's unbound port. */
  bindInterdomain(domid: number, remoteDomid: number, remotePort: number): number {
    const remote = this.portsOf(remoteDomid).get(remotePort);
    if (!remote || remote.status !== 'unbound' || remote.remoteDomid !== domid) {
      throw new XenError('EINVAL', `domain ${domid}: cannot bind to port ${remotePort} of domain ${remoteDomid}: ` +
        (!remote ? 'no such port' : remote.status !== 'unbound' ? `port is ${remote.status}` :
          `port is reserved for domain ${remote.remoteDomid}`));
    }
    const port = this.freePort(domid);
    this.portsOf(domid).set(port, this.newPort('interdomain', remoteDomid, remotePort));
    remote.status = 'interdomain';
    remote.remotePort = port;
    return port;
  }

  /** EVTCHNOP_close: the peer of an interdomain port returns to unbound, as in Xen. */
  close(domid: number, port: number): void {
    const p = this.lookup(domid, port);
    if (p.status === 'interdomain') {
      const peer = this.domains.get(p.remoteDomid)?.get(p.remotePort);
      if (peer && peer.status === 'interdomain' && peer.remotePort === port && peer.remoteDomid === domid) {
        peer.status = 'unbound';
        peer.remotePort = 0;
      }
    }
    this.portsOf(domid).delete(port);
  }

  /** EVTCHNOP_send: raises the peer's port. Sending on an unbound port is a no-op, as in Xen. */
  send(domid: number, port: number): void {
    const p = this.lookup(domid, port);
    if (p.status !== 'interdomain') return;
    this.raise(p.remoteDomid, p.remotePort);
  }

  /** Raises a port of `domid` directly, as QEMU's xen-event-inject does. */
  raise(domid: number, port: number): void {
    const target = this.domains.get(domid)?.get(port);
    if (!target) return;
    if (target.remote && !target.masked) {
      // The other thread's doorbell coalesces and defers, as pending bits do here.
      target.upcalls++;
      target.remote(port);
      return;
    }
    if (target.pending) return;
    target.pending = true;
    if (!target.masked) this.queue(domid, port);
  }

  setHandler(domid: number, port: number, handler: Handler | null): void {
    const p = this.lookup(domid, port);
    p.handler = handler;
    p.remote = null;
  }

  /**
   * The port is served on another thread: every raise goes straight to `ring` (a doorbell),
   * which coalesces and defers the upcall there. setHandler() takes the port back.
   */
  setRemote(domid: number, port: number, ring: Handler): void {
    const p = this.lookup(domid, port);
    p.handler = null;
    p.remote = ring;
    if (p.pending && !p.masked) {
      p.pending = false;
      ring(port);
    }
  }

  setMasked(domid: number, port: number, masked: boolean): void {
    const p = this.lookup(domid, port);
    p.masked = masked;
    if (!masked && p.pending) this.queue(domid, port);
  }

  /** A port's state; with `required` false, null for a port that does not exist instead of an error. */
  info(domid: number, port: number): EvtchnInfo;
  info(domid: number, port: number, required: false): EvtchnInfo | null;
  info(domid: number, port: number, required = true): EvtchnInfo | null {
    const p = required ? this.lookup(domid, port) : this.domains.get(domid)?.get(port);
    if (!p) return null;
    return { domid, port, status: p.status, remoteDomid: p.remoteDomid, remotePort: p.remotePort,
      pending: p.pending, masked: p.masked, upcalls: p.upcalls };
  }

  list(): EvtchnInfo[] {
    const out: EvtchnInfo[] = [];
    for (const [domid, ports] of this.domains) {
      for (const port of [...ports.keys()].sort((a, b) => a - b)) out.push(this.info(domid, port));
    }
    return out;
  }

  private queue(domid: number, port: number): void {
    this.pendingQueue.push([domid, port]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.dispatch());
    }
  }

  private dispatch(): void {
    this.scheduled = false;
    const batch = this.pendingQueue.splice(0);
    for (const [domid, port] of batch) {
      const p = this.domains.get(domid)?.get(port);
      if (!p || !p.pending || p.masked) continue;
      p.pending = false;
      p.upcalls++;
      if (p.remote) {
        p.remote(port);
      } else if (p.handler) {
        try {
          p.handler(port);
        } catch (err) {
          // One domain's broken handler must not stop upcalls to the others.
          process.emitWarning(`event channel upcall for domain ${domid} port ${port} failed: ${err instanceof Error ? err.stack : String(err)}`);
        }
      }
    }
  }

  private newPort(status: EvtchnStatus, remoteDomid: number, remotePort: number): Port {
    return { status, remoteDomid, remotePort, pending: false, masked: false, upcalls: 0, handler: null, remote: null };
  }

  private portsOf(domid: number): Map<number, Port> {
    const ports = this.domains.get(domid);
    if (!ports) throw new XenError('ESRCH', `no domain ${domid}`);
    return ports;
  }

  private lookup(domid: number, port: number): Port {
    const p = this.portsOf(domid).get(port);
    if (!p) throw new XenError('EINVAL', `domain ${domid}: no event channel port ${port}`);
    return p;
  }

  /** Port 0 is never valid (it means "none" everywhere in Xen). */
  private freePort(domid: number): number {
    const ports = this.portsOf(domid);
    for (let port = 1; port < EVTCHN_PORTS_PER_DOMAIN; port++) {
      if (!ports.has(port)) return port;
    }
    throw new XenError('ENOSPC', `domain ${domid}: no free event channel port`);
  }
}
