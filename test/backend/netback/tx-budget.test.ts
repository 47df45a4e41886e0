// Netback's work budget, deterministically: a frontend that posts a new request for every frame
// the backend delivers (an endless producer, as fast as the backend itself) gets at most
// TX_BUDGET packets per sweep, and the event loop runs between sweeps.

import { expect } from 'chai';
import { Logger } from '../../../src/common/log.js';
import { newCounters } from '../../../src/backend/netback/counters.js';
import { MulticastList } from '../../../src/backend/netback/mcast.js';
import { NO_RX_FEATURES } from '../../../src/backend/netback/offload.js';
import { acquireQueue } from '../../../src/backend/netback/queue-resources.js';
import { NetbackQueue, TX_BUDGET } from '../../../src/backend/netback/queue.js';
import { UNLIMITED } from '../../../src/backend/netback/tx-credit.js';
import { RX_SLOT_SIZE, TX_SLOT_SIZE, writeTxRequest } from '../../../src/protocol/netif.js';
import { FrontRing, SharedRing } from '../../../src/protocol/ring.js';
import { EmulatedPlatform } from '../../../src/xen/emulated/platform.js';
import { eventually } from '../../helpers/qmp-client.js';

describe('netback\'s tx work budget', () => {
  it(`takes at most ${TX_BUDGET} packets per sweep from a frontend that never stops, letting the event loop in between`, async () => {
    const platform = new EmulatedPlatform();
    const dom = platform.createDomain(1, 'g');
    const ring = (slot: number) => {
      const gfn = dom.memory.allocPage();
      const s = new SharedRing(dom.memory.page(gfn), slot);
      s.init();
      return { s, ref: dom.grants.grantAccess(0, gfn, false) };
    };
    const tx = ring(TX_SLOT_SIZE);
    const rx = ring(RX_SLOT_SIZE);
    const data = dom.grants.grantAccess(0, dom.memory.allocPage(), true);
    const port = platform.channels.allocUnbound(1, 0);
    const held = acquireQueue(platform.grants, platform.evtchn, 1,
      { id: 0, txRef: tx.ref, rxRef: rx.ref, txPort: port, rxPort: port, split: false });
    const front = new FrontRing(tx.s);
    const LIMIT = 20000;
    let produced = 0;
    /** Fills every free slot (the answered ones the backend has published), up to LIMIT requests in all. */
    const refill = (): void => {
      front.rspCons = tx.s.rspProd;
      while (front.freeRequests() > 0 && produced < LIMIT) {
        writeTxRequest(tx.s.view, tx.s.slotOffset(front.reqProdPvt), { gref: data, offset: 0, flags: 0, id: produced & 0xff, size: 60 });
        front.reqProdPvt = (front.reqProdPvt + 1) >>> 0;
        front.pushRequests();
        produced++;
      }
    };
    const perSweep: number[] = [];
    let inSweep = 0;
    let delivered = 0;
    const q = new NetbackQueue(platform.datapath, 1, held.resources, true, {
      // The frontend refills whatever the backend has answered, while the backend is still at work.
      deliver: () => { inSweep++; delivered++; refill(); },
      fatal: (m) => { throw new Error(m); },
      peerVnetHdr: false, rxFeatures: NO_RX_FEATURES, rxWoken: () => undefined,
      txSwept: () => { if (inSweep > 0) perSweep.push(inSweep); inSweep = 0; },
      zeroCopy: null, mcast: new MulticastList(), stats: newCounters(), log: new Logger('test'),
    }, UNLIMITED);
    refill();
    let deliveredWhenTheLoopRan = -1;
    setImmediate(() => { deliveredWhenTheLoopRan = delivered; });
    q.kick();
    await eventually(() => delivered === LIMIT, 10000, `${LIMIT} frames delivered`);
    q.close();
    held.release(() => undefined);
    expect(Math.max(...perSweep)).to.equal(TX_BUDGET);
    expect(deliveredWhenTheLoopRan, 'frames delivered when a turn of the event loop first ran').to.be.within(1, LIMIT - 1);
  });
});
