// A real Xen's domains as the dashboard and __com.vifd_query-guests show guests: each domain's
// name and its vifs as xenstore shows them (the frontend's state, MAC and queues, the
// backend's state and link). What a real netfront keeps inside its guest (addresses, its own
// counters) is not vifd's to see.

import { parseXenbusState, xenbusStateName, XenbusState } from '../protocol/xenbus.js';
import type { Domains } from '../xen/backend-ops.js';
import type { XsHandle } from '../xen/xenstore/index.js';
import type { GuestSummary, GuestVifSummary } from '../guest/guest.js';
import { newCounters } from '../guest/netfront-queue.js';

function readOrNull(xs: XsHandle, path: string): string | null {
  try {
    return xs.readString(path) ?? null;
  } catch {
    return null;
  }
}

function vifOf(xs: XsHandle, domid: number, devid: number): GuestVifSummary {
  const fe = `/local/domain/${domid}/device/vif/${devid}`;
  const backend = readOrNull(xs, `${fe}/backend`);
  const state = parseXenbusState(readOrNull(xs, `${fe}/state`) ?? undefined);
  const backendState = parseXenbusState(backend ? readOrNull(xs, `${backend}/state`) ?? undefined : undefined);
  const queues = Number(readOrNull(xs, `${fe}/multi-queue-num-queues`) ?? (state === XenbusState.Connected ? 1 : 0));
  return {
    devid,
    mac: readOrNull(xs, `${fe}/mac`),
    address: null,
    state: xenbusStateName(state),
    backendState: xenbusStateName(backendState),
    // The backend's link (set_link), as vifd's own backends publish it; others have none, so up.
    carrier: (backend ? readOrNull(xs, `${backend}/link-state`) : null) !== '0',
    backend,
    broken: null,
    error: backend ? readOrNull(xs, `${backend.replace(/^\/local\/domain\/(\d+)\/backend\//, '/local/domain/$1/error/backend/')}/error`) : null,
    queues: Number.isInteger(queues) ? queues : 0,
    counters: newCounters(),
    stack: null,
  };
}

/** One summary per domain, read afresh from xenstore each time. */
export function realDomainSummaries(domains: Domains, xs: XsHandle): Array<{ summary(): GuestSummary }> {
  return domains.list().map(({ domid, name }) => ({
    summary(): GuestSummary {
      let devids: number[] = [];
      try {
        devids = xs.directory(`/local/domain/${domid}/device/vif`).filter((d) => /^\d+$/.test(d)).map(Number);
      } catch {
        // No vif directory yet: a domain without vifs.
      }
      return { domid, name: name ?? `domain${domid}`, running: true, vifs: devids.sort((a, b) => a - b).map((d) => vifOf(xs, domid, d)) };
    },
  }));
}
