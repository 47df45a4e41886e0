// The emulated hypervisor's grant copier in the native addon (native/grant-copy.c): in JS each
// copy needed a view on the guest's growable memory, which cost more than copying a small frame.

import { loadNativeAddon } from '../../common/native-addon.js';

/** A domain's grant entries and memory, opened for native copies on the calling thread. */
export type NativeGrantTable = { readonly __nativeGrantTable: unique symbol };

interface NativeGrants {
  grantTableOpen(entries: Uint8Array, pages: Uint8Array, watermark: Int32Array, maxPages: number,
    audit?: Uint8Array | null): NativeGrantTable;
  /** Checks and performs `count` ops; writes each op's GNTST status; returns how many failed. */
  grantCopy(table: NativeGrantTable, grantee: number, toPage: boolean, ops: Int32Array, count: number,
    local: Uint8Array): number;
}

export function nativeGrants(): NativeGrants {
  return loadNativeAddon() as NativeGrants;
}
