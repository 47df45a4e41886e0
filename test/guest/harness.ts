// Shared set-up for the guest tests: a platform with guest domain 1, a Guest on an
// unprivileged connection, and QEMU-like peers for its vifs.

import { Guest } from '../../src/guest/guest.js';
import type { NetfrontOptions } from '../../src/guest/netfront.js';
import type { GuestXs } from '../../src/guest/xs.js';
import type { Domain } from '../../src/xen/emulated/domain.js';
import { EmulatedPlatform } from '../../src/xen/emulated/platform.js';
import type { XsConnection } from '../../src/xen/xenstore/index.js';
import { QemuPeer, type PeerOptions } from './qemu-peer.js';

export const GUEST_DOMID = 1;

export async function eventually(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export interface Rig {
  platform: EmulatedPlatform;
  domain: Domain;
  xs: XsConnection;
  guest: Guest;
  /** Grant refs and pages the guest had before any vif connected. */
  baseline: { freeRefs: number; pages: number };
  peer(opts?: PeerOptions): QemuPeer;
  /** Resources the guest holds beyond the baseline: grants, pages, event channel ports. */
  held(): { grants: number; pages: number; ports: number };
}

export const FAST: NetfrontOptions = { settleMs: 20, closeTimeoutMs: 500, deferredRetryMs: 10 };

export async function rig(opts: { netfront?: NetfrontOptions; wrap?: (xs: XsConnection) => GuestXs; log?: string[] } = {}): Promise<Rig> {
  const platform = new EmulatedPlatform();
  const domain = platform.createDomain(GUEST_DOMID, 'guest1');
  const xs = platform.xenstore.connect(GUEST_DOMID);
  const log = opts.log;
  const guest = new Guest(domain, opts.wrap ? opts.wrap(xs) : xs, platform.channels, {
    netfront: { ...FAST, ...opts.netfront },
    ...(log ? { log: (line: string) => log.push(line) } : {}),
  });
  const baseline = { freeRefs: domain.grants.freeCount, pages: domain.memory.pagesInUse };
  await guest.start();
  return {
    platform,
    domain,
    xs,
    guest,
    baseline,
    peer: (p) => {
      const peer = new QemuPeer(platform, domain, p);
      peer.create();
      return peer;
    },
    held: () => ({
      grants: baseline.freeRefs - domain.grants.freeCount,
      pages: domain.memory.pagesInUse - baseline.pages,
      ports: platform.channels.list().filter((p) => p.domid === GUEST_DOMID).length,
    }),
  };
}

export async function connected(r: Rig, peer: QemuPeer): Promise<void> {
  await eventually(() => {
    const nf = r.guest.vifs.get(peer.devid)?.netfront;
    return nf?.state === 4 && nf.backendState === 4 && peer.state === 4;
  }, `vif ${peer.devid} connected (and the frontend has seen the backend Connected)`);
}
