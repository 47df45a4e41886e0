// Batched tap I/O on real taps in a namespace of their own (the scenarios run in
// test/fixtures/tap-batch.ts): many frames per native call both ways, a batch that stops at
// the first failed write, EAGAIN as back-pressure, bounded reads, and the tap client handing
// a wake-up's frames to its receiver as one batch.

import { expect } from 'chai';
import { type FixtureSteps, runFixtureSteps } from '../../helpers/fixture-steps.js';
import { NetNs } from '../../helpers/netns.js';

type Tagged = Array<[number, number]>;

describe('batched tap I/O (native tapWriteGather, uringWriteGather, tapReadBatch, tapPollBatch)', function () {
  this.timeout(60000);
  let ns: NetNs;
  let r: FixtureSteps;

  before(() => {
    ns = NetNs.create();
    r = runFixtureSteps(ns, 'tap-batch', [], { timeoutMs: 40000 });
  });
  after(() => ns?.destroy());

  it('writes a whole batch of frames of different sizes in one call, in order', () => {
    r.expect('write a whole batch').to.deep.equal({ sent: 5, errno: 0, read: [[0, 60], [1, 1514], [2, 64], [3, 800], [4, 100]] });
  });

  it('stops a batch at the first frame the tap refuses and says why', () => {
    r.expect('stop a batch at a refused frame').to.deep.equal({ sent: 2, errno: 22, read: [[10, 60], [11, 60]] });
  });

  it('reads at most as many frames as it has lengths for, and only while the largest frame still fits', () => {
    const read = 'read within bounds';
    r.expect(read, 'first').to.equal(2);
    r.expect(read, 'roomForOne').to.equal(1);
    const b = r.value(read);
    const tags = [...b.firstTags, ...b.oneTags, ...b.rest] as Tagged;
    expect(tags, `${read} (firstTags, oneTags, rest)`).to.deep.equal([20, 21, 22, 23, 24, 25].map((t) => [t, 100]));
    r.expect(read, 'empty').to.equal(-11);
  });

  it('has the writer drop a refused frame and still write the ones after it', () => {
    r.expect('drop a refused frame in the writer').to.deep.equal({ pendingBefore: 3, dropped: 1, errors: [22], read: [[30, 60], [32, 60]],
      pendingAfter: 0 });
  });

  it('has the writer flush by itself once the callback that queued frames is over', () => {
    r.expect('flush the writer once its callback is over').to.deep.equal({ sync: [], after: [[40, 60], [41, 60]] });
  });

  it('treats EAGAIN as back-pressure: what went is reported, the rest of the batch is dropped', () => {
    const e = r.value('meet EAGAIN');
    r.expect('meet EAGAIN', 'errno').to.equal(e.EAGAIN);
    r.expect('meet EAGAIN', 'sent').to.be.greaterThan(0).and.lessThan(100);
    r.expect('meet EAGAIN', 'inPipe').to.equal(e.sent * 1000);
    r.expect('meet EAGAIN', 'writerDropped').to.equal(100 - e.sent);
    r.expect('meet EAGAIN', 'writerTotal').to.equal(e.writerDropped);
    // No error reported for it: the writer's error list is still the one refused frame's above.
    r.expect('meet EAGAIN', 'writerErrors').to.deep.equal([22]);
  });

  it('hands every frame pending at a wake-up to JS in one callback', () => {
    r.expect('poll a wake-up\'s frames').to.deep.equal([[50, 51, 52, 53, 54, 55, 56, 57].map((t) => [t, 200])]);
  });

  it('sends through a tap client in one batch and receives a batch with every frame but the last marked more', () => {
    r.expect('send and receive a batch through tap clients').to.deep.equal({ accepted: [true, true, true, true, true], dropped: 0, txDropped: 0,
      received: [[60, true], [61, true], [62, true], [63, true], [64, false]] });
  });

  it('keeps its own copy of each frame it holds: one buffer rewritten between sends still gives every frame', () => {
    r.expect('keep a copy of each lent frame').to.deep.equal([70, 71, 72, 73, 74]);
  });

  it('writes frames from where they lie in shared memory, in order with copied ones, after the vnet header if any', () => {
    const sizes = [60, 1514, 200, 900, 1200, 64];
    r.expect('collect the frames written from guest memory', 'received').to.deep.equal([
      ...sizes.map((size, i) => [80 + i, size, true]),
      ...sizes.map((size, i) => [90 + i, size, true]),
    ]);
    r.expect('collect the frames written from guest memory', 'txDropped').to.deep.equal([0, 0]);
    r.expect('write a frame that lies outside the memory').to.equal('RangeError: tapWriteGather: a frame lies outside the memory');
  });

  it('drops only the frame the tap refuses in a gathered batch, through an io_uring or one writev() each', () => {
    const ring = r.value('refuse a frame in a gathered batch through an io_uring');
    // Where the kernel refuses io_uring the first batch goes one writev() each too, with the same result.
    r.expect('refuse a frame in a gathered batch through an io_uring')
      .to.deep.equal({ ringed: ring.ringed, got: [100, 101, 103], dropped: 1, errs: [22] });
    r.expect('refuse a frame in a gathered batch by writev()').to.deep.equal({ ringed: false, got: [110, 111, 113], dropped: 1, errs: [22] });
    if (process.env['VIFD_TEST_VERBOSE']) process.stderr.write(`io_uring: ${ring.ringed}\n`);
  });

  it('lends received frames from its read buffer, a vnet tap\'s data at NET_IP_ALIGN modulo 8', () => {
    r.expect('lend received frames aligned').to.deep.equal([[120, 2], [121, 2], [122, 2], [123, 2]]);
  });
});
