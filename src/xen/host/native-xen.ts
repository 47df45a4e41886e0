// The part of the native addon a real dom0 needs (native/xen-host.c): /dev/xen/gntdev and
// /dev/xen/evtchn, and fd readiness from the event loop (native/poll.c).

import { loadNativeAddon } from '../../common/native-addon.js';

export interface GntdevMapping {
  /** gntdev's index of the mapping (the mmap offset), for the unmap. */
  index: number;
  /** Where it is mapped in this process (what another thread attaches). */
  addr: number;
  page: ArrayBuffer;
}

interface NativeXen {
  xenDevOpen(path: string, nonblocking: boolean): number;
  close(fd: number): void;
  gntdevMapRef(fd: number, domid: number, ref: number, writable: boolean): GntdevMapping;
  gntdevUnmap(fd: number, index: number, addr: number, page: ArrayBuffer): void;
  gntdevAttach(addr: number): ArrayBuffer;
  /** GrantCopyBatch's ops through IOCTL_GNTDEV_GRANT_COPY; writes each op's GNTST status; returns how many failed. */
  gntdevCopy(fd: number, domid: number, toPage: boolean, ops: Int32Array, count: number, local: Uint8Array): number;
  evtchnBindInterdomain(fd: number, domid: number, remotePort: number): number;
  evtchnUnbind(fd: number, port: number): void;
  evtchnNotify(fd: number, port: number): void;
  evtchnPending(fd: number, ports: Uint32Array): number;
  evtchnUnmask(fd: number, ports: Uint32Array, count: number): void;
  pollStart(fd: number, onReadable: (status: number) => void): unknown;
  pollStop(handle: unknown): void;
}

export function nativeXen(): NativeXen {
  return loadNativeAddon() as NativeXen;
}
