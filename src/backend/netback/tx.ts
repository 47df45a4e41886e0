// The tx path (guest → host), as QEMU's net_tx_packets() with its gaps closed: the producer
// index is read once per sweep and bounded, each request is copied out of the shared slot once
// and only the copy is used (XSA-155), and every guest error is answered on the ring with
// NETIF_RSP_ERROR instead of reaching the host.

import type { Logger } from '../../common/log.js';
import {
  ETH_HLEN, NETIF_RSP_ERROR, NETIF_RSP_OKAY, NETTXF_csum_blank, NETTXF_extra_info, NETTXF_more_data,
  readTxRequest, writeTxResponse, type TxRequest,
} from '../../protocol/netif.js';
import { PAGE_SIZE, wrapSub, type BackRing } from '../../protocol/ring.js';
import { GNTST } from '../../xen/errors.js';
import type { GrantTable } from '../../xen/grant-table.js';
import { fillL4Checksum } from '../net/checksum.js';
import type { VifCounters } from './counters.js';

export type TxDeliver = (frame: Uint8Array) => void;
export type FatalHandler = (message: string) => void;

export class NetbackTx {
  constructor(
    private readonly ring: BackRing,
    private readonly grants: GrantTable,
    private readonly backendDomid: number,
    private readonly deliver: TxDeliver,
    private readonly stats: VifCounters,
    private readonly log: Logger,
    private readonly fatal: FatalHandler,
  ) {}

  /** Consumes every pending request; returns whether the frontend must be notified. */
  process(): boolean {
    const ring = this.ring;
    const sring = ring.sring;
    let notify = false;
    for (;;) {
      const rp = sring.reqProd;
      if (wrapSub(rp, ring.reqCons) > ring.size) {
        this.fatal(`Impossible number of requests. req_prod ${rp}, req_cons ${ring.reqCons}, size ${ring.size}`);
        return notify;
      }
      while (ring.reqCons !== rp) {
        if (wrapSub(ring.reqCons, ring.rspProdPvt) >= ring.size) break;
        const req = readTxRequest(sring.view, sring.slotOffset(ring.reqCons));
        ring.reqCons = (ring.reqCons + 1) >>> 0;
        const status = this.transmit(req);
        writeTxResponse(sring.view, sring.slotOffset(ring.rspProdPvt), req.id, status);
        ring.rspProdPvt = (ring.rspProdPvt + 1) >>> 0;
      }
      if (ring.pushResponses()) notify = true;
      if (!ring.finalCheckForRequests()) return notify;
    }
  }

  private transmit(req: TxRequest): number {
    const reason = this.check(req);
    if (reason) return this.guestError(req, reason);
    const frame = new Uint8Array(req.size);
    const status = this.grants.copyFrom(this.backendDomid, req.gref, req.offset, frame, 0, req.size);
    if (status !== GNTST.okay) return this.guestError(req, `tx gref dereference failed (${req.gref}): status ${status}`);
    if (req.flags & NETTXF_csum_blank) fillL4Checksum(frame);
    this.stats.txPackets++;
    this.stats.txBytes += frame.length;
    this.deliver(frame);
    return NETIF_RSP_OKAY;
  }

  /** The checks QEMU's xen_nic makes, in its order; multi-slot and extras are not negotiated. */
  private check(req: TxRequest): string | null {
    if (req.flags & NETTXF_extra_info) return 'extra info flag without feature-gso negotiated';
    if (req.flags & NETTXF_more_data) return 'more data flag without feature-sg negotiated';
    if (req.size < ETH_HLEN) return `bad packet size: ${req.size}`;
    if (req.offset + req.size > PAGE_SIZE) return `page crossing: offset ${req.offset}, size ${req.size}`;
    return null;
  }

  private guestError(req: TxRequest, reason: string): number {
    this.stats.txErrors++;
    this.log.debug(`guest error: tx request id ${req.id}: ${reason}`);
    return NETIF_RSP_ERROR;
  }
}
