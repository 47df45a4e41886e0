// Netback's multi-queue handshake and datapath rules, against a frontend written out by hand so
// that it can ask for what the simulated netfront never would: the maximum and split event
// channels advertised, too many or zero queues refused with netback's fatal error, each queue's
// own rings and ports bound, frames of one flow kept on one queue, rx back-pressure reaching the
// peer, and a frontend without feature-rx-notify still served.

import { expect } from 'chai';
import type { FrameReceiver, NetClient } from '../../../src/backend/net/net-client.js';
import { RX_STOP_AT, RX_STOP_BYTES } from '../../../src/backend/netback/queue.js';
import { XenNetDevice } from '../../../src/backend/netback/xen-net-device.js';
import { XenBus } from '../../../src/backend/xen-bus.js';
import {
  NETIF_RSP_OKAY, NETTXF_extra_info, RX_SLOT_SIZE, TX_SLOT_SIZE, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
  readRxResponse, readTxResponse, writeRxRequest, writeTxRequest,
} from '../../../src/protocol/netif.js';
import { SharedRing } from '../../../src/protocol/ring.js';
import { XenbusState } from '../../../src/protocol/xenbus.js';
import type { Domain } from '../../../src/xen/emulated/domain.js';
import { EmulatedPlatform } from '../../../src/xen/emulated/platform.js';
import type { XsConnection } from '../../../src/xen/xenstore/index.js';
import { eventually } from '../../guest/harness.js';
import { startApp } from '../../helpers/app.js';
import { eventually as eventuallyValue } from '../../helpers/qmp-client.js';

const FE = '/local/domain/1/device/vif/0';
const BE = '/local/domain/0/backend/qnic/1/0';
const ERROR_NODE = '/local/domain/0/error/backend/qnic/1/0/error';

/** A peer that records what the backend asks of it and hands frames in on demand. */
class FakePeer implements NetClient {
  readonly id = 'fake';
  readonly type = 'fake';
  receiver: FrameReceiver | null = null;
  receiving = true;
  pauses = 0;
  setReceiver(fn: FrameReceiver | null): void { this.receiver = fn; }
  send(): boolean { return true; }
  describe(): string { return 'fake'; }
  setReceiving(on: boolean): void {
    if (!on) this.pauses++;
    this.receiving = on;
  }
  close(): void {}
}

interface HandQueue {
  tx: SharedRing;
  rx: SharedRing;
  ports: number[];
  /** Posts `n` rx buffers; `notify` false leaves the backend to find them itself. */
  postRx(n: number, notify?: boolean): void;
}

/** The parts of a frontend the backend reads: per queue two granted ring pages and 1–2 ports. */
class HandFrontend {
  readonly xs: XsConnection;
  private rxProd = new Map<SharedRing, number>();
  constructor(private readonly platform: EmulatedPlatform, private readonly domain: Domain) {
    this.xs = platform.xenstore.connect(1);
  }

  queue(prefix: string, split: boolean): HandQueue {
    const ring = (slot: number) => {
      const gfn = this.domain.memory.allocPage();
      const s = new SharedRing(this.domain.memory.page(gfn), slot);
      s.init();
      return { s, ref: this.domain.grants.grantAccess(0, gfn, false) };
    };
    const tx = ring(TX_SLOT_SIZE);
    const rx = ring(RX_SLOT_SIZE);
    const ports = split ? [this.port(), this.port()] : [this.port()];
    this.xs.write(`${FE}/${prefix}tx-ring-ref`, String(tx.ref));
    this.xs.write(`${FE}/${prefix}rx-ring-ref`, String(rx.ref));
    if (split) {
      this.xs.write(`${FE}/${prefix}event-channel-tx`, String(ports[0]));
      this.xs.write(`${FE}/${prefix}event-channel-rx`, String(ports[1]));
    } else {
      this.xs.write(`${FE}/${prefix}event-channel`, String(ports[0]));
    }
    this.rxProd.set(rx.s, 0);
    return {
      tx: tx.s, rx: rx.s, ports,
      postRx: (n, notify = true) => {
        let prod = this.rxProd.get(rx.s)!;
        for (let i = 0; i < n; i++, prod++) {
          const gref = this.domain.grants.grantAccess(0, this.domain.memory.allocPage(), false);
          writeRxRequest(rx.s.view, rx.s.slotOffset(prod), { id: prod & 0xff, gref });
        }
        this.rxProd.set(rx.s, prod);
        rx.s.reqProd = prod;
        if (notify) this.platform.channels.send(1, ports[ports.length - 1]!);
      },
    };
  }

  connect(keys: Record<string, string>): void {
    for (const [k, v] of Object.entries(keys)) this.xs.write(`${FE}/${k}`, v);
    this.xs.write(`${FE}/state`, String(XenbusState.Connected));
  }

  private port(): number {
    return this.platform.channels.allocUnbound(1, 0);
  }
}

function rig(maxQueues: number) {
  const platform = new EmulatedPlatform();
  const domain = platform.createDomain(1, 'guest1');
  const bus = new XenBus(platform.xenstore.connect(0, { privileged: true }), platform);
  bus.maxQueues = maxQueues;
  const peer = new FakePeer();
  const dev = new XenNetDevice(bus, { backendDomid: 0, frontendId: 1, devid: 0 },
    { mac: new Uint8Array([0, 0x16, 0x3e, 0, 0, 1]), peer, ownsPeer: false });
  bus.plug(dev);
  const fe = new HandFrontend(platform, domain);
  const read = (path: string): string | undefined => platform.xs.readString(path);
  /** As a frontend does: the keys once the backend is in InitWait, Connected last. */
  const connect = async (keys: Record<string, string>): Promise<void> => {
    await eventually(() => dev.backendState === XenbusState.InitWait && dev.frontendState === XenbusState.Initialising,
      'the backend in InitWait');
    fe.connect(keys);
  };
  return { platform, bus, dev, peer, fe, read, connect };
}

/** An IPv4/UDP frame from 10.0.0.1:`sport` to 10.0.0.2:`dport`. */
function udpFrame(sport: number, dport = 9): Uint8Array {
  const f = new Uint8Array(60);
  f.set([0, 0x16, 0x3e, 0, 0, 1, 0, 0x16, 0x3e, 0, 0, 2, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  f.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 26, 0, 0], 34);
  return f;
}

describe('netback multi-queue, split event channels and rx-notify', function () {
  this.timeout(10000);

  it('advertises multi-queue-max-queues and feature-split-event-channels', () => {
    const r = rig(4);
    expect(r.read(`${BE}/multi-queue-max-queues`)).to.equal('4');
    expect(r.read(`${BE}/feature-split-event-channels`)).to.equal('1');
  });

  // The count is read as xenbus_read_unsigned does: sscanf's %u, so -1 is 4294967295.
  for (const [asked, text] of [['3', '3'], ['0', '0'], ['-1', '4294967295']] as const) {
    it(`refuses a frontend asking for ${asked} queues of 2 with netback's fatal error, and stays unconnected`, async () => {
      const r = rig(2);
      for (let i = 0; i < 3; i++) r.fe.queue(`queue-${i}/`, false);
      await r.connect({ 'multi-queue-num-queues': asked, 'request-rx-copy': '1', 'feature-rx-notify': '1' });
      await eventually(() => r.read(ERROR_NODE) !== undefined, 'the error node');
      expect(r.read(ERROR_NODE)).to.equal(`22 guest requested ${text} queues, but valid range is 1 - 2.`);
      await eventually(() => r.dev.backendState === XenbusState.Closing, 'the backend to close');
      expect(r.dev.connection).to.equal(null);
      expect(r.dev.ringInfo()).to.equal(null);
      expect(r.platform.channels.list().filter((p) => p.domid === 0)).to.deep.equal([]);
    });
  }

  it('takes a count that is no number as one queue, as xenbus_read_unsigned falls back to its default', async () => {
    const r = rig(2);
    r.fe.queue('', false);
    await r.connect({ 'multi-queue-num-queues': 'many', 'request-rx-copy': '1', 'feature-rx-notify': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    expect(r.dev.ringInfo()!.map((q) => q.id)).to.deep.equal([0]);
    expect(r.read(ERROR_NODE)).to.equal(undefined);
  });

  it('reports a queue whose ring cannot be mapped as netback does, and undoes the queues before it', async () => {
    const r = rig(2);
    r.fe.queue('queue-0/', true);
    r.fe.queue('queue-1/', true);
    r.fe.xs.write(`${FE}/queue-1/tx-ring-ref`, '4000');
    await r.connect({ 'multi-queue-num-queues': '2', 'request-rx-copy': '1', 'feature-rx-notify': '1' });
    await eventually(() => r.read(ERROR_NODE) !== undefined, 'the error node');
    expect(r.read(ERROR_NODE)).to.match(/^22 mapping shared-frames 4000\/\d+ port tx \d+ rx \d+: queue 1: failed to map tx grant ref: /);
    await eventually(() => r.dev.backendState === XenbusState.Closing, 'the backend to close');
    expect(r.dev.ringInfo()).to.equal(null);
    expect(r.platform.channels.list().filter((p) => p.domid === 0)).to.deep.equal([]);
  });

  it('binds a tx and an rx port for each of two queues and services rx on the rx one', async () => {
    const r = rig(2);
    const q = [r.fe.queue('queue-0/', true), r.fe.queue('queue-1/', true)];
    await r.connect({ 'multi-queue-num-queues': '2', 'request-rx-copy': '1', 'feature-rx-notify': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    const info = r.dev.ringInfo()!;
    expect(info.map((i) => i.id)).to.deep.equal([0, 1]);
    const backendPorts = r.platform.channels.list().filter((p) => p.domid === 0);
    expect(backendPorts).to.have.length(4);
    for (const [i, qi] of info.entries()) {
      expect(qi.txPort).to.not.equal(qi.rxPort);
      expect(r.platform.channels.info(0, qi.txPort)).to.include({ status: 'interdomain', remotePort: q[i]!.ports[0] });
      expect(r.platform.channels.info(0, qi.rxPort)).to.include({ status: 'interdomain', remotePort: q[i]!.ports[1] });
    }
    // A frame waiting for buffers is placed when the guest raises the rx port, not the tx one.
    const frame = udpFrame(1000);
    r.peer.receiver!(frame);
    const target = info.findIndex((qi) => r.dev.ringInfo()![qi.id]!.rxQueued === 1);
    expect(target).to.be.at.least(0);
    q[target]!.postRx(4, false);
    r.platform.channels.send(1, q[target]!.ports[0]!);
    await new Promise((res) => setTimeout(res, 50));
    expect(q[target]!.rx.rspProd, 'serviced on the tx port').to.equal(0);
    r.platform.channels.send(1, q[target]!.ports[1]!);
    await eventually(() => q[target]!.rx.rspProd === 1, 'the frame placed');
    expect(readRxResponse(q[target]!.rx.view, q[target]!.rx.slotOffset(0)).status).to.equal(frame.length);
  });

  it('keeps every frame of a flow on one queue and spreads flows over both', async () => {
    const r = rig(2);
    const q = [r.fe.queue('queue-0/', false), r.fe.queue('queue-1/', false)];
    await r.connect({ 'multi-queue-num-queues': '2', 'request-rx-copy': '1', 'feature-rx-notify': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    for (const h of q) h.postRx(200);
    await new Promise((res) => setImmediate(res));
    const perFlow = new Map<number, Set<number>>();
    for (let round = 0; round < 4; round++) {
      for (let flow = 0; flow < 32; flow++) {
        const before = q.map((h) => h.rx.rspProd);
        r.peer.receiver!(udpFrame(2000 + flow));
        const moved = q.findIndex((h, i) => h.rx.rspProd !== before[i]);
        if (!perFlow.has(flow)) perFlow.set(flow, new Set());
        perFlow.get(flow)!.add(moved);
      }
    }
    for (const queues of perFlow.values()) expect(queues.size).to.equal(1);
    const used = new Set([...perFlow.values()].map((s) => [...s][0]));
    expect([...used].sort()).to.deep.equal([0, 1]);
    expect(r.dev.stats.rxPackets).to.equal(128);
  });

  it('stops taking frames from the peer while a queue waits for buffers, and takes them again when they come', async () => {
    const r = rig(1);
    const q = r.fe.queue('', false);
    await r.connect({ 'request-rx-copy': '1', 'feature-rx-notify': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    for (let i = 0; i < RX_STOP_AT; i++) r.peer.receiver!(udpFrame(3000));
    expect(r.peer.receiving).to.equal(false);
    expect(r.dev.stats.rxDropped).to.equal(0);
    q.postRx(256);
    await eventually(() => r.peer.receiving, 'the peer resumed');
    expect(r.dev.stats.rxPackets).to.equal(RX_STOP_AT);
    expect(r.peer.pauses).to.equal(1);
  });

  it('stops taking frames once the waiting ones reach netback\'s rx_queue_max in bytes, however few they are', async () => {
    const r = rig(1);
    const q = r.fe.queue('', false);
    await r.connect({ 'request-rx-copy': '1', 'feature-rx-notify': '1', 'feature-sg': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    // 30,000-byte frames (multi-slot with feature-sg): the bytes give out long before the count.
    const big = new Uint8Array(30000);
    big.set(udpFrame(5000));
    const needed = Math.ceil(RX_STOP_BYTES / big.length);
    for (let i = 0; i < needed - 1; i++) r.peer.receiver!(big);
    expect(r.peer.receiving, 'one frame short of the bytes').to.equal(true);
    r.peer.receiver!(big);
    expect(r.peer.receiving).to.equal(false);
    expect(r.dev.ringInfo()![0]!.rxQueued).to.equal(needed);
    expect(r.dev.stats.rxDropped).to.equal(0);
    q.postRx(256);
    await eventually(() => r.peer.receiving, 'the peer resumed');
    expect(r.dev.stats.rxPackets).to.equal(needed);
  });

  it('finds rx buffers a frontend without feature-rx-notify posts silently, by polling', async () => {
    const r = rig(1);
    const q = r.fe.queue('', false);
    await r.connect({ 'request-rx-copy': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    r.peer.receiver!(udpFrame(4000));
    q.postRx(1, false);
    await eventually(() => q.rx.rspProd === 1, 'the frame placed without a notification', 1000);
  });

  it('waits for the notification from a frontend with feature-rx-notify (no polling)', async () => {
    const r = rig(1);
    const q = r.fe.queue('', false);
    await r.connect({ 'request-rx-copy': '1', 'feature-rx-notify': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    r.peer.receiver!(udpFrame(4000));
    q.postRx(1, false);
    await new Promise((res) => setTimeout(res, 150));
    expect(q.rx.rspProd).to.equal(0);
    r.platform.channels.send(1, q.ports[0]!);
    await eventually(() => q.rx.rspProd === 1, 'the frame placed after the notification');
  });
});

describe('the simulated netfront negotiating queues with the backend', function () {
  this.timeout(20000);

  const plugged = async (guestQueues: number, maxQueues: number) => {
    const t = await startApp(['-guest', `domid=1,queues=${guestQueues}`], { maxQueues });
    t.app.devices.add({ driver: 'xen-net-device', id: 'nic0' });
    const vif = (await eventuallyValue(() => {
      const v = t.app.guests.get(1)?.vifs.get(0);
      return v?.netfront.state === XenbusState.Connected && t.app.bus.list()[0]?.backendState === XenbusState.Connected ? v : null;
    }, 10000, 'the vif to connect'))!;
    const keys = t.app.platform.xs.directory(FE);
    return { t, vif, keys, read: (k: string) => t.app.platform.xs.readString(`${FE}/${k}`) };
  };

  it('asks for min(queues, max): 3 wanted of 2 gives queue-0/ and queue-1/ with split channels, no flat keys', async () => {
    const { t, vif, keys, read } = await plugged(3, 2);
    try {
      expect(vif.netfront.queueCount).to.equal(2);
      expect(read('multi-queue-num-queues')).to.equal('2');
      expect(keys).to.include.members(['queue-0', 'queue-1', 'request-rx-copy', 'feature-rx-notify']);
      expect(keys).to.not.include.members(['tx-ring-ref', 'rx-ring-ref', 'event-channel', 'event-channel-tx']);
      for (const q of ['queue-0', 'queue-1']) {
        expect(t.app.platform.xs.directory(`${FE}/${q}`).sort())
          .to.deep.equal(['event-channel-rx', 'event-channel-tx', 'rx-ring-ref', 'tx-ring-ref']);
      }
      const backend = t.app.bus.list()[0] as XenNetDevice;
      expect(backend.ringInfo()!.map((q) => q.id)).to.deep.equal([0, 1]);
    } finally {
      await t.stop();
    }
  });

  it('keeps the keys of one queue flat', async () => {
    const { t, vif, keys, read } = await plugged(1, 4);
    try {
      expect(vif.netfront.queueCount).to.equal(1);
      expect(read('multi-queue-num-queues')).to.equal('1');
      expect(keys).to.include.members(['tx-ring-ref', 'rx-ring-ref', 'event-channel-tx', 'event-channel-rx']);
      expect(keys.filter((k) => k.startsWith('queue-'))).to.deep.equal([]);
    } finally {
      await t.stop();
    }
  });

  it('filters multicast for a guest that asks for multicast control, letting its subscribed groups and broadcast through', async () => {
    const r = rig(1);
    const q = r.fe.queue('', false);
    expect(r.read(`${BE}/feature-multicast-control`)).to.equal('1');
    expect(r.read(`${BE}/feature-dynamic-multicast-control`)).to.equal('1');
    await r.connect({ 'request-rx-copy': '1', 'feature-rx-notify': '1', 'request-multicast-control': '1' });
    await eventually(() => r.dev.backendState === XenbusState.Connected, 'the backend to connect');
    q.postRx(32);
    const mdns = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
    const to = (dest: number[]): Uint8Array => {
      const f = udpFrame(4000);
      f.set(dest, 0);
      return f;
    };
    const delivered = async (dest: number[]): Promise<boolean> => {
      const before = r.dev.stats.rxPackets;
      r.peer.receiver!(to(dest));
      await new Promise((res) => setImmediate(res));
      return r.dev.stats.rxPackets === before + 1;
    };
    // The watch on request-multicast-control has fired once connected.
    await eventuallyValue(async () => !(await delivered(mdns)), 2000, 'multicast filtered');
    expect(await delivered([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'broadcast').to.equal(true);
    expect(await delivered([0, 0x16, 0x3e, 0, 0, 2]), 'unicast').to.equal(true);
    // A dummy request with an MCAST_ADD extra subscribes; an MCAST_DEL one unsubscribes.
    let prod = 0;
    const mcastRequest = async (type: number): Promise<void> => {
      writeTxRequest(q.tx.view, q.tx.slotOffset(prod), { gref: 0, offset: 0, flags: NETTXF_extra_info, id: prod, size: 0 });
      const at = q.tx.slotOffset(prod + 1);
      q.tx.view.setUint8(at, type);
      q.tx.view.setUint8(at + 1, 0);
      for (let i = 0; i < 6; i++) q.tx.view.setUint8(at + 2 + i, mdns[i]!);
      prod += 2;
      q.tx.reqProd = prod;
      r.platform.channels.send(1, q.ports[0]!);
      await eventually(() => q.tx.rspProd === prod, 'the request answered');
      expect(readTxResponse(q.tx.view, q.tx.slotOffset(prod - 2)).status).to.equal(NETIF_RSP_OKAY);
    };
    await mcastRequest(XEN_NETIF_EXTRA_TYPE_MCAST_ADD);
    expect(await delivered(mdns), 'a subscribed group').to.equal(true);
    expect(await delivered([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]), 'another group').to.equal(false);
    await mcastRequest(XEN_NETIF_EXTRA_TYPE_MCAST_DEL);
    expect(await delivered(mdns), 'unsubscribed').to.equal(false);
    // Control off again: every multicast frame passes.
    r.fe.xs.write(`${FE}/request-multicast-control`, '0');
    await eventuallyValue(() => delivered(mdns), 2000, 'multicast no longer filtered');
  });
});

