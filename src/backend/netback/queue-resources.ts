// What a queue holds from the platform while connected (netback's connect_data_rings): its two
// ring pages mapped from the frontend's grants and its event channel(s) bound. They are taken
// and given back by the control side, on the platform's thread, with the binder of the thread
// the queue's datapath runs on; the datapath, wherever it runs, only uses them.

import type { EvtchnBinder, GrantMapper, GrantMapping, Handoff } from '../../xen/backend-ops.js';
import { ConnectFatal } from '../connect-fatal.js';
import { EINVAL } from '../../common/errno.js';
import type { QueueKeys } from './queue-config.js';

/** Plain data (it crosses to a datapath thread): the mapped rings and our bound ports. */
export interface QueueResources {
  keys: QueueKeys;
  txRing: Handoff;
  rxRing: Handoff;
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
export function acquireQueue(grants: GrantMapper, evtchn: EvtchnBinder, frontend: number, keys: QueueKeys): HeldQueue {
  const maps: GrantMapping[] = [];
  const ports: number[] = [];
  try {
    maps.push(mapRing(() => grants.mapRef(frontend, keys.txRef, true), 'tx', keys.id));
    maps.push(mapRing(() => grants.mapRef(frontend, keys.rxRef, true), 'rx', keys.id));
    ports.push(bind(evtchn, frontend, keys.txPort, keys.id));
    if (keys.split) ports.push(bind(evtchn, frontend, keys.rxPort, keys.id));
  } catch (err) {
    for (const p of ports) evtchn.unbind(p);
    for (const m of maps) m.unmap();
    throw new ConnectFatal(EINVAL, `mapping shared-frames ${keys.txRef}/${keys.rxRef} port tx ${keys.txPort} ` +
      `rx ${keys.rxPort}: ${(err as Error).message}`, { cause: err });
  }
  const resources: QueueResources = {
    keys, txRing: maps[0]!.handoff, rxRing: maps[1]!.handoff, txPort: ports[0]!, rxPort: ports[1] ?? ports[0]!,
  };
  let released = false;
  return {
    resources,
    release(warn) {
      if (released) return;
      released = true;
      for (const port of ports) {
        try {
          evtchn.unbind(port);
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
    throw new Error(`queue ${id}: failed to map ${which} grant ref: ${(err as Error).message}`, { cause: err });
  }
}

function bind(evtchn: EvtchnBinder, frontend: number, port: number, id: number): number {
  try {
    return evtchn.bindInterdomain(frontend, port);
  } catch (err) {
    throw new Error(`queue ${id}: failed to bind event channel ${port}: ${(err as Error).message}`, { cause: err });
  }
}
