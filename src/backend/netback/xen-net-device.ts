// The qnic backend (QEMU's hw/net/xen_nic.c on XenDevice): realize writes the MAC into the
// frontend and the rx-copy features into the backend; connect maps both rings and binds the
// event channel once the frontend is Connected; the tx and rx paths do the rest.

import { formatMac } from '../../common/mac.js';
import { BackRing, SharedRing } from '../../protocol/ring.js';
import { XenbusState } from '../../protocol/xenbus.js';
import { RX_SLOT_SIZE, TX_SLOT_SIZE } from '../../protocol/netif.js';
import type { GrantMapping } from '../../xen/grant-table.js';
import type { NetClient } from '../net/net-client.js';
import { XenDevice } from '../xen-device.js';
import type { XenBus } from '../xen-bus.js';
import type { DeviceAddress } from '../xen-paths.js';
import { newCounters, type VifCounters } from './counters.js';
import { NetbackRx } from './rx.js';
import { NetbackTx } from './tx.js';

export const QNIC_TYPE = 'qnic';
export const VIF_CLASS = 'vif';

export interface XenNetDeviceOptions {
  mac: Uint8Array;
  peer: NetClient | null;
  /** Close the peer when the device goes (a tap the device created for itself). */
  ownsPeer: boolean;
}

interface Connection {
  txRef: number;
  rxRef: number;
  remotePort: number;
  port: number;
  maps: GrantMapping[];
  tx: NetbackTx;
  rx: NetbackRx;
  txRing: BackRing;
  rxRing: BackRing;
}

export class XenNetDevice extends XenDevice {
  readonly stats: VifCounters = newCounters();
  readonly mac: Uint8Array;
  readonly peer: NetClient | null;
  private readonly ownsPeer: boolean;
  private conn: Connection | null = null;
  /** Set by a fatal guest error: the vif stops servicing its rings (netback's `disabled`). */
  disabledReason: string | null = null;

  constructor(bus: XenBus, address: Omit<DeviceAddress, 'type' | 'frontendClass'>, opts: XenNetDeviceOptions) {
    super(bus, { ...address, type: QNIC_TYPE, frontendClass: VIF_CLASS }, 'xen-net-device');
    this.mac = opts.mac;
    this.peer = opts.peer;
    this.ownsPeer = opts.ownsPeer;
  }

  get vifName(): string {
    return `vif${this.address.frontendId}.${this.address.devid}`;
  }

  get connection(): Readonly<Pick<Connection, 'txRef' | 'rxRef' | 'remotePort' | 'port'>> | null {
    return this.conn;
  }

  protected realizeDevice(): void {
    this.xs.write(`${this.frontendPath}/mac`, formatMac(this.mac));
    this.xs.write(`${this.backendPath}/mac`, formatMac(this.mac));
    this.xs.write(`${this.backendPath}/feature-rx-copy`, '1');
    this.xs.write(`${this.backendPath}/feature-rx-flip`, '0');
    this.peer?.setReceiver((frame) => this.receive(frame));
  }

  protected connect(): void {
    const fe = this.frontendPath;
    const txRef = this.readUint(`${fe}/tx-ring-ref`, 'tx-ring-ref');
    const rxRef = this.readUint(`${fe}/rx-ring-ref`, 'rx-ring-ref');
    const remotePort = this.readUint(`${fe}/event-channel`, 'event-channel');
    if (this.xs.readString(`${fe}/request-rx-copy`) !== '1') throw new Error("frontend doesn't support rx-copy");

    const hv = this.bus.hypervisor;
    const grants = hv.grantTable(this.address.frontendId);
    const backend = this.address.backendDomid;
    const maps: GrantMapping[] = [];
    try {
      maps.push(mapRing(() => grants.map(backend, txRef, true), 'tx'));
      maps.push(mapRing(() => grants.map(backend, rxRef, true), 'rx'));
      const port = hv.evtchn.bindInterdomain(backend, this.address.frontendId, remotePort);
      const txRing = BackRing.attach(new SharedRing(maps[0]!.page, TX_SLOT_SIZE));
      const rxRing = BackRing.attach(new SharedRing(maps[1]!.page, RX_SLOT_SIZE));
      const tx = new NetbackTx(txRing, grants, backend, (frame) => this.peer?.send(frame), this.stats, this.log,
        (msg) => this.disable(msg));
      const rx = new NetbackRx(rxRing, grants, backend, this.stats, this.log);
      this.conn = { txRef, rxRef, remotePort, port, maps, tx, rx, txRing, rxRing };
      hv.evtchn.setHandler(backend, port, () => this.onEvent());
      this.log.info(`connected: tx-ring-ref ${txRef} rx-ring-ref ${rxRef} port ${remotePort} (local ${port})`);
    } catch (err) {
      for (const m of maps) m.unmap();
      throw err;
    }
    this.disabledReason = null;
    this.onEvent();
  }

  protected disconnect(): void {
    const c = this.conn;
    if (!c) return;
    this.conn = null;
    try {
      this.bus.hypervisor.evtchn.close(this.address.backendDomid, c.port);
    } catch (err) {
      this.log.warn(`closing event channel ${c.port} failed: ${(err as Error).message}`);
    }
    for (const m of c.maps) m.unmap();
    this.log.info('disconnected');
  }

  override destroy(): void {
    super.destroy();
    this.peer?.setReceiver(null);
    if (this.ownsPeer) this.peer?.close();
  }

  /** Ring occupancy for operators (netback's io_ring): producer/consumer indices. */
  ringInfo(): Record<string, number> | null {
    const c = this.conn;
    if (!c) return null;
    return {
      'tx-req-prod': c.txRing.sring.reqProd, 'tx-req-cons': c.txRing.reqCons,
      'tx-rsp-prod': c.txRing.sring.rspProd, 'tx-req-event': c.txRing.sring.reqEvent,
      'rx-req-prod': c.rxRing.sring.reqProd, 'rx-req-cons': c.rxRing.reqCons,
      'rx-rsp-prod': c.rxRing.sring.rspProd, 'rx-queued': c.rx.queued,
    };
  }

  private receive(frame: Uint8Array): void {
    const c = this.conn;
    if (!c || this.disabledReason !== null || this.backendState !== XenbusState.Connected) {
      this.stats.rxDropped++;
      return;
    }
    if (c.rx.receive(frame)) this.notify(c);
  }

  private onEvent(): void {
    const c = this.conn;
    if (!c || this.disabledReason !== null) return;
    const txNotify = c.tx.process();
    if (this.conn !== c || this.disabledReason !== null) return;
    const rxNotify = c.rx.flush();
    if (txNotify || rxNotify) this.notify(c);
  }

  private notify(c: Connection): void {
    this.bus.hypervisor.evtchn.send(this.address.backendDomid, c.port);
  }

  /** A fatal guest error: stop servicing this vif (others are unaffected) and report it. */
  private disable(message: string): void {
    if (this.disabledReason !== null) return;
    this.disabledReason = message;
    this.fatal(22, message);
  }

  private readUint(path: string, key: string): number {
    const text = this.xs.readString(path);
    if (text === undefined || !/^\d+$/.test(text)) throw new Error(`failed to read ${key}`);
    return Number(text);
  }
}

function mapRing(map: () => GrantMapping, which: string): GrantMapping {
  try {
    return map();
  } catch (err) {
    throw new Error(`failed to map ${which} grant ref: ${(err as Error).message}`);
  }
}
