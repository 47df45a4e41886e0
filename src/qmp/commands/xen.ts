// xen-event-list and xen-event-inject as QEMU's Xen emulation defines them
// (hw/i386/kvm/xen_evtchn.c), on the emulated event channels. QEMU emulates one guest; vifd
// may run several, and these commands act on the first (lowest domid), as QEMU's would on its
// only one. Ports bound to vifd's backends (dom0) are QEMU's "qemu" remote domain. On a real
// Xen there is nothing emulated to list or inject, and both answer as QEMU does there.

import { VifdError } from '../../common/errors.js';
import { EVTCHN_PORTS_PER_DOMAIN, type EventChannels } from '../../xen/emulated/event-channel.js';
import type { Dispatcher } from '../dispatcher.js';

export interface XenEventHost {
  readonly evtchn: EventChannels;
  /** The simulated guests' domids, lowest first. */
  guestDomids(): number[];
  /** The domain vifd's backends run in. */
  readonly backendDomid: number;
}

/** QEMU's PORT_INFO_TYPEVAL_REMOTE_QEMU: an unbound port reserved for QEMU's backends. */
const REMOTE_QEMU = 0x8000;

/** `host` null: vifd runs on a real Xen. */
export function registerXenCommands(d: Dispatcher, host: XenEventHost | null): void {
  d.register('xen-event-list', () => {
    if (!host) throw new VifdError('XEN_EVTCHN_NOT_EMULATED');
    const domid = host.guestDomids()[0];
    if (domid === undefined) return [];
    return host.evtchn.list().filter((p) => p.domid === domid && p.status !== 'closed').map((p) => {
      const toBackend = p.remoteDomid === host.backendDomid;
      const interdomain = p.status === 'interdomain';
      return {
        port: p.port,
        vcpu: 0,
        type: p.status,
        // QEMU leaves remote-domain unset (printed "") except for interdomain ports.
        'remote-domain': !interdomain ? '' : toBackend ? 'qemu' : p.remoteDomid === domid ? 'loopback' : String(p.remoteDomid),
        target: interdomain ? p.remotePort : toBackend ? REMOTE_QEMU : p.remoteDomid,
        pending: p.pending,
        masked: p.masked,
      };
    });
  });

  d.register('xen-event-inject', ({ port }) => {
    if (!host) throw new VifdError('XEN_EVTCHN_NOT_EMULATED');
    if (port >= EVTCHN_PORTS_PER_DOMAIN) throw new VifdError('XEN_EVTCHN_INVALID_PORT', port);
    const domid = host.guestDomids()[0];
    const open = domid !== undefined && host.evtchn.list().some((p) => p.domid === domid && p.port === port);
    if (!open) throw new VifdError('XEN_EVTCHN_SET_FAILED', port);
    host.evtchn.raise(domid, port);
    return {};
  });
}
