// The emulated hypervisor's side of grant tables (GNTTABOP_map_grant_ref, unmap and copy), for
// one grantee domain: every use of an entry is checked as Xen checks it (ref in range,
// permit_access, granted to the caller's domid, readonly respected, a frame the granting domain
// has, copies inside one page), reading the entry once, so the page used is the frame checked
// whatever the granting domain writes meanwhile. It fills the platform seam's grant tables
// (backend-ops.ts: GrantMapper, GrantCopier) for the emulated platform.

import type { DirectGrantAccess, GrantCopier, GrantMapper, GrantMapping } from '../backend-ops.js';
import { GrantError, XenError } from '../errors.js';
import { GNTST, GTF } from '../grant-abi.js';
import { GrantCopyBatch } from '../grant-copy-batch.js';
import { PAGE_SIZE } from '../../protocol/ring.js';
import type { GrantTable, SharedGrantTable } from './grant-table.js';
import { nativeGrants, type NativeGrantTable } from './native-grants.js';

const ENTRY_SIZE = 8;

/** What a mapping hands another thread: the granting domain's table and the frame mapped. */
export interface EmulatedMappingHandoff {
  readonly platform: 'emulated';
  readonly table: SharedGrantTable;
  readonly frame: number;
}

/** This thread's native view of each table it has copied through (opened on first use). */
const nativeTables = new WeakMap<GrantTable, NativeGrantTable>();

function nativeTable(t: GrantTable): NativeGrantTable {
  let n = nativeTables.get(t);
  if (!n) {
    const shared = t.memory.shared();
    n = nativeGrants().grantTableOpen(new Uint8Array(t.entries.buffer), t.memory.bytes,
      new Int32Array(shared.watermark), shared.maxPages, t.audit);
    nativeTables.set(t, n);
  }
  return n;
}

/**
 * Validates one use of an entry, reading it once: the frame it grants (≥ 0), or a negative
 * GNTST status. native/grant-copy.c's check_entry() is its twin for copies, held to the same
 * statuses by test/xen/emulated/grant-copy-batch.test.ts.
 */
export function checkGrant(t: GrantTable, grantee: number, ref: number, writable: boolean): number {
  if (!Number.isInteger(ref) || ref < 0 || ref >= t.nrEntries) return GNTST.bad_gntref;
  // Field by field rather than readEntry(): this runs per frame and allocates nothing.
  const at = ref * ENTRY_SIZE;
  const flags = t.entries.getUint16(at, true);
  const domid = t.entries.getUint16(at + 2, true);
  const frame = t.entries.getUint32(at + 4, true);
  if ((flags & GTF.type_mask) !== GTF.permit_access) return GNTST.bad_gntref;
  if (domid !== grantee) return GNTST.permission_denied;
  if (writable && flags & GTF.readonly) return GNTST.permission_denied;
  if (!t.memory.isValidFrame(frame)) return GNTST.bad_page;
  return frame;
}

/** `len` bytes at `offset` lie inside one page; negative values never pass. */
function spanFitsPage(offset: number, len: number): boolean {
  return offset >= 0 && len >= 0 && offset + len <= PAGE_SIZE;
}

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff;
}

export interface EmulatedGrantsOptions {
  /**
   * Offer DirectGrantAccess (zero-copy reads of granted pages): only where the granting domain
   * runs on this thread, so it cannot end a grant between the check and the read.
   */
  direct?: boolean;
}

export class EmulatedGrants implements GrantMapper, GrantCopier {
  readonly direct: DirectGrantAccess | null;
  /** copyFrom() and copyTo(): a batch of one. */
  private readonly one = new GrantCopyBatch(1);

  /** `tableOf` finds a granting domain's table; undefined for a domain that does not exist. */
  constructor(readonly grantee: number, private readonly tableOf: (domid: number) => GrantTable | undefined,
    opts: EmulatedGrantsOptions = {}) {
    this.direct = opts.direct ? {
      readableAt: (domid, ref, offset, len) => this.readableAt(domid, ref, offset, len),
      memory: (domid) => this.table(domid).memory.bytes,
    } : null;
  }

  mapRef(domid: number, ref: number, writable: boolean): GrantMapping {
    const t = this.table(domid);
    const frame = checkGrant(t, this.grantee, ref, writable);
    if (frame < 0) throw new GrantError(frame, `domain ${this.grantee}: map of domain ${domid}'s grant ref ${ref}`);
    t.countMapping(ref, writable, 1);
    let mapped = true;
    const handoff: EmulatedMappingHandoff = { platform: 'emulated', table: t.shared(), frame };
    return {
      ref,
      page: t.memory.page(frame),
      handoff,
      unmap: () => {
        if (!mapped) return;
        mapped = false;
        t.countMapping(ref, writable, -1);
      },
    };
  }

  /**
   * GNTTABOP_copy with an array of ops, all between `domid`'s granted pages and `local` in one
   * direction (`toPage`: into the pages, which must then be writable). Each op is checked on its
   * own and gets its GNTST status in the batch; returns how many failed.
   */
  copy(domid: number, toPage: boolean, batch: GrantCopyBatch, local: Uint8Array): number {
    if (batch.count === 0) return 0;
    const t = this.tableOf(domid);
    if (!t) {
      for (let i = 0; i < batch.count; i++) batch.setStatus(i, GNTST.bad_domain);
      return batch.count;
    }
    return nativeGrants().grantCopy(nativeTable(t), this.grantee, toPage, batch.ops, batch.count, local);
  }

  /** One op from a granted page into `dst`; its GNTST status. */
  copyFrom(domid: number, ref: number, offset: number, dst: Uint8Array, dstOffset: number, len: number): number {
    return this.copyOne(domid, ref, offset, dst, dstOffset, len, false);
  }

  /** One op from `src` into a granted page; its GNTST status. */
  copyTo(domid: number, ref: number, offset: number, src: Uint8Array, srcOffset: number, len: number): number {
    return this.copyOne(domid, ref, offset, src, srcOffset, len, true);
  }

  /**
   * Where `len` bytes at `offset` of a page granted readable lie in the granting domain's memory
   * (its `memory.bytes`), checked as a copy from it would be; or a negative GNTST status.
   */
  readableAt(domid: number, ref: number, offset: number, len: number): number {
    if (!spanFitsPage(offset, len)) return GNTST.bad_copy_arg;
    const t = this.tableOf(domid);
    if (!t) return GNTST.bad_domain;
    const frame = checkGrant(t, this.grantee, ref, false);
    if (frame < 0) return frame;
    if (t.audit && frame < t.audit.length) t.audit[frame]! |= 1;
    return frame * PAGE_SIZE + offset;
  }

  private copyOne(domid: number, ref: number, offset: number, buf: Uint8Array, bufOffset: number, len: number,
    toPage: boolean): number {
    // An op holds int32s: what would not fit is refused here, in the order the copier checks.
    if (!isInt32(offset) || !isInt32(bufOffset) || !isInt32(len)) return GNTST.bad_copy_arg;
    if (!Number.isInteger(ref) || ref < 0 || ref > 0xffffffff) return GNTST.bad_gntref;
    this.one.clear();
    this.one.add(ref, offset, bufOffset, len);
    this.copy(domid, toPage, this.one, buf);
    return this.one.status(0);
  }

  private table(domid: number): GrantTable {
    const t = this.tableOf(domid);
    if (!t) throw new XenError('ESRCH', `no domain ${domid}`);
    return t;
  }
}
