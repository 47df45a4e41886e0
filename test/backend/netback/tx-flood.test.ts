// A guest that floods its tx ring at full speed, from a thread of its own, cannot hold vifd:
// netback's work budget lets QMP (and, with a datapath thread, the control calls) in between
// sweeps, and a `rate` on the vif holds the guest to it, as netback's credit scheduler does.

import { expect } from 'chai';
import { Worker } from 'node:worker_threads';
import { TX_SLOT_SIZE, RX_SLOT_SIZE } from '../../../src/protocol/netif.js';
import { SharedRing } from '../../../src/protocol/ring.js';
import { Doorbell } from '../../../src/xen/emulated/evtchn-doorbell.js';
import type { EmulatedPlatform } from '../../../src/xen/emulated/platform.js';
import type { FloodData } from '../../fixtures/tx-flood-worker.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { eventually, QmpTestClient } from '../../helpers/qmp-client.js';

const FLOOD_DOMID = 7;
const FE = `/local/domain/${FLOOD_DOMID}/device/vif/0`;
const BE = `/local/domain/0/backend/qnic/${FLOOD_DOMID}/0`;
const FRAME = 1000;

/**
 * A hand-made frontend on a domain without a simulated guest, whose tx side a worker floods.
 * connect() writes its keys once the backend waits for them, as a netfront does.
 */
function floodingFrontend(platform: EmulatedPlatform): { connect(): void; start(): Worker; stop(): Promise<void> } {
  const dom = platform.createDomain(FLOOD_DOMID, 'flood');
  const page = (slot: number): { gfn: number; ref: number } => {
    const gfn = dom.memory.allocPage();
    new SharedRing(dom.memory.page(gfn), slot).init();
    return { gfn, ref: dom.grants.grantAccess(0, gfn, false) };
  };
  const tx = page(TX_SLOT_SIZE);
  const rx = page(RX_SLOT_SIZE);
  const grefs = Array.from({ length: 16 }, () => {
    const gfn = dom.memory.allocPage();
    dom.memory.page(gfn).fill(0x42);
    return dom.grants.grantAccess(0, gfn, true);
  });
  const port = platform.channels.allocUnbound(FLOOD_DOMID, 0);
  const bell = new Doorbell();
  const listener = bell.listen((p) => platform.channels.send(FLOOD_DOMID, p));
  const control = new Int32Array(new SharedArrayBuffer(8));
  let worker: Worker | null = null;
  return {
    connect() {
      const xs = platform.xs;
      for (const [k, v] of Object.entries({ 'tx-ring-ref': tx.ref, 'rx-ring-ref': rx.ref, 'event-channel': port,
        'request-rx-copy': 1, 'feature-rx-notify': 1 })) xs.write(`${FE}/${k}`, String(v));
      xs.write(`${FE}/state`, '4');
    },
    start() {
      const data: FloodData = { memory: dom.memory.shared(), ringGfn: tx.gfn, grefs, size: FRAME, port,
        doorbell: bell.buffer, control: control.buffer as SharedArrayBuffer };
      worker = new Worker(new URL('../../fixtures/tx-flood-worker.js', import.meta.url), { workerData: data });
      return worker;
    },
    async stop() {
      Atomics.store(control, 0, 1);
      if (worker) await new Promise((r) => worker!.once('exit', r));
      listener.stop();
    },
  };
}

function p99(ms: number[]): number {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

for (const thread of [false, true]) {
  describe(`a guest flooding its tx ring, netback on ${thread ? 'the datapath thread' : 'the main thread'}`, function () {
    this.timeout(30000);
    let t: TestApp;
    let qmp: QmpTestClient;
    let flood: ReturnType<typeof floodingFrontend>;

    before(async () => {
      t = await startApp(thread ? ['-datapath', 'thread=on'] : []);
      qmp = await QmpTestClient.connect(t.qmpPath);
      // Created before the device, as a toolstack creates the domain first.
      flood = floodingFrontend(t.app.platform);
      expect(await qmp.execute('device_add', { driver: 'xen-net-device', id: 'flood', 'frontend-id': FLOOD_DOMID }))
        .to.deep.equal({ return: {} });
      flood.connect();
      await eventually(() => t.app.bus.list().find((d) => d.address.frontendId === FLOOD_DOMID)?.backendState === 4,
        5000, 'the flooding vif connected');
      flood.start();
    });

    after(async () => {
      await flood?.stop();
      qmp?.close();
      await t?.stop();
    });

    const txBytes = async (): Promise<number> => {
      const rows = (await qmp.execute('__com.vifd_query-vifs'))['return'] as Array<{ id?: string; stats: Record<string, number> }>;
      return rows.find((r) => r.id === 'flood')!.stats['tx-bytes']!;
    };

    it('answers query-version (and ring-info, which asks the datapath) within 10 ms at p99 throughout', async () => {
      const before = await txBytes();
      const latencies: number[] = [];
      const until = performance.now() + 2000;
      while (performance.now() < until) {
        for (const [cmd, args] of [['query-version', undefined], ['__com.vifd_vif-ring-info', { id: 'flood' }]] as const) {
          const t0 = performance.now();
          const r = await qmp.execute(cmd, args);
          latencies.push(performance.now() - t0);
          expect(r).to.have.property('return');
        }
      }
      const sent = (await txBytes()) - before;
      // The guest really flooded: thousands of frames a second went through meanwhile.
      expect(sent / FRAME, 'frames the flood sent in 2 s').to.be.above(20000);
      expect(p99(latencies), `p99 of ${latencies.length} round trips (ms)`).to.be.below(10);
    });

    it('holds the guest to the rate set on its vif, within 10%', async () => {
      // 1 MB per 50 ms: 20 MB/s, far below what the flood offers.
      const bytesPerSecond = 1_000_000 / 0.05;
      expect(await qmp.execute('__com.vifd_xenstore-write', { path: `${BE}/rate`, value: '1000000,50000' }))
        .to.deep.equal({ return: {} });
      await new Promise((r) => setTimeout(r, 500));
      const b0 = await txBytes();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const rate = ((await txBytes()) - b0) / ((performance.now() - t0) / 1000);
      expect(rate / bytesPerSecond, `${(rate / 1e6).toFixed(2)} MB/s against 20 MB/s`).to.be.within(0.9, 1.1);
      // And unlimited again once the key goes.
      await qmp.execute('__com.vifd_xenstore-write', { path: `${BE}/rate`, value: 'unlimited' });
      const b1 = await txBytes();
      await new Promise((r) => setTimeout(r, 500));
      expect(((await txBytes()) - b1) / 0.5, 'bytes/s once the rate no longer parses').to.be.above(bytesPerSecond * 2);
    });
  });
}
