// Grants on a real Xen, through /dev/xen/gntdev as libxengnttab uses it: a frontend's ring page
// mapped into this process (IOCTL_GNTDEV_MAP_GRANT_REF, then mmap at the index it gives; unmap
// in reverse), and packet data copied through grants in batches (IOCTL_GNTDEV_GRANT_COPY), the
// hypervisor checking every op as it checks a GNTTABOP_copy. One fd serves every thread: a
// mapping lives in the process, so another thread attaches the same page by its address.

import type { GrantCopier, GrantMapper, GrantMapping, Handoff } from '../backend-ops.js';
import { XenError } from '../errors.js';
import type { GrantCopyBatch } from '../grant-copy-batch.js';
import { nativeXen } from './native-xen.js';

export const GNTDEV_PATH = '/dev/xen/gntdev';

/** A mapping made by gntdev: where it lies in this process. */
export interface HostMappingHandoff extends Handoff {
  readonly platform: 'host';
  readonly addr: number;
}

export class Gntdev implements GrantMapper, GrantCopier {
  /** Pages are read through copies only: the guest can change a mapped page under a reader. */
  readonly direct = null;

  /** `owned`: this object closes the fd (another thread's Gntdev on the same fd does not). */
  constructor(readonly fd: number, private readonly owned = false) {}

  static open(path = GNTDEV_PATH): Gntdev {
    try {
      return new Gntdev(nativeXen().xenDevOpen(path, false), true);
    } catch (err) {
      throw new XenError('ENODEV', `cannot open ${path} (is this a Xen dom0 with xen-gntdev loaded?): ${(err as Error).message}`,
        { cause: err });
    }
  }

  mapRef(domid: number, ref: number, writable: boolean): GrantMapping {
    let m;
    try {
      m = nativeXen().gntdevMapRef(this.fd, domid, ref, writable);
    } catch (err) {
      throw new XenError('EGRANT', `gntdev: map of domain ${domid}'s grant ref ${ref}: ${(err as Error).message}`, { cause: err });
    }
    let mapped = true;
    const handoff: HostMappingHandoff = { platform: 'host', addr: m.addr };
    return {
      ref,
      page: new Uint8Array(m.page),
      handoff,
      unmap: () => {
        if (!mapped) return;
        mapped = false;
        nativeXen().gntdevUnmap(this.fd, m.index, m.addr, m.page);
      },
    };
  }

  copy(domid: number, toPage: boolean, batch: GrantCopyBatch, local: Uint8Array): number {
    if (batch.count === 0) return 0;
    return nativeXen().gntdevCopy(this.fd, domid, toPage, batch.ops, batch.count, local);
  }

  /** The page of a mapping this process made, seen from this thread. */
  attach(mapping: Handoff): Uint8Array {
    const m = mapping as HostMappingHandoff;
    if (m.platform !== 'host') throw new TypeError(`a ${m.platform} platform's mapping given to the host platform`);
    return new Uint8Array(nativeXen().gntdevAttach(m.addr));
  }

  close(): void {
    if (this.owned) nativeXen().close(this.fd);
  }
}
