// What a queue holds from the platform while connected (netback's connect_data_rings): its two
// ring pages mapped from the frontend's grants and its event channel(s) bound. They are taken
// and given back by the control side, on the thread that owns the grant tables and event
// channels; the queue's datapath, wherever it runs, only uses them.

import type { GrantMapping } from '../../xen/emulated/grant-table.js';
import { ConnectFatal } from '../connect-fatal.js';
import type { Hypervisor } from '../xen-bus.js';
import type { QueueKeys } from './queue-config.js';

const EINVAL = 22;

/** Plain data (it crosses to a datapath thread): the frames of the mapped rings and our ports. */
export interface QueueResources {
  keys: QueueKeys;
  txFrame: number;
  rxFrame: number;
  /** Our bound ports; equal without split event channels. */
  txPort: number;
  rxPort: number;
}

export interface HeldQueue {
  resources: QueueResources;
  /** Unbinds the port(s) and unmaps both rings; idempotent. Errors are reported to `warn`. */
  release(warn: (message: string) => void): void;
}

/**
 * Maps both rings and binds the port(s); on failure undoes what it did and throws netback's
 * xenbus_dev_fatal ("mapping shared-frames ...") with the step that failed.
 */
export function acquireQueue(hv: Hypervisor, backend: number, frontend: number, keys: QueueKeys): HeldQueue {
  const grants = hv.grantTable(frontend);
  const maps: GrantMapping[] = [];
  const ports: number[] = [];
  try {
    maps.push(mapRing(() => grants.map(backend, keys.txRef, true), 'tx', keys.id));
    maps.push(mapRing(() => grants.map(backend, keys.rxRef, true), 'rx', keys.id));
    ports.push(bind(hv, backend, frontend, keys.txPort, keys.id));
    if (keys.split) ports.push(bind(hv, backend, frontend, keys.rxPort, keys.id));
  } catch (err) {
    for (const p of ports) hv.evtchn.close(backend, p);
    for (const m of maps) m.unmap();
    throw new ConnectFatal(EINVAL, `mapping shared-frames ${keys.txRef}/${keys.rxRef} port tx ${keys.txPort} ` +
      `rx ${keys.rxPort}: ${(err as Error).message}`);
  }
  const resources: QueueResources = {
    keys, txFrame: maps[0]!.frame, rxFrame: maps[1]!.frame, txPort: ports[0]!, rxPort: ports[1] ?? ports[0]!,
  };
  let released = false;
  return {
    resources,
    release(warn) {
      if (released) return;
      released = true;
      for (const port of ports) {
        try {
          hv.evtchn.close(backend, port);
        } catch (err) {
          warn(`queue ${keys.id}: closing event channel ${port} failed: ${(err as Error).message}`);
        }
      }
      for (const m of maps) m.unmap();
    },
  };
}

function mapRing(map: () => GrantMapping, which: string, id: number): GrantMapping {
  try {
    return map();
  } catch (err) {
    throw new Error(`queue ${id}: failed to map ${which} grant ref: ${(err as Error).message}`);
  }
}

function bind(hv: Hypervisor, backend: number, frontend: number, port: number, id: number): number {
  try {
    return hv.evtchn.bindInterdomain(backend, frontend, port);
  } catch (err) {
    throw new Error(`queue ${id}: failed to bind event channel ${port}: ${(err as Error).message}`);
  }
}
