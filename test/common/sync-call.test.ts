// Synchronous calls into a worker: values come back, errors keep their message and code, and a
// worker that does not answer costs the caller a bounded wait and a clear error; the late reply
// is then dropped instead of answering the next call.

import { expect } from 'chai';
import { MessageChannel, Worker } from 'node:worker_threads';
import { SyncCaller, SyncCallError } from '../../src/common/sync-call.js';

interface TestOps {
  [op: string]: { args: unknown; result: unknown };
  add: { args: { a: number; b: number }; result: number };
  fail: { args: { what: string }; result: never };
  slow: { args: { ms: number }; result: string };
}

describe('synchronous calls into a worker thread', () => {
  let worker: Worker;
  let caller: SyncCaller<TestOps>;

  before(async () => {
    const requests = new MessageChannel();
    const replies = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    worker = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ serveSyncCalls }) => {
        serveSyncCalls(workerData.requests, workerData.replies, workerData.flag, {
          add: (args) => args.a + args.b,
          fail: (args) => { const e = new Error('no such thing: ' + args.what); e.code = 'ENOENT'; throw e; },
          slow: (args) => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, args.ms); return 'late'; },
        });
        parentPort.postMessage('ready');
      });`, { eval: true, workerData: { requests: requests.port2, replies: replies.port2, flag,
      module: new URL('../../src/common/sync-call.js', import.meta.url).href },
    transferList: [requests.port2, replies.port2] });
    await new Promise((r) => worker.once('message', r));
    caller = new SyncCaller(requests.port1, replies.port1, flag, 'the test worker');
  });
  after(() => worker?.terminate());

  it('returns what the worker returned', () => {
    expect(caller.call('add', { a: 2, b: 40 }, 1000)).to.equal(42);
  });

  it('refuses an operation the worker does not serve, naming it', () => {
    expect(() => caller.call('nope', {}, 1000)).to.throw(SyncCallError, 'unknown operation nope');
  });

  it('throws the worker\'s error with its message and code', () => {
    let err: unknown;
    try {
      caller.call('fail', { what: 'x' }, 1000);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SyncCallError);
    expect(err).to.include({ message: 'no such thing: x', code: 'ENOENT' });
  });

  it('gives up after the timeout naming the peer, then drops the late reply', () => {
    const t0 = Date.now();
    expect(() => caller.call('slow', { ms: 300 }, 50)).to.throw(SyncCallError, 'slow: the test worker did not answer within 50 ms');
    expect(Date.now() - t0).to.be.lessThan(250);
    // The next call waits behind the slow one and gets its own answer, not 'late'.
    expect(caller.call('add', { a: 1, b: 1 }, 2000)).to.equal(2);
  });
});
