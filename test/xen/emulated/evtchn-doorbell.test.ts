// The cross-thread doorbell: sends coalesce per port until the receiver drains them, ports come
// out in order, and a worker thread's ring wakes a listener on this thread's event loop.

import { expect } from 'chai';
import { Worker } from 'node:worker_threads';
import { Doorbell } from '../../../src/xen/emulated/evtchn-doorbell.js';

describe('event channel doorbell', () => {
  it('coalesces repeated rings of a port and drains every pending port once, in order', () => {
    const bell = new Doorbell();
    for (const port of [4095, 7, 33, 7, 1, 33, 1024]) bell.ring(port);
    const seen: number[] = [];
    bell.drain((p) => seen.push(p));
    expect(seen).to.deep.equal([1, 7, 33, 1024, 4095]);
    bell.drain((p) => seen.push(p));
    expect(seen).to.have.length(5);
  });

  it('refuses port 0 and ports beyond the 2-level ABI', () => {
    const bell = new Doorbell();
    expect(() => bell.ring(0)).to.throw(RangeError);
    expect(() => bell.ring(4096)).to.throw(RangeError);
    expect(() => new Doorbell(new SharedArrayBuffer(8))).to.throw(RangeError, /doorbell is/);
  });

  it('a ring during an upcall is delivered again rather than lost', async () => {
    const bell = new Doorbell();
    const seen: number[] = [];
    const l = bell.listen((p) => {
      seen.push(p);
      if (seen.length === 1) bell.ring(p);
    });
    bell.ring(9);
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 2));
    l.stop();
    expect(seen).to.deep.equal([9, 9]);
  });

  it('wakes a listener here when a worker thread rings, and the worker when this thread rings', async () => {
    const here = new Doorbell();
    const there = new Doorbell();
    // The worker answers each port it hears with the port + 1000, ten times, then stops. A
    // pending Atomics.waitAsync keeps no thread alive: the port's listener does.
    const worker = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ Doorbell }) => {
        const inbox = new Doorbell(workerData.there), outbox = new Doorbell(workerData.here);
        parentPort.on('message', () => undefined);
        let n = 0;
        const l = inbox.listen((p) => { outbox.ring(p + 1000); if (++n === 10) { l.stop(); parentPort.close(); } });
        parentPort.postMessage('ready');
      });`, { eval: true, workerData: { here: here.buffer, there: there.buffer,
      module: new URL('../../../src/xen/emulated/evtchn-doorbell.js', import.meta.url).href } });
    await new Promise((r) => worker.once('message', r));
    const answers: number[] = [];
    let next = 1;
    await new Promise<void>((done) => {
      const l = here.listen((p) => {
        answers.push(p);
        if (answers.length === 10) {
          l.stop();
          done();
        } else {
          there.ring(++next);
        }
      });
      there.ring(next);
    });
    await worker.terminate();
    expect(answers).to.deep.equal(Array.from({ length: 10 }, (_, i) => 1001 + i));
  });
});
