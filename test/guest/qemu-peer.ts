// A strict test peer that plays the backend side of one vif exactly as QEMU's xen_nic + xen-bus
// do (QEMU 10's hw/net/xen_nic.c on hw/xen/xen-bus.c): it creates the FE/BE directories, goes InitWait, maps
// the rings and binds the event channel when the frontend is Connected, answers every tx
// request (ERROR for extra_info, more_data, size < 14, page crossing, bad grants), puts rx data
// at offset 2 with status = length, and follows the frontend through Closing/Closed.
//
// Knobs let a test make it misbehave the ways netfront must survive: wild producer indices,
// responses for requests never made, bad rx offsets and statuses, grants kept mapped.

import { BackRing, PAGE_SIZE, SharedRing } from '../../src/protocol/ring.js';
import {
  ETH_HLEN, NET_IP_ALIGN, NETIF_RSP_ERROR, NETIF_RSP_OKAY, NETTXF_extra_info, NETTXF_more_data, readRxRequest,
  readTxRequest, RX_SLOT_SIZE, TX_SLOT_SIZE, type TxRequest, writeRxResponse, writeTxResponse,
} from '../../src/protocol/netif.js';
import { XenbusState } from '../../src/protocol/xenbus.js';
import type { Domain } from '../../src/xen/emulated/domain.js';
import type { GrantMapping } from '../../src/xen/backend-ops.js';
import type { EmulatedPlatform } from '../../src/xen/emulated/platform.js';
import type { XsConnection } from '../../src/xen/xenstore/connection.js';

export interface PeerOptions {
  devid?: number;
  mac?: string;
  /** BE keys written at realize; QEMU writes exactly these. */
  features?: Record<string, string>;
}

export interface RawRxSlot {
  offset: number;
  status: number;
  flags?: number;
  data?: Uint8Array;
}

export interface ReceivedFrame {
  frame: Uint8Array;
  flags: number;
}

export class QemuPeer {
  readonly fe: string;
  readonly be: string;
  readonly devid: number;
  readonly mac: string;
  readonly xs: XsConnection;
  /** Frames the guest sent that the peer accepted, in order. */
  readonly received: ReceivedFrame[] = [];
  /** Every tx response the peer wrote: [id, status]. */
  readonly txResponses: Array<[number, number]> = [];
  readonly log: string[] = [];
  onFrame: ((frame: Uint8Array) => void) | null = null;

  /** Stop consuming tx requests (the ring fills up). */
  pauseTx = false;
  /** Keep the grant of the next rx / tx packet mapped after answering. */
  holdNextRxMapping = false;
  holdNextTxMapping = false;
  readonly held: GrantMapping[] = [];

  tx: BackRing | null = null;
  rx: BackRing | null = null;
  port: number | null = null;
  private txMap: GrantMapping | null = null;
  private rxMap: GrantMapping | null = null;
  private readonly rxQueue: Uint8Array[] = [];
  private readonly features: Record<string, string>;

  constructor(private readonly platform: EmulatedPlatform, readonly guest: Domain, opts: PeerOptions = {}) {
    this.devid = opts.devid ?? 0;
    this.mac = opts.mac ?? `00:16:3e:00:${guest.domid.toString(16).padStart(2, '0')}:${this.devid.toString(16).padStart(2, '0')}`;
    this.features = opts.features ?? { 'feature-rx-copy': '1', 'feature-rx-flip': '0' };
    this.fe = `/local/domain/${guest.domid}/device/vif/${this.devid}`;
    this.be = `/local/domain/0/backend/qnic/${guest.domid}/${this.devid}`;
    this.xs = platform.xenstore.connect(0, { privileged: true });
    this.xs.onWatchEvent = () => this.frontendChanged();
  }

  get state(): number {
    return Number(this.xs.readString(`${this.be}/state`) ?? 0);
  }

  feState(): number {
    return Number(this.xs.readString(`${this.fe}/state`) ?? 0);
  }

  fe_read(key: string): string | undefined {
    return this.xs.readString(`${this.fe}/${key}`);
  }

  /** xen-bus realize + xen_nic realize, then InitWait (QEMU's order: state last here, in one go). */
  create(): void {
    const guest = this.guest.domid;
    const x = this.xs;
    x.mkdir(this.be);
    x.setPerms(this.be, ['n0', `r${guest}`]);
    x.write(`${this.be}/frontend`, this.fe);
    x.write(`${this.be}/frontend-id`, String(guest));
    x.write(`${this.be}/online`, '1');
    x.write(`${this.be}/hotplug-status`, 'connected');
    x.write(`${this.be}/state`, String(XenbusState.Initialising));
    x.mkdir(this.fe);
    x.setPerms(this.fe, [`n${guest}`, 'r0']);
    x.write(`${this.fe}/backend`, this.be);
    x.write(`${this.fe}/backend-id`, '0');
    x.write(`${this.fe}/state`, String(XenbusState.Initialising));
    x.write(`${this.fe}/mac`, this.mac);
    for (const [k, v] of Object.entries(this.features)) x.write(`${this.be}/${k}`, v);
    x.watch(`${this.fe}/state`, 'fe-state');
    this.setState(XenbusState.InitWait);
  }

  /** device_del: online=0 and Closing in one transaction. */
  unplug(): void {
    const tx = this.xs.transactionStart();
    this.xs.write(`${this.be}/online`, '0', tx);
    this.xs.write(`${this.be}/state`, String(XenbusState.Closing), tx);
    this.xs.transactionEnd(tx, true);
  }

  setState(state: number): void {
    this.log.push(`be -> ${state}`);
    this.xs.write(`${this.be}/state`, String(state));
  }

  /** The bus's destroy: disconnect, remove both directories. */
  destroy(): void {
    this.disconnect();
    try { this.xs.unwatch(`${this.fe}/state`, 'fe-state'); } catch { /* already gone */ }
    this.xs.rm(this.fe);
    this.xs.rm(this.be);
  }

  // --- xen_nic's frontend_changed

  private frontendChanged(): void {
    const fe = this.xs.readString(`${this.fe}/state`);
    if (fe === undefined) return;
    const state = Number(fe);
    this.log.push(`fe ${state}`);
    const be = this.state;
    switch (state) {
      case XenbusState.Connected:
        if (be === XenbusState.Connected) return;
        try {
          this.connect();
          this.setState(XenbusState.Connected);
        } catch (err) {
          this.log.push(`connect failed: ${(err as Error).message}`);
          this.disconnect();
          this.setState(XenbusState.Closing);
        }
        return;
      case XenbusState.Closing:
        this.setState(XenbusState.Closing);
        return;
      case XenbusState.Closed:
      case XenbusState.Unknown:
        this.disconnect();
        this.setState(XenbusState.Closed);
        return;
      case XenbusState.Initialising:
        if (be === XenbusState.Closed && this.xs.readString(`${this.be}/online`) === '1') this.setState(XenbusState.InitWait);
        return;
      default:
        return;
    }
  }

  private connect(): void {
    const read = (k: string) => {
      const v = this.fe_read(k);
      if (v === undefined || !/^\d+$/.test(v)) throw new Error(`frontend has no ${k}`);
      return Number(v);
    };
    const txRef = read('tx-ring-ref');
    const rxRef = read('rx-ring-ref');
    const port = read('event-channel');
    if (this.fe_read('request-rx-copy') !== '1') throw new Error("frontend doesn't support rx-copy");
    this.txMap = this.platform.grants.mapRef(this.guest.domid, txRef, true);
    this.rxMap = this.platform.grants.mapRef(this.guest.domid, rxRef, true);
    this.tx = BackRing.attach(new SharedRing(this.txMap.page, TX_SLOT_SIZE));
    this.rx = BackRing.attach(new SharedRing(this.rxMap.page, RX_SLOT_SIZE));
    this.port = this.platform.channels.bindInterdomain(0, this.guest.domid, port);
    this.platform.channels.setHandler(0, this.port, () => this.onEvent());
  }

  disconnect(): void {
    if (this.port !== null) {
      try { this.platform.channels.close(0, this.port); } catch { /* guest already closed it */ }
      this.port = null;
    }
    this.txMap?.unmap();
    this.rxMap?.unmap();
    this.txMap = null;
    this.rxMap = null;
    this.tx = null;
    this.rx = null;
  }

  /** Swallow notifications (a lost event). */
  mute = false;

  notify(): void {
    if (this.port !== null && !this.mute) this.platform.channels.send(0, this.port);
  }

  onEvent(): void {
    this.txPackets();
    this.flushRx();
  }

  // --- net_tx_packets

  txPackets(): void {
    const ring = this.tx;
    if (!ring || this.pauseTx) return;
    do {
      const rp = ring.sring.reqProd;
      while (ring.reqCons !== rp) {
        if (((ring.reqCons - ring.rspProdPvt) >>> 0) >= ring.size) break;
        const req = readTxRequest(ring.sring.view, ring.sring.slotOffset(ring.reqCons));
        ring.reqCons = (ring.reqCons + 1) >>> 0;
        if (req.flags & (NETTXF_extra_info | NETTXF_more_data)) { this.txResponse(req.id, NETIF_RSP_ERROR); continue; }
        if (req.size < ETH_HLEN) { this.txResponse(req.id, NETIF_RSP_ERROR); continue; }
        if (req.offset + req.size > PAGE_SIZE) { this.txResponse(req.id, NETIF_RSP_ERROR); continue; }
        let map: GrantMapping;
        try {
          map = this.platform.grants.mapRef(this.guest.domid, req.gref, false);
        } catch {
          this.txResponse(req.id, NETIF_RSP_ERROR);
          continue;
        }
        const frame = map.page.slice(req.offset, req.offset + req.size);
        if (this.holdNextTxMapping) {
          this.holdNextTxMapping = false;
          this.held.push(map);
        } else {
          map.unmap();
        }
        this.received.push({ frame, flags: req.flags });
        this.txResponse(req.id, NETIF_RSP_OKAY);
        this.onFrame?.(frame);
      }
    } while (ring.finalCheckForRequests());
  }

  private txResponse(id: number, status: number): void {
    const ring = this.tx!;
    writeTxResponse(ring.sring.view, ring.sring.slotOffset(ring.rspProdPvt), id, status);
    ring.rspProdPvt = (ring.rspProdPvt + 1) >>> 0;
    this.txResponses.push([id, status]);
    if (ring.pushResponses()) this.notify();
  }

  // --- net_rx_packet

  /** A frame from "the network" for the guest; queued while no rx request is free. */
  deliver(frame: Uint8Array): boolean {
    if (this.state !== XenbusState.Connected) return false;
    if (frame.length > PAGE_SIZE - NET_IP_ALIGN) return false;
    this.rxQueue.push(frame);
    this.flushRx();
    return true;
  }

  flushRx(): void {
    const ring = this.rx;
    while (ring && this.rxQueue.length > 0) {
      const rp = ring.sring.reqProd;
      if (ring.reqCons === rp || ((ring.reqCons - ring.rspProdPvt) >>> 0) >= ring.size) {
        ring.finalCheckForRequests();
        return;
      }
      const frame = this.rxQueue.shift()!;
      const req = readRxRequest(ring.sring.view, ring.sring.slotOffset(ring.reqCons));
      ring.reqCons = (ring.reqCons + 1) >>> 0;
      let map: GrantMapping;
      try {
        map = this.platform.grants.mapRef(this.guest.domid, req.gref, true);
      } catch {
        this.rxResponse(req.id, 0, NETIF_RSP_ERROR);
        continue;
      }
      map.page.set(frame, NET_IP_ALIGN);
      if (this.holdNextRxMapping) {
        this.holdNextRxMapping = false;
        this.held.push(map);
      } else {
        map.unmap();
      }
      this.rxResponse(req.id, NET_IP_ALIGN, frame.length);
    }
  }

  private rxResponse(id: number, offset: number, status: number, flags = 0): void {
    const ring = this.rx!;
    writeRxResponse(ring.sring.view, ring.sring.slotOffset(ring.rspProdPvt), { id, offset, flags, status });
    ring.rspProdPvt = (ring.rspProdPvt + 1) >>> 0;
    if (ring.pushResponses()) this.notify();
  }

  // --- misbehaviour

  /** Consumes one rx request and answers it with whatever the test says, writing `data` if given. */
  rawRxResponse(r: RawRxSlot): void {
    this.rawRxSlots([r]);
  }

  /**
   * Consumes one rx request per slot and answers them all in one push: data slots with the
   * given offset/status/flags (data written through the grant if given), extra slots verbatim.
   */
  rawRxSlots(slots: Array<RawRxSlot | { extra: Uint8Array }>): void {
    const ring = this.rx!;
    for (const slot of slots) {
      const at = ring.sring.slotOffset(ring.reqCons);
      const req = readRxRequest(ring.sring.view, at);
      ring.reqCons = (ring.reqCons + 1) >>> 0;
      const rspAt = ring.sring.slotOffset(ring.rspProdPvt);
      if ('extra' in slot) {
        new Uint8Array(ring.sring.page.buffer, ring.sring.page.byteOffset + rspAt, RX_SLOT_SIZE).set(slot.extra.subarray(0, RX_SLOT_SIZE));
      } else {
        if (slot.data) {
          const map = this.platform.grants.mapRef(this.guest.domid, req.gref, true);
          map.page.set(slot.data, slot.offset);
          map.unmap();
        }
        writeRxResponse(ring.sring.view, rspAt, { id: req.id, offset: slot.offset, flags: slot.flags ?? 0, status: slot.status });
      }
      ring.rspProdPvt = (ring.rspProdPvt + 1) >>> 0;
    }
    if (ring.pushResponses()) this.notify();
  }

  /** Takes the next tx request off the ring without answering it. */
  consumeTxRequest(): TxRequest {
    const ring = this.tx!;
    const req = readTxRequest(ring.sring.view, ring.sring.slotOffset(ring.reqCons));
    ring.reqCons = (ring.reqCons + 1) >>> 0;
    return req;
  }

  /** A tx response for whatever id the test likes, pushed and notified. */
  rawTxResponse(id: number, status = NETIF_RSP_OKAY): void {
    this.txResponse(id, status);
  }

  /** Writes a response producer index directly and kicks the guest. */
  setRspProd(which: 'tx' | 'rx', value: number): void {
    const ring = which === 'tx' ? this.tx! : this.rx!;
    ring.sring.rspProd = value >>> 0;
    this.notify();
  }
}
