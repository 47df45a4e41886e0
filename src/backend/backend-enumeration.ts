// Toolstack-created backends (QEMU's xen_bus_enumerate and xen_bus_backend_changed, hw/xen/xen-bus.c,
// from its "xen: add a mechanism to automatically create XenDevice-s"): a toolstack instantiates a
// backend by writing keys under /local/domain/<be>/backend/<type>/<fe>/<devid> and expects the
// backend to be watching. An entry is a candidate when its `state` is 1 (Initialising) and its
// `online` is 1; everything else it holds, except the keys the bus itself manages (state,
// online, frontend, frontend-id, hotplug-status), is handed to the device type as options.
//
// Reads are not transactional, as in QEMU: a toolstack writes an entry in one transaction, and
// one written key by key is simply seen again on the next watch event.

import { directoryOrEmpty, isXsError, type XsHandle } from '../xen/xenstore/index.js';

export interface DiscoveredBackend {
  readonly type: string;
  readonly frontendId: number;
  readonly devid: number;
  /** The backend directory. */
  readonly path: string;
  /** The entry's other keys, e.g. mac, script, vifname, bridge (QEMU's `opts`). */
  readonly options: Readonly<Record<string, string>>;
}

/** Keys the bus owns; QEMU leaves them out of the options too. */
export const BUS_KEYS: readonly string[] = ['state', 'online', 'frontend', 'frontend-id', 'hotplug-status'];

const NUMBER = /^(0|[1-9][0-9]{0,4})$/;

/** The entries under `area` (`.../backend/<type>`) that ask for a device, in directory order. */
export function findBackendCandidates(xs: XsHandle, area: string, type: string): DiscoveredBackend[] {
  const out: DiscoveredBackend[] = [];
  for (const fe of directoryOrEmpty(xs, area)) {
    if (!NUMBER.test(fe)) continue;
    for (const devid of directoryOrEmpty(xs, `${area}/${fe}`)) {
      if (!NUMBER.test(devid)) continue;
      const path = `${area}/${fe}/${devid}`;
      const entry = readCandidate(xs, path);
      if (entry) out.push({ type, frontendId: Number(fe), devid: Number(devid), path, options: entry });
    }
  }
  return out;
}

function readCandidate(xs: XsHandle, path: string): Record<string, string> | null {
  try {
    if (xs.readString(`${path}/state`) !== '1' || xs.readString(`${path}/online`) !== '1') return null;
    const options: Record<string, string> = {};
    for (const key of xs.directory(path)) {
      if (BUS_KEYS.includes(key)) continue;
      const value = xs.readString(`${path}/${key}`);
      if (value !== undefined) options[key] = value;
    }
    return options;
  } catch (err) {
    // Removed while we looked: not a candidate any more.
    if (isXsError(err, 'ENOENT')) return null;
    throw err;
  }
}
