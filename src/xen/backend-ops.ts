// The one seam between Xen backends and the platform under them, as QEMU's
// include/hw/xen/xen_backend_ops.h draws it: narrow tables of what a backend needs (a grant
// mapped or copied in batches, event channels bound, notified and upcalled, xenstore
// connections, the domains it serves and their end), filled once from the emulated platform
// (src/xen/emulated/) and once from a real Xen's dom0 (src/xen/host/). xen-bus, netback and the
// device model call only these and never ask which platform runs.
//
// A backend's control side (xenstore, mapping rings, binding channels) runs on the thread that
// made the platform. A datapath may run on a thread of its own: it gets a DatapathPlatform
// there (xen/attach-datapath.ts) from what a ThreadLink hands over, and the pages and ports it
// services are mapped and bound for it by the control side.

import type { GrantCopyBatch } from './grant-copy-batch.js';
import type { XsHandle } from './xenstore/index.js';

export type PlatformKind = 'emulated' | 'host';

/**
 * What one platform hands its own counterpart on another thread (a mapping, a thread link).
 * Structured-cloneable; opaque to everyone else.
 */
export interface Handoff {
  readonly platform: PlatformKind;
}

/** A page another domain granted, mapped here (GNTTABOP_map_grant_ref; gntdev's MAP_GRANT_REF + mmap). */
export interface GrantMapping {
  readonly ref: number;
  /** The page; it must not be touched after unmap(). */
  readonly page: Uint8Array;
  /** What DatapathPlatform.attach() on another thread turns into the same page. */
  readonly handoff: Handoff;
  /** Idempotent. */
  unmap(): void;
}

/** gnttab_backend_ops' map_refs and unmap, for the control side. */
export interface GrantMapper {
  /** Maps one page `domid` granted; throws (a GrantError with its GNTST status when refused). */
  mapRef(domid: number, ref: number, writable: boolean): GrantMapping;
}

/** gnttab_backend_ops' copy: GNTTABOP_copy with an array of ops, on whatever thread the datapath runs. */
export interface GrantCopier {
  /**
   * Copies every op of `batch` between `domid`'s granted pages and `local` (`toPage`: into the
   * pages). Each op is checked alone and gets its GNTST status in the batch; returns how many failed.
   */
  copy(domid: number, toPage: boolean, batch: GrantCopyBatch, local: Uint8Array): number;
  /** Zero-copy reads of granted pages, where a platform can offer them; null where it cannot. */
  readonly direct: DirectGrantAccess | null;
}

/**
 * A granted page read where it lies (netback's mapped tx frames): the emulated platform offers
 * it on the granting domain's own thread, where the grant cannot end between check and read.
 */
export interface DirectGrantAccess {
  /** Where `len` bytes at `offset` of `ref` lie in memory(domid), checked as a copy would be; or a negative GNTST. */
  readableAt(domid: number, ref: number, offset: number, len: number): number;
  memory(domid: number): Uint8Array;
}

export type Upcall = (port: number) => void;

/** evtchn_backend_ops' bind_interdomain and unbind, for the control side. */
export interface EvtchnBinder {
  /** Binds a local port to `domid`'s unbound `remotePort`; returns the local port. */
  bindInterdomain(domid: number, remotePort: number): number;
  /** Idempotent for a port already gone with its domain. */
  unbind(port: number): void;
}

/** evtchn_backend_ops' pending (delivered as upcalls, unmasked after each) and notify, for a datapath. */
export interface EvtchnPorts {
  setUpcall(port: number, upcall: Upcall | null): void;
  notify(port: number): void;
}

/** A handle on one thread: its ports are bound, upcalled and notified there. */
export interface EvtchnHandle extends EvtchnBinder, EvtchnPorts {}

/** What a datapath uses, on the thread it runs on. */
export interface DatapathPlatform {
  readonly grants: GrantCopier;
  readonly evtchn: EvtchnPorts;
  /** The page of a mapping the control side made (GrantMapping.handoff). */
  attach(mapping: Handoff): Uint8Array;
}

/**
 * A datapath thread's way to the platform: the control side binds the thread's ports through
 * `evtchn` (their upcalls and notifies then happen on the thread), and the thread makes its
 * DatapathPlatform from `handoff`.
 */
export interface ThreadLink {
  readonly evtchn: EvtchnBinder;
  readonly handoff: Handoff;
  close(): void;
}

export interface DomainInfo {
  domid: number;
  /** Its name, where the platform knows one. */
  name: string | null;
}

/** The domains a backend domain may serve, and their end. */
export interface Domains {
  /** Every domain but the backend's own, lowest domid first. */
  list(): DomainInfo[];
  exists(domid: number): boolean;
  /** `listener` hears of each domain that is gone (destroyed, crashed, shut down and released); returns an unsubscribe. */
  onGone(listener: (domid: number) => void): () => void;
}

/** Everything a Xen backend needs from the platform it runs on. */
export interface BackendPlatform {
  readonly kind: PlatformKind;
  /** The domain the backends run in (dom0). */
  readonly backendDomid: number;
  readonly grants: GrantMapper;
  /** This thread's event channel handle. */
  readonly evtchn: EvtchnHandle;
  /** For datapaths on this thread. */
  readonly datapath: DatapathPlatform;
  readonly domains: Domains;
  /** A new privileged xenstore connection (a backend bus, a watcher). */
  connectXenstore(): XsHandle;
  /** What a datapath thread needs: ports bound here, served there. */
  openThreadLink(): ThreadLink;
  /** Closes what the platform opened (its devices, its xenstore connections). */
  close(): void;
}
